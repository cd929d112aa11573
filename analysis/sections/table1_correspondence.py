"""Table 1 (arXiv version): correspondence analysis.

The paper masks the left eye, right eye and nose of 5 aligned frontal dog
images and compares the consistency of the feature change with that of
random masks. The Fashion-MNIST stand-in: 5 ankle boots of the test split
closest to their class mean (so that they are aligned: every boot points
left), with 6x6 masks on the toe, the heel and the top of the shaft at
fixed coordinates of the 28x28 image, and random 6x6 masks on the boot as
the control. For other datasets, give your own images and boxes to
`zfkeras.measures.correspondence.correspondence`.
"""

import html

import numpy as np

from zfkeras.analysis.output import figures, machine
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable
from zfkeras.analysis.output.tables import write_table

# (top, left, bottom, right), end-exclusive, on 28x28 Fashion-MNIST ankle boots.
ANKLE_BOOT = 9
PARTS = {
    "toe": (17, 1, 23, 7),
    "heel": (18, 21, 24, 27),
    "shaft top": (3, 15, 9, 21),
}
INPUTS = TRAINED_MODEL
# The paper's Table 1 (mean feature sign change, layer 5 / layer 7).
PAPER = {"right eye": (0.067, 0.069), "left eye": (0.069, 0.068), "nose": (0.079, 0.069), "random": (0.107, 0.073)}


def aligned_images(images, labels, cls, count):
    """The ``count`` images of class ``cls`` closest to the class mean."""
    idx = np.flatnonzero(labels == cls)
    if idx.size < count:
        raise ValueError(f"class {cls} has {idx.size} images; {count} are needed")
    members = images[idx].astype(np.float64)
    dist = ((members - members.mean(axis=0)) ** 2).sum(axis=(1, 2, 3))
    return idx[np.argsort(dist, kind="stable")[:count]]


def object_boxes(images, size, trials, seed):
    """``trials`` sets of random boxes, one per image, each on the object.

    A box is on the object when the image's mean brightness inside it is at
    least half of the image's mean over its bright (> 0) pixels.
    """
    rng = np.random.RandomState(seed)
    n, h, w, _ = images.shape
    out = np.zeros((trials, n, 4), np.int64)
    for i, image in enumerate(images.mean(axis=-1)):
        level = 0.5 * image[image > 0].mean()
        ok = [(t, l) for t in range(h - size + 1) for l in range(w - size + 1)
              if image[t:t + size, l:l + size].mean() >= level]
        picks = rng.randint(0, len(ok), size=trials)
        for trial, p in enumerate(picks):
            t, l = ok[p]
            out[trial, i] = (t, l, t + size, l + size)
    return out


def compute(run, images=5, random_trials=10, seed=0, layers=("conv5", "fc7"), box=6):
    """Sign-change consistency for each part and for the random control.

    `images` aligned ankle boots; the control: a `box` x `box` square on the
    object, `random_trials` draws with `seed`; `layers` those the model has.

    Returns:
        ``(images, {part: {layer: CorrespondenceResult}}, random boxes)``;
        the random control pools the pairs of all trials.
    """
    from zfkeras.measures.correspondence import CorrespondenceResult, correspondence

    if run.config.get("dataset") != "fashion_mnist" or tuple(run.input_shape) != (28, 28, 1):
        raise SectionUnavailable(
            "the default correspondence analysis uses aligned Fashion-MNIST ankle boots at 28x28; for other "
            "data call zfkeras.measures.correspondence.correspondence(model, images, boxes, layers)"
        )
    model = run.load_model()
    names = [layer.name for layer in model.layers]
    wanted = layers
    layers = [name for name in wanted if name in names]
    if not layers:
        raise SectionUnavailable(f"the run's model has none of the layers {list(wanted)}")
    raw, labels = run.load_split("test")
    boots = raw[aligned_images(raw, labels, ANKLE_BOOT, images)].astype(np.float32)
    baseline = 0.0  # the background value: the mask removes the part
    results = {part: correspondence(model, boots, part_box, layers, baseline=baseline, preprocess=run.preprocess)
               for part, part_box in PARTS.items()}
    trials = object_boxes(boots, box, random_trials, seed)
    pooled = {layer: [] for layer in layers}
    for boxes in trials:
        for layer, r in correspondence(model, boots, boxes, layers, baseline=baseline, preprocess=run.preprocess).items():
            pooled[layer].append(r)
    results["random"] = {
        layer: CorrespondenceResult(
            delta=float(np.mean([r.delta for r in rs])),
            pair_fractions=np.concatenate([r.pair_fractions for r in rs]),
            mean=float(np.concatenate([r.pair_fractions for r in rs]).mean()),
            std=float(np.concatenate([r.pair_fractions for r in rs]).std()),
            features=rs[0].features,
        )
        for layer, rs in pooled.items()
    }
    return boots, results, trials


def _plot_masks(images, trials, path):
    plt = figures.pyplot()
    fig, axes = plt.subplots(1, len(images), figsize=(2 * len(images), 2.3))
    colours = {"toe": "tab:red", "heel": "tab:blue", "shaft top": "tab:green"}
    for i, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(images[i, ..., 0], cmap="gray", vmin=0, vmax=255)
        for part, (t, l, b, r) in PARTS.items():
            ax.add_patch(plt.Rectangle((l - 0.5, t - 0.5), r - l, b - t, fill=False, color=colours[part], lw=1.5))
        t, l, b, r = trials[0, i]
        ax.add_patch(plt.Rectangle((l - 0.5, t - 0.5), r - l, b - t, fill=False, color="yellow", ls="--", lw=1))
        ax.axis("off")
    fig.legend(handles=[plt.Line2D([], [], color=c, label=p) for p, c in colours.items()]
               + [plt.Line2D([], [], color="yellow", ls="--", label="random (trial 1)")],
               loc="lower center", ncol=4, fontsize=8)
    figures.save_png(fig, path)


def report_section(run, out_dir, verbose="auto", *, images=5, random_trials=10, seed=0, layers=("conv5", "fc7"),
                   box=6):
    """The Table 1 section of the run report (parameters: see `compute`)."""
    images, results, trials = compute(run, images, random_trials, seed, layers, box)
    layers = list(next(iter(results.values())))
    _plot_masks(images, trials, out_dir / "table1_correspondence_masks.png")
    header = ["part"] + [f"{layer}_{k}" for layer in layers for k in ("mean", "std", "delta", "features")]
    rows = [[part] + [v for layer in layers for v in (r[layer].mean, r[layer].std, r[layer].delta, r[layer].features)]
            for part, r in results.items()]
    md_header = ["part"] + [f"{layer} (mean ± std)" for layer in layers]
    md_rows = [[part] + [f"{r[layer].mean:.3f} ± {r[layer].std:.3f}" for layer in layers] for part, r in results.items()]
    files = write_table(out_dir, "table1_correspondence", header, rows, md_header, md_rows,
                        title="Table 1: mean feature sign change",
                        notes=[f"{len(images)} aligned ankle boots; {box}x{box} masks; random: {random_trials} trials, seed {seed}"])
    paper = figures.html_table(["paper (dogs)", "layer 5", "layer 7"], [[k, *v] for k, v in PAPER.items()])
    ours = figures.html_table(md_header, md_rows)
    parts = [p for p in results if p != "random"]
    lower = [p for p in parts if results[p][layers[0]].mean < results["random"][layers[0]].mean]
    caption = (
        "Reproduces <b>Table 1</b> of the arXiv version (correspondence analysis). "
        f"{len(images)} Fashion-MNIST test ankle boots closest to their class mean (aligned, toe to the left) "
        "have the same part masked (value 0, the background); for each layer, "
        "ε<sub>i</sub> = x<sub>i</sub> − x̃<sub>i</sub> and Δ = Σ<sub>i≠j</sub> Hamming(sign ε<sub>i</sub>, sign ε<sub>j</sub>); "
        "shown as the paper does: Hamming distance per feature, mean ± std over the image pairs "
        f"(random: a {box}x{box} box on the boot at a random place in each image, {random_trials} trials, seed "
        f"{seed}). Lower = more consistent change = tighter correspondence. "
        f"Here {len(lower)} of {len(parts)} parts score lower than random at {html.escape(layers[0])}"
        + (f" ({html.escape(', '.join(lower))})" if lower else "")
        + f". Model: {figures.run_description(run)}. " + machine.measured_on()
    )
    body = figures.img_html("table1_correspondence_masks.png", "masked parts") + ours + "<p>For orientation, the paper's numbers:</p>" + paper
    return Section("table1", "Table 1: correspondence analysis", caption, body,
                   ["table1_correspondence_masks.png", *files])
