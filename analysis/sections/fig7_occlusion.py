"""Fig. 7: occlusion sensitivity, and the paper's consistency check.

For each image, a grey square slides over it (`zfkeras.occlusion`):
(a) the image with the square at one position, (b) the total activation of
the layer-5 map that is strongest on the unoccluded image, as a function of
the square's position, (c) that map's strongest activation projected to
pixels by the deconvnet, (d) p(true class) and (e) the most probable label
as functions of the position.

The consistency check as a number: when the square covers the region that
(c) highlights, the map's activity (b) should drop far more than when the
square lies elsewhere. For each image, the square positions are ranked by
the share of the projection's absolute mass inside the square: the top
``covering`` fraction of positions "cover the region", the bottom
``elsewhere`` fraction lie "elsewhere" (ranks, not a fixed share, because a
layer-5 projection spreads over much of a small image); the drop is
``1 - activity / unoccluded activity``; the report gives the mean drop of
both groups over a sample of test images.
"""

import dataclasses
import html

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable
from zfkeras.methods.unit import Unit
from zfkeras.plot import occlusion as occlusion_figure

INPUTS = TRAINED_MODEL
PAPER_FRACTION = 50 / 224  # the paper's square: 50 px of a 224 px image


@dataclasses.dataclass
class Fig7Data:
    """Everything Fig. 7 shows for N images."""

    images: np.ndarray  # raw (N, H, W, C)
    result: object  # zfkeras OcclusionResult
    projection: np.ndarray  # (N, H, W, C) deconvnet projection of the strongest map
    unoccluded_activity: np.ndarray  # (N,) total activation of that map, no square
    layer: str


def square_size(image_size, fraction=PAPER_FRACTION):
    """The paper's 50 px square in a 224 px image, scaled to ``image_size``."""
    return max(1, int(round(fraction * image_size)))


def compute(model, raw_images, preprocess, size, stride, layer="conv5", labels=None, verbose=0,
            method="auto", **approximation):
    """Occlusion maps, the strongest map's projection and its unoccluded total.

    Args:
        model: Keras classifier with probability outputs.
        raw_images: ``(N, H, W, C)`` images as stored.
        preprocess: callable mapping raw images to model inputs.
        size, stride: the square and its step, in pixels.
        layer: the conv layer whose strongest map is followed.
        labels: true classes, or None for the unoccluded prediction.
        verbose: 0, 1 or "auto": the occlusion's progress bar (Keras' ``verbose``).
        method: `zfkeras.occlusion`'s method (``"approximate"``: also the
            exact maps, to measure its error: `approximation_error`).
        **approximation: ``tau``, ``drill_down``, ``coarse_stride`` of
            ``method="approximate"`` (`zfkeras.occlusion`).

    Returns:
        `Fig7Data`.
    """
    import keras

    from zfkeras import Deconvnet
    from zfkeras.methods.occlusion import occlusion

    images = np.asarray(preprocess(raw_images), np.float32)
    result = occlusion(model, images, size, stride, targets=labels, layer=layer, method=method,
                       verbose=verbose, **approximation)
    if method == "approximate":
        # "auto" is exact either way (incremental, or full where the model has no incremental path)
        exact = occlusion(model, images, size, stride, targets=labels, method="auto", verbose=0)
        result.approximation["error"] = approximation_error(result, exact)
    projection = Deconvnet(model).project(images, Unit(layer, result.strongest_channel))
    maps = keras.Model(model.inputs, model.get_layer(layer).output).predict(images, verbose=0)
    unoccluded = maps[np.arange(len(images)), :, :, result.strongest_channel].sum(axis=(1, 2))
    return Fig7Data(np.asarray(raw_images), result, projection, unoccluded, layer)


def approximation_error(approx, exact):
    """SSIM (mean, min over images) and largest absolute error of approximate p(class) maps."""
    from zfkeras.methods.occlusion.approximate import ssim

    scores = [ssim(a, e) if min(a.shape) >= 3 else float(np.allclose(a, e))
              for a, e in zip(approx.class_probability, exact.class_probability)]
    return {"ssim_mean": float(np.mean(scores)), "ssim_min": float(np.min(scores)),
            "max_abs": float(np.abs(approx.class_probability - exact.class_probability).max())}


def method_text(result):
    """What made the maps, for a caption: the method and, if approximate, its settings and error."""
    if result.method != "approximate":
        return f"Occlusion path: {result.method} (exact)."
    a = result.approximation
    text = (f"Occlusion path: approximate (tau {a['tau']}, drill-down {a['drill_down']}, coarse stride "
            f"{a['coarse_stride']} px; {int(np.sum(a['positions_computed']))} of "
            f"{a['positions'] * len(a['positions_computed'])} positions computed, the rest interpolated)")
    error = a.get("error")
    if error:
        text += (f"; against the exact maps: SSIM {error['ssim_mean']:.3f} (lowest {error['ssim_min']:.3f}), "
                 f"largest p error {error['max_abs']:.3f}")
    return text + "."


def covered_mass(projection, corners, size):
    """Share of each projection's absolute mass inside the square at each corner.

    Args:
        projection: ``(N, H, W, C)``.
        corners: ``(rows, cols, 2)`` top-left corners.
        size: side of the square.

    Returns:
        ``(N, rows, cols)`` in [0, 1].
    """
    mass = np.abs(projection).sum(axis=-1)
    total = np.maximum(mass.sum(axis=(1, 2)), 1e-12)
    # summed-area table: any square's sum in four look-ups
    table = np.pad(mass.cumsum(axis=1).cumsum(axis=2), ((0, 0), (1, 0), (1, 0)))
    t, l = corners[..., 0], corners[..., 1]
    inside = table[:, t + size, l + size] - table[:, t, l + size] - table[:, t + size, l] + table[:, t, l]
    return inside / total[:, None, None]


def consistency(data, covering=0.1, elsewhere=0.5):
    """Mean activity drop with the square on vs off the projected region.

    Args:
        data: `Fig7Data`.
        covering: the fraction of positions holding the most projection
            mass that count as covering the region.
        elsewhere: the fraction holding the least that count as elsewhere.

    Returns:
        dict with ``drop_covering``, ``drop_elsewhere`` (means over the
        images that have positions of both kinds), ``images`` (how many
        did) and the per-image drops.
    """
    share = covered_mass(data.projection, data.result.corners, data.result.size)
    base = np.maximum(data.unoccluded_activity, 1e-12)[:, None, None]
    drop = 1.0 - data.result.layer_activity / base
    on, off = [], []
    for n in range(len(share)):
        cover = share[n] >= np.quantile(share[n], 1.0 - covering)
        away = share[n] <= np.quantile(share[n], elsewhere)
        if cover.any() and away.any() and not (cover & away).all() and data.unoccluded_activity[n] > 0:
            on.append(float(drop[n][cover].mean()))
            off.append(float(drop[n][away].mean()))
    return {
        "drop_covering": float(np.mean(on)) if on else float("nan"),
        "drop_elsewhere": float(np.mean(off)) if off else float("nan"),
        "images": len(on),
        "per_image_covering": on,
        "per_image_elsewhere": off,
    }


def plot_panels(data, class_names, path, show=None):
    """Rows of panels (a)-(e) as in the paper, one row per image (`zfkeras.plot.occlusion`)."""
    figure = occlusion_figure(data.result, data.images, projection=data.projection, layer=data.layer,
                              class_names=class_names, show=range(len(data.images)) if show is None else show)
    figures.save_png(figure, path)


def report_section(run, out_dir, verbose="auto", *, panels=4, sample=24, layer="conv5", seed=0,
                   size_fraction=PAPER_FRACTION, stride=1, covering=0.1, elsewhere=0.5, method="auto"):
    """The Fig. 7 section of the run report.

    Args:
        panels: images drawn in the figure. sample: test images occluded (a draw with `seed`).
        layer: the conv layer whose strongest map is followed.
        size_fraction: side of the square over the image's side. stride: its step in pixels.
        covering, elsewhere: shares of square positions that count as covering the
            projected region (the top) and as lying elsewhere (the bottom).
        method: `zfkeras.occlusion`'s method; the caption says which made the figure
            (and, if approximate, its measured error against the exact maps).
    """
    model = run.load_model()
    if layer not in [l.name for l in model.layers]:
        raise SectionUnavailable(f"the run's model has no layer {layer!r} (Fig. 7 follows layer 5)")
    raw, labels = run.load_split("test", max_examples=sample, seed=seed)
    size = square_size(run.input_shape[0], size_fraction)
    data = compute(model, raw, run.preprocess, size, stride, layer, labels, verbose, method)
    names = run.class_names
    plot_panels(data, names, out_dir / "fig7_occlusion.png", show=range(min(panels, len(raw))))
    check = consistency(data, covering, elsewhere)
    r = data.result
    rows = [[n, names[r.true_label[n]], int(r.strongest_channel[n]), float(r.unoccluded_probability[n]),
             float(r.class_probability[n].min()), float(data.unoccluded_activity[n])] for n in range(len(raw))]
    tables.write_csv(out_dir / "fig7_occlusion.csv",
                      ["image", "true_class", "strongest_map", "p_true_unoccluded", "p_true_min", "activity_unoccluded"], rows)
    tables.write_csv(out_dir / "fig7_consistency.csv", ["drop_covering", "drop_elsewhere", "images", "sample"],
                      [[check["drop_covering"], check["drop_elsewhere"], check["images"], len(raw)]])
    number = (
        f"<p><b>Consistency check:</b> the {data.layer} map's activity drops by "
        f"<b>{100 * check['drop_covering']:.1f}%</b> on average when the square covers the region its projection "
        f"highlights, and by <b>{100 * check['drop_elsewhere']:.1f}%</b> when it lies elsewhere "
        f"({check['images']} of {len(raw)} test images had positions of both kinds).</p>"
    )
    caption = (
        "Reproduces <b>Fig. 7</b> of Zeiler &amp; Fergus. A square of side "
        f"{size} px (the paper's 50 px of 224, scaled to {run.input_shape[0]} px) filled with the images' mean "
        f"(grey in the model's input space) slides with stride {stride} px over {len(raw)} test images "
        f"(seed {seed}); shown: the first {min(panels, len(raw))}. (b) total activation of the "
        f"{data.layer} map strongest on the unoccluded image, (c) that map's strongest activation projected by the "
        "deconvnet (contrast-normalised: grey = 0), (d) p(true class), (e) most probable label, each at the "
        "square's centre. Consistency: per image, the square positions are ranked by the share of the "
        f"projection's absolute mass inside the square; the top {100 * covering:.0f}% cover the "
        f"projected region, the bottom {100 * elsewhere:.0f}% lie elsewhere; drop = 1 − activity / "
        "unoccluded activity. "
        f"{html.escape(method_text(r))} Model: {figures.run_description(run)}. " + machine.measured_on()
    )
    body = figures.img_html("fig7_occlusion.png", "Fig. 7 occlusion panels") + number
    return Section("fig7", "Fig. 7: occlusion sensitivity", caption, body,
                   ["fig7_occlusion.png", "fig7_occlusion.csv", "fig7_consistency.csv"])
