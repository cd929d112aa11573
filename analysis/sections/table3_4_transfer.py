"""Paper Tables 3, 4 and the one-shot curve: transfer with few examples.

Layers 1-7 of the trained model are kept fixed: every target image is run
through them once and the penultimate layer's activations (fc7 for the
ZFNet family: the input of the last Dense layer) become its features. A new
softmax (`LogisticRegression` on standardised features, fit by L-BFGS to
convergence) is trained on N images per class and tested on up to 50 others
per class; mean per-class accuracy ± std over random folds
(`zfkeras.analysis.protocol.folds`).

The "non-pretrained" baseline trains the same architecture (the model
cloned with fresh initial weights, its output layer replaced by a C-way
softmax) from scratch on the same images of the same folds, with the run's
recipe (SGD, learning rate 1e-2, momentum 0.9) for a fixed number of
``scratch_steps`` steps of batch ``min(32, N*C)`` -- the budget, recorded in
every table. The default target is scikit-learn's digits
(`zfkeras.analysis.protocol.targets`).
"""

import dataclasses
import html
import math
import re
import time
import warnings

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.protocol.folds import FoldScores, fold_scores, mean_per_class_accuracy, stratified_folds
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable
from zfkeras.utils.progress import progress_bar

DEFAULT_PER_CLASS = (1, 2, 5, 10, 15, 30)
SCRATCH_BATCH = 32
SCRATCH_LEARNING_RATE, SCRATCH_MOMENTUM = 0.01, 0.9
# Paper (N per class -> (pretrained, non-pretrained), %): Caltech-101
# (Table 3) and Caltech-256 (Table 4).
PAPER_CALTECH101 = {15: ("83.8 ± 0.5", "22.8 ± 1.5"), 30: ("86.5 ± 0.5", "46.5 ± 1.7")}
PAPER_CALTECH256 = {15: ("65.7 ± 0.2", "9.0 ± 1.4"), 30: ("70.6 ± 0.2", "22.5 ± 0.7"),
                    45: ("72.7 ± 0.4", "31.2 ± 0.5"), 60: ("74.2 ± 0.3", "38.8 ± 1.4")}
INPUTS = TRAINED_MODEL


@dataclasses.dataclass
class TransferRow:
    """Scores for one N: the fixed-feature softmax and the scratch net."""

    per_class: int
    pretrained: FoldScores
    scratch: FoldScores = None


def feature_layer(model):
    """Name of the layer whose output feeds the model's output layer's
    Dense input: the last Dense layer before the output (fc7), else the
    layer just before the output."""
    import keras

    dense = [layer for layer in model.layers[:-1] if isinstance(layer, keras.layers.Dense)]
    if dense:
        return dense[-1].name
    if len(model.layers) < 2:
        raise ValueError(f"model {model.name!r} has no layer before its output to take features from")
    return model.layers[-2].name


def softmax_classifier(seed=0):
    """The new softmax trained on the fixed features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("softmax", LogisticRegression(C=1.0, max_iter=1000, random_state=seed))])


class ScratchTrainer:
    """Trains the model's architecture from scratch on each fold's images.

    One clone is built and compiled once; every fold restores its initial
    weights and optimizer state, so all folds start from the same point
    and the training graph is traced once.

    Args:
        model: the trained model (only its architecture is used).
        num_classes: classes of the target.
        steps: SGD steps per fold (the budget).
        seed: seed of the initial weights and batch order.
    """

    def __init__(self, model, num_classes, steps, seed=0):
        import keras

        keras.utils.set_random_seed(seed)
        clone = keras.models.clone_model(model)  # same layers, fresh initial weights
        features = clone.layers[-1].input
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="new_softmax")(features)
        self.model = keras.Model(clone.inputs, outputs, name=f"{model.name}_scratch")
        self.model.compile(
            keras.optimizers.SGD(SCRATCH_LEARNING_RATE, momentum=SCRATCH_MOMENTUM),
            "sparse_categorical_crossentropy", jit_compile=False,
        )
        self.model.optimizer.build(self.model.trainable_variables)
        self._weights = self.model.get_weights()
        self._optimizer_state = [v.numpy() for v in self.model.optimizer.variables]
        self.steps, self.seed = int(steps), seed

    def score(self, images, labels, train, test):
        """Trains on ``images[train]`` from the initial state, scores on ``test``."""
        self.model.set_weights(self._weights)
        for variable, value in zip(self.model.optimizer.variables, self._optimizer_state):
            variable.assign(value)
        batch = min(SCRATCH_BATCH, len(train))
        rng = np.random.RandomState(self.seed)
        order = np.concatenate([rng.permutation(train) for _ in range(math.ceil(self.steps * batch / len(train)) + 1)])
        for step in range(self.steps):
            chunk = order[step * batch:(step + 1) * batch]
            self.model.train_on_batch(images[chunk], labels[chunk])
        predicted = self.model.predict(images[test], batch_size=256, verbose=0).argmax(axis=1)
        return mean_per_class_accuracy(labels[test], predicted)


def transfer_scores(model, images, labels, per_class=DEFAULT_PER_CLASS, test_per_class=50, folds=5, seed=0,
                    scratch_steps=100, layer=None, batch_size=128, verbose="auto"):
    """Fixed-feature softmax (and scratch baseline) for each N per class.

    Args:
        model: the trained Keras model.
        images: preprocessed float32 inputs ``(N, H, W, C)`` of the target.
        labels: ``(N,)`` int labels.
        per_class: list of N (training images per class).
        test_per_class, folds, seed: the fold protocol.
        scratch_steps: SGD steps of the from-scratch baseline; 0 skips it.
        layer: feature layer (default `feature_layer`).
        batch_size: images per forward pass.
        verbose: 0 (quiet), 1 (progress bars) or "auto" (bars over long loops), as Keras' ``verbose``.

    Returns:
        list of `TransferRow`, one per N.
    """
    from zfkeras.methods.features import features
    from sklearn.exceptions import ConvergenceWarning

    per_class = sorted({int(n) for n in per_class})
    # Fail on the largest N before any work is done.
    stratified_folds(labels, per_class[-1], test_per_class, folds, seed)
    layer = layer or feature_layer(model)
    feats = features(model, images, layer, pool=None, batch_size=batch_size, verbose=verbose)
    labels = np.asarray(labels)
    classes = np.unique(labels)
    # The scratch net's softmax needs labels 0..C-1.
    dense_labels = np.searchsorted(classes, labels)
    trainer = ScratchTrainer(model, len(classes), scratch_steps, seed) if scratch_steps else None
    bar = progress_bar(len(per_class) * folds, verbose, "fold")
    rows = []
    for n in per_class:
        splits = stratified_folds(labels, n, test_per_class, folds, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pretrained = fold_scores(softmax_classifier(seed), feats, labels, splits, seed)
        scratch = None
        if trainer is not None:
            scratch = FoldScores([trainer.score(images, dense_labels, tr, te) for tr, te in splits], seed)
        rows.append(TransferRow(n, pretrained, scratch))
        if bar is not None:
            bar.add(folds)
    return rows


def transfer_run(run, target="digits", per_class=DEFAULT_PER_CLASS, test_per_class=50, folds=5, seed=0,
                 scratch_steps=100, layer=None, verbose="auto", data_dir=None, manual_dir=None):
    """Tables 3-4 for a run on a target (see `zfkeras.analysis.protocol.targets`).

    Returns:
        ``(rows, meta)``: list of `TransferRow` and a dict of how they were
        made (data, layer, budget, seeds, seconds, CPU).
    """
    from zfkeras.analysis.protocol.targets import load_target

    start, cpu_start = time.perf_counter(), time.process_time()
    model = run.load_model()
    data = load_target(target, run, max(per_class) + test_per_class, seed, data_dir, manual_dir)
    layer = layer or feature_layer(model)
    rows = transfer_scores(model, run.preprocess(data.images), data.labels, per_class, test_per_class, folds,
                           seed, scratch_steps, layer, verbose=verbose)
    meta = {
        "target": target, "data": data.description, "images": int(len(data.labels)),
        "classes": int(len(np.unique(data.labels))), "layer": layer, "test_per_class": test_per_class,
        "folds": folds, "seed": seed, "scratch_steps": scratch_steps,
        "scratch_budget": (f"{scratch_steps} SGD steps (batch min({SCRATCH_BATCH}, N x classes), "
                           f"lr {SCRATCH_LEARNING_RATE}, momentum {SCRATCH_MOMENTUM}) from fresh weights")
        if scratch_steps else "not run",
        "skipped_files": len(data.skipped), "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu_start, 1),
        "cpu": machine.cpu_model(),
    }
    return rows, meta


def file_stem(target):
    """``transfer_<target>``, the target reduced to a safe file-name part."""
    name = target.rstrip("/").split("/")[-1] if target not in ("digits", "test") else target
    return "transfer_" + (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "target")


HEADER = ["per_class", "pretrained_mean_pct", "pretrained_std_pct", "pretrained_folds_pct",
          "scratch_mean_pct", "scratch_std_pct", "scratch_folds_pct", "test_per_class", "folds", "seed",
          "scratch_steps", "feature_layer"]
SHOWN = ["train images / class", "fixed layers 1-7 + new softmax (%)", "from scratch (%)",
         "paper Cal-101 pretr. / scratch", "paper Cal-256 pretr. / scratch"]


def write_transfer(rows, meta, out_dir, command=""):
    """Writes ``transfer_<target>.csv/.md`` and the curve PNG.

    Returns:
        ``(files, shown_rows, notes)``.
    """
    stem = file_stem(meta["target"])
    folds_pct = lambda s: ";".join(f"{100 * v:.2f}" for v in s.scores)  # noqa: E731
    csv_rows, shown = [], []
    for r in rows:
        s = r.scratch
        csv_rows.append([r.per_class, f"{100 * r.pretrained.mean:.2f}", f"{100 * r.pretrained.std:.2f}",
                         folds_pct(r.pretrained), "" if s is None else f"{100 * s.mean:.2f}",
                         "" if s is None else f"{100 * s.std:.2f}", "" if s is None else folds_pct(s),
                         meta["test_per_class"], meta["folds"], meta["seed"], meta["scratch_steps"], meta["layer"]])
        paper = [" / ".join(p[r.per_class]) if r.per_class in p else "—" for p in (PAPER_CALTECH101, PAPER_CALTECH256)]
        shown.append([r.per_class, r.pretrained.as_percent(), "—" if s is None else s.as_percent(), *paper])
    notes = [
        f"Target: {meta['data']}; up to {meta['test_per_class']} test images per class; {meta['folds']} random "
        f"stratified folds (seeds {meta['seed']}..{meta['seed'] + meta['folds'] - 1}); mean per-class accuracy ± std.",
        f"Features: `{meta['layer']}` of the trained model (layers below it fixed); new softmax: "
        "LogisticRegression on standardised features (L-BFGS to convergence).",
        f"From scratch: same architecture, fresh weights, same images, {meta['scratch_budget']}.",
        f"Computed in {meta['seconds']} s wall ({meta['cpu_seconds']} s CPU, all threads) on {meta['cpu']}." + (f" Command: `{command}`" if command else ""),
        "Paper numbers: ImageNet-trained ZFNet on Caltech-101/256 (orientation only).",
    ]
    files = tables.write_table(out_dir, stem, HEADER, csv_rows, SHOWN, shown, "Transfer with few examples", notes)
    plot_curve(rows, meta, f"{out_dir}/{stem}_curve.png")
    return files + [f"{stem}_curve.png"], shown, notes


def plot_curve(rows, meta, path):
    """Accuracy against training images per class (paper Fig. 8 layout)."""
    plt = figures.pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    n = [r.per_class for r in rows]
    ax.errorbar(n, [100 * r.pretrained.mean for r in rows], [100 * r.pretrained.std for r in rows],
                marker="o", capsize=3, label=f"fixed {meta['layer']} + softmax")
    if rows and rows[0].scratch is not None:
        ax.errorbar(n, [100 * r.scratch.mean for r in rows], [100 * r.scratch.std for r in rows],
                    marker="s", capsize=3, label=f"from scratch ({meta['scratch_steps']} steps)")
    ax.axhline(100 / meta["classes"], color="grey", linestyle=":", label="chance")
    ax.set_xscale("log")
    ax.set_xticks(n, [str(v) for v in n])
    figures.save_accuracy_plot(fig, ax, "training images per class",
                               f"Transfer to {meta['target']} ({meta['folds']} folds)", path)


def report_section(run, out_dir, verbose="auto", *, target="digits", per_class=(1, 5, 10, 30), test_per_class=50,
                   folds=3, seed=0, scratch_steps=40):
    """The transfer table and curve at the report's reduced budget.

    The parameters are those of `transfer_run`, reduced (the paper's protocol is 5 folds and the full list of
    N; see docs/PROBES.md for the timing).
    """
    if not run.model_path.exists():
        raise SectionUnavailable(f"{run.model_path} is missing: training has not finished")
    rows, meta = transfer_run(run, target, per_class, test_per_class, folds, seed, scratch_steps,
                              verbose=verbose)
    command = (f"zfkeras transfer {run.path} --target {target} --per-class {' '.join(map(str, per_class))} "
               f"--folds {folds} --scratch-steps {scratch_steps}")
    files, shown, notes = write_transfer(rows, meta, str(out_dir), command)
    stem = file_stem(target)
    caption = (
        "Paper Tables 3-4 and the one-shot curve: the trained layers kept fixed, a new softmax on N images "
        f"per class, against the same net trained from scratch. Model: {figures.run_description(run)}. "
        "Reduced for the report (the full protocol is 5 folds, N = 1, 2, 5, 10, 15, 30, 100 scratch steps): "
        f"{folds} folds, N = {', '.join(map(str, per_class))}, {scratch_steps} scratch steps. "
        + " ".join(html.escape(n.replace("`", "")) for n in notes) + f" {machine.measured_on()}"
    )
    body = (figures.html_table(SHOWN, shown) + figures.img_html(f"{stem}_curve.png", "transfer curve")
            + f'<p><a href="{stem}.csv">{stem}.csv</a> · <a href="{stem}.md">{stem}.md</a></p>')
    return Section("table3_4_transfer", "Tables 3-4: transfer with few examples", caption, body, files)
