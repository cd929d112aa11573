"""Fig. 5: invariance to vertical translation, scale and rotation.

Five test images of different classes are transformed by growing amounts
(`zfkeras.measures.invariance`); rows = translation, scale, rotation; columns = one
image under the transformation, the relative Euclidean distance of the
layer-1 (``conv1``) and layer-7 (``fc7``) feature vectors to those of the
untransformed image, and p(true class).
"""

import html

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable
from zfkeras.plot import invariance as invariance_figure

INPUTS = TRAINED_MODEL
ROWS = (
    ("translate", "vertical translation (x image height)"),
    ("scale", "scale factor"),
    ("rotate", "rotation (degrees)"),
)


def pick_images(labels, count, seed=0):
    """Indices of ``count`` images of different classes (seeded draw)."""
    rng = np.random.RandomState(seed)
    classes = rng.permutation(np.unique(labels))[:count]
    return np.array([rng.choice(np.flatnonzero(labels == c)) for c in classes])


def compute(run, images=5, seed=0, low="conv1", high="fc7"):
    """The three sweeps for the run's model: `images` test images of different classes, drawn with `seed`.

    Returns:
        ``(images, labels, {transform: InvarianceResult})``.
    """
    from zfkeras.measures.invariance import invariance

    model = run.load_model()
    names = [layer.name for layer in model.layers]
    missing = [n for n in (low, high) if n not in names]
    if missing:
        raise SectionUnavailable(f"the run's model has no layer {missing[0]!r} (Fig. 5 compares conv1 and fc7)")
    raw, labels = run.load_split("test")
    chosen = pick_images(labels, images, seed)
    shown, labels = raw[chosen].astype(np.float32), labels[chosen]
    results = {
        kind: invariance(model, shown, labels, kind, layers=(low, high),
                         preprocess=run.preprocess, baseline=0.0)
        for kind, _ in ROWS
    }
    return shown, labels, results


def plot(images, labels, results, class_names, path, low="conv1", high="fc7"):
    """The 3 x 4 figure of the paper's layout (`zfkeras.plot.invariance`), written to ``path``."""
    ordered = {kind: results[kind] for kind, _ in ROWS}
    figure = invariance_figure(ordered, images, layers=[low, high], labels=labels, class_names=class_names)
    figures.save_png(figure, path)


def report_section(run, out_dir, verbose="auto", *, images=5, seed=0, low="conv1", high="fc7"):
    """The Fig. 5 section of the run report.

    Args:
        images: test images swept, one per class (a draw with `seed`).
        low, high: the lower and the upper layer whose features are compared.
    """
    shown, labels, results = compute(run, images, seed, low, high)
    names = run.class_names
    plot(shown, labels, results, names, out_dir / "fig5_invariance.png", low, high)
    rows = []
    for kind, _ in ROWS:
        r = results[kind]
        for n in range(len(labels)):
            for j, amount in enumerate(r.amounts):
                rows.append([kind, float(amount), n, names[labels[n]], float(r.distance[low][n, j]),
                             float(r.distance[high][n, j]), float(r.probability[n, j]),
                             names[int(r.predicted[n, j])]])
    header = ["transform", "amount", "image", "true_class", f"{low}_distance",
              f"{high}_distance", "p_true_class", "predicted"]
    tables.write_csv(out_dir / "fig5_invariance.csv", header, rows)
    summary = []
    for kind, _ in ROWS:
        r = results[kind]
        summary.append([kind, float(r.distance[low].mean()), float(r.distance[high].mean()),
                        float(r.probability.min())])
    table = figures.html_table(["transform", f"mean {low} distance", f"mean {high} distance",
                                "lowest p(true class)"], summary)
    caption = (
        "Reproduces <b>Fig. 5</b> of Zeiler &amp; Fergus: "
        f"{len(labels)} test images of different classes ({html.escape(', '.join(names[l] for l in labels))}), "
        "translated vertically, scaled about the centre and rotated (Keras <code>affine_transform</code>, "
        "bilinear, black fill), for the amounts on the x axes. Distance = Euclidean distance between the "
        "feature vectors of the transformed and the original image divided by the original's norm. "
        "The paper finds layer 1 changes sharply with small transformations, the top layer less, "
        "and the output is stable to translation and scaling but not rotation. "
        f"Model: {figures.run_description(run)}. Command: <code>zfkeras report {html.escape(str(run.path))}</code>. "
        + machine.measured_on()
    )
    body = figures.img_html("fig5_invariance.png", "Fig. 5 invariance curves") + table
    return Section("fig5", "Fig. 5: invariance to translation, scale and rotation", caption, body,
                   ["fig5_invariance.png", "fig5_invariance.csv"])
