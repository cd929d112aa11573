"""Paper Table 6: what each layer knows, measured by linear probes.

For every layer l of conv1-conv5, fc6 (when present) and fc7, a linear SVM
is trained on layer-l features of N images per class and tested on up to
M others per class; a softmax (multinomial logistic regression) probe is
trained on conv5 and fc7 too. The score is the mean per-class accuracy,
mean ± std over random stratified folds (`zfkeras.analysis.protocol.folds`).

Probes (scikit-learn, nothing written by hand):

* SVM: ``Pipeline(StandardScaler, LinearSVC)``; C chosen by `GridSearchCV`
  (stratified 3-fold, or fewer when N < 3) on each fold's training part
  only, so the test images never influence it.
* Softmax: ``Pipeline(StandardScaler, LogisticRegression(C=1))``.

Conv maps are reduced by `zfkeras.features` (2x2 max pooling by default:
each feature is a unit's strongest response in one quadrant), so every
conv layer gives ``4 x channels`` features.

By default the probes use the run's own test split (images it never
trained on); ``target`` takes the same targets as transfer (digits, class
folders, ``tfds:NAME``), e.g. Caltech-101 to match the paper's setting.
"""

import dataclasses
import html
import time
import warnings

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.protocol.folds import fold_scores, stratified_folds
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable
from zfkeras.utils.errors import InputError
from zfkeras.utils.progress import progress_bar

PROBE_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
SOFTMAX_LAYERS = ("conv5", "fc7")
# Standardised features at N <= 60 per class: accuracy falls as C grows
# beyond 1e-3 on every layer we measured, while liblinear's time grows
# 10x from C=0.01 to C=1; the grid stops at 0.01.
SVM_C_GRID = (1e-4, 1e-3, 1e-2)
# Paper Table 6 (ECCV): (Caltech-101 at 30/class, Caltech-256 at 60/class), %.
PAPER_TABLE6 = {
    ("SVM", "conv1"): (44.8, 24.6), ("SVM", "conv2"): (66.2, 39.6),
    ("SVM", "conv3"): (72.3, 46.0), ("SVM", "conv4"): (76.6, 51.3),
    ("SVM", "conv5"): (86.2, 65.6), ("SVM", "fc7"): (85.5, 71.7),
    ("Softmax", "conv5"): (82.9, 65.7), ("Softmax", "fc7"): (85.4, 72.6),
}
INPUTS = TRAINED_MODEL
CSV_NAME, PLOT_NAME = "table6_probes", "table6_probes_by_depth.png"


@dataclasses.dataclass
class ProbeResult:
    """One probe on one layer: its fold scores and feature size."""

    probe: str  # "SVM" or "Softmax"
    layer: str
    dim: int
    scores: object  # FoldScores


def default_layers(model):
    """The Table 6 layers the model has (conv1-conv5, fc6, fc7)."""
    names = {layer.name for layer in model.layers}
    found = [name for name in PROBE_LAYERS if name in names]
    if not found:
        raise InputError(
            f"model {model.name!r} has none of the layers {list(PROBE_LAYERS)}; pass layers=[...] "
            f"naming some of its layers: {[layer.name for layer in model.layers]}"
        )
    return found


def svm_probe(train_per_class, seed=0):
    """Linear SVM with C chosen by cross-validation on the training part."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    pipeline = Pipeline([("scale", StandardScaler()), ("svm", LinearSVC(max_iter=2000, random_state=seed))])
    if train_per_class < 2:  # one image per class leaves nothing to validate C on
        return pipeline.set_params(svm__C=1e-3)
    cv = StratifiedKFold(min(3, train_per_class), shuffle=True, random_state=seed)
    return GridSearchCV(pipeline, {"svm__C": list(SVM_C_GRID)}, cv=cv, scoring="balanced_accuracy")


def softmax_probe(seed=0):
    """Multinomial logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("softmax", LogisticRegression(C=1.0, max_iter=1000, random_state=seed))])


def _chosen_c(fitted):
    return getattr(fitted, "best_params_", {}).get("svm__C", 1e-3)


def probe_features(feature_sets, labels, train_per_class=30, test_per_class=50, folds=5, seed=0,
                   softmax_layers=SOFTMAX_LAYERS, verbose="auto"):
    """Runs the SVM probe on every feature set and softmax on some.

    Args:
        feature_sets: dict layer name -> ``(N, D)`` features (in order).
        labels: ``(N,)`` int labels.
        train_per_class, test_per_class, folds, seed: the fold protocol.
        softmax_layers: layers that also get a softmax probe.
        verbose: a progress bar over the fits: 0, 1 or "auto" (Keras' ``verbose``).

    Returns:
        list of `ProbeResult`, SVMs first (in layer order), then softmax.
    """
    from sklearn.exceptions import ConvergenceWarning

    splits = stratified_folds(labels, train_per_class, test_per_class, folds, seed)
    jobs = [("SVM", name) for name in feature_sets]
    jobs += [("Softmax", name) for name in softmax_layers if name in feature_sets]
    bar = progress_bar(len(jobs) * len(splits), verbose, "fit")
    results = []
    for probe, name in jobs:
        classifier = svm_probe(train_per_class, seed) if probe == "SVM" else softmax_probe(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores = fold_scores(
                classifier, feature_sets[name], labels, splits, seed,
                on_fold=(lambda: bar.add(1)) if bar else None,
                describe=_chosen_c if probe == "SVM" else None,
            )
        results.append(ProbeResult(probe, name, int(feature_sets[name].shape[1]), scores))
    return results


def probe_run(run, layers=None, target="test", per_class=30, test_per_class=50, folds=5, seed=0,
              pool="max", batch_size=128, verbose="auto", data_dir=None, manual_dir=None):
    """Table 6 for a run: features of each layer, then the probes.

    Args:
        run: a `RunFolder`.
        layers: layer names (default: `default_layers`).
        target: ``"test"``, ``"digits"``, a class folder or ``"tfds:NAME"``
            (see `zfkeras.analysis.protocol.targets`).
        per_class, test_per_class, folds, seed: the fold protocol.
        pool: conv-map reduction of `zfkeras.features` (``"max"``, ``"avg"``
            or None for raw maps).
        batch_size: images per forward pass.
        verbose: 0 (quiet), 1 (progress bars) or "auto" (bars over long loops), as Keras' ``verbose``.
        data_dir, manual_dir: TFDS folders for ``tfds:NAME`` targets.

    Returns:
        ``(results, meta)``: list of `ProbeResult` and a dict describing
        how they were made (data, counts, seeds, seconds).
    """
    from zfkeras.analysis.protocol.targets import load_target
    from zfkeras.methods.features import features

    start, cpu_start = time.perf_counter(), time.process_time()
    model = run.load_model()
    layers = list(layers) if layers else default_layers(model)
    unknown = [name for name in layers if name not in {layer.name for layer in model.layers}]
    if unknown:
        raise InputError(f"layers {unknown} are not in model {model.name!r}; choose among "
                         f"{[layer.name for layer in model.layers]}")
    data = load_target(target, run, per_class + test_per_class, seed, data_dir, manual_dir)
    feats = features(model, run.preprocess(data.images), layers, pool=pool, batch_size=batch_size,
                     verbose=verbose)
    feats = feats if isinstance(feats, dict) else {layers[0]: feats}
    results = probe_features(feats, data.labels, per_class, test_per_class, folds, seed, verbose=verbose)
    meta = {
        "target": target, "data": data.description, "images": int(len(data.labels)),
        "classes": len(np.unique(data.labels)), "train_per_class": per_class,
        "test_per_class": test_per_class, "folds": folds, "seed": seed, "pool": pool,
        "svm_c_grid": list(SVM_C_GRID), "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(time.process_time() - cpu_start, 1),
        "cpu": machine.cpu_model(),
    }
    return results, meta


def table_rows(results, meta):
    """CSV rows (raw numbers) and display rows (formatted) of Table 6."""
    csv_rows, shown = [], []
    for r in results:
        paper = PAPER_TABLE6.get((r.probe, r.layer), ("", ""))
        chosen = ";".join(f"{c:g}" for c in r.scores.details)
        csv_rows.append([
            r.probe, r.layer, r.dim, f"{100 * r.scores.mean:.2f}", f"{100 * r.scores.std:.2f}",
            ";".join(f"{100 * s:.2f}" for s in r.scores.scores), meta["train_per_class"],
            meta["test_per_class"], meta["folds"], meta["seed"], chosen, paper[0], paper[1],
        ])
        shown.append([f"{r.probe} ({r.layer})", r.dim, r.scores.as_percent(),
                      paper[0] or "—", paper[1] or "—"])
    return csv_rows, shown


CSV_HEADER = ["probe", "layer", "features", "mean_per_class_accuracy_pct", "std_pct", "fold_scores_pct",
              "train_per_class", "test_per_class", "folds", "seed", "svm_C_per_fold",
              "paper_caltech101_30pc", "paper_caltech256_60pc"]
SHOWN_HEADER = ["Probe (layer)", "features", "ours: mean ± std %", "paper Cal-101 (30/class)",
                "paper Cal-256 (60/class)"]


def write_table6(results, meta, out_dir, command=""):
    """Writes table6_probes.csv/.md and the accuracy-vs-depth plot.

    Returns:
        ``(files, shown_rows, notes)``: names written (relative to
        ``out_dir``), the formatted rows and the notes under the table.
    """
    csv_rows, shown = table_rows(results, meta)
    notes = [
        f"Data: {meta['data']}; {meta['train_per_class']} training and up to {meta['test_per_class']} "
        f"test images per class, {meta['folds']} random stratified folds (seeds {meta['seed']}.."
        f"{meta['seed'] + meta['folds'] - 1}); mean per-class accuracy ± std over folds.",
        f"Conv maps: 2x2 {meta['pool']} pooling; SVM C from {meta['svm_c_grid']} by cross-validation "
        "on each training part. Paper numbers: ImageNet-trained ZFNet on Caltech (orientation only).",
        f"Computed in {meta['seconds']} s wall ({meta['cpu_seconds']} s CPU, all threads) on {meta['cpu']}." + (f" Command: `{command}`" if command else ""),
    ]
    tables.write_table(out_dir, CSV_NAME, CSV_HEADER, csv_rows, SHOWN_HEADER, shown,
                       "Table 6: linear probes per layer", notes)
    plot_depth(results, f"{out_dir}/{PLOT_NAME}", meta)
    return [f"{CSV_NAME}.csv", f"{CSV_NAME}.md", PLOT_NAME], shown, notes


def plot_depth(results, path, meta):
    """Accuracy against layer depth: ours (± std) and the paper's."""
    plt = figures.pyplot()
    svm = [r for r in results if r.probe == "SVM"]
    x = np.arange(len(svm))
    names = [r.layer for r in svm]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.errorbar(x, [100 * r.scores.mean for r in svm], [100 * r.scores.std for r in svm],
                marker="o", capsize=3, label=f"ours, linear SVM ({meta['target']})")
    for r in results:
        if r.probe == "Softmax":
            ax.errorbar(names.index(r.layer), 100 * r.scores.mean, 100 * r.scores.std, marker="s",
                        color="C3", capsize=3, linestyle="none",
                        label="ours, softmax" if r.layer == SOFTMAX_LAYERS[0] else None)
    for column, label, style in ((0, "paper Caltech-101, SVM", "--"), (1, "paper Caltech-256, SVM", ":")):
        points = [(i, PAPER_TABLE6[("SVM", n)][column]) for i, n in enumerate(names) if ("SVM", n) in PAPER_TABLE6]
        if points:
            ax.plot(*zip(*points), style, color="grey", marker=".", label=label)
    ax.set_xticks(x, names)
    figures.save_accuracy_plot(
        fig, ax, "layer", f"Table 6: probes by depth ({meta['train_per_class']}/class, {meta['folds']} folds)", path)


def report_section(run, out_dir, verbose="auto", *, target="test", per_class=30, test_per_class=50, folds=5, seed=0,
                   pool="max"):
    """Table 6 and the depth plot for the report: the paper's 30/class, 50 tested (parameters: `probe_run`)."""
    model_path = run.model_path
    if not model_path.exists():
        raise SectionUnavailable(f"{model_path} is missing: training has not finished; rerun zfkeras train with the same --run-dir")
    results, meta = probe_run(run, target=target, per_class=per_class, test_per_class=test_per_class, folds=folds,
                              seed=seed, pool=pool, verbose=verbose)
    command = (f"zfkeras probe {run.path} --target {target} --per-class {per_class} "
               f"--test-per-class {test_per_class} --folds {folds} --seed {seed}")
    files, shown, notes = write_table6(results, meta, str(out_dir), command)
    caption = (
        "Paper Table 6: a linear SVM (and a softmax on conv5, fc7) trained on each layer's features. "
        f"Model: {figures.run_description(run)}. " + " ".join(html.escape(n.replace('`', '')) for n in notes)
        + f" {machine.measured_on()}"
    )
    body = (figures.html_table(SHOWN_HEADER, shown) + figures.img_html(PLOT_NAME, "accuracy by depth")
            + f'<p><a href="{CSV_NAME}.csv">{CSV_NAME}.csv</a> · <a href="{CSV_NAME}.md">{CSV_NAME}.md</a></p>')
    return Section("table6", "Table 6: what each layer knows (linear probes)", caption, body, files)
