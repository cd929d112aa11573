"""Occlusion sensitivity (the paper's Fig. 7 panels), one row per image.

(a) the image with the grey square at the centre position, (b) the total
activation of the followed feature map (when the occlusion followed a
layer), (c) that map's deconvnet projection (when given), (d) p(true class)
and (e) the most probable label, each as a function of the square's
position, drawn at the square's centre in image pixels.
"""

import numpy as np

from zfkeras.plot import canvas
from zfkeras.utils.display import projection_to_image
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote

FIELDS = ("class_probability", "predicted_label", "corners", "size", "stride", "true_label")


def extent(result):
    """``(left, right, bottom, top)`` of the maps in image pixels: each entry
    at its square's centre, one stride wide."""
    c = np.asarray(result.corners)
    half, step = result.size / 2.0, result.stride / 2.0
    return (c[0, 0, 1] + half - step, c[0, -1, 1] + half + step, c[-1, 0, 0] + half + step,
            c[0, 0, 0] + half - step)


def _check(result, images, projection):
    missing = [f for f in FIELDS if getattr(result, f, None) is None]
    if missing:
        raise InputTypeError(f"result must be an OcclusionResult (zfkeras.occlusion), got {quote(result)} "
                             f"without {', '.join(missing)}")
    n = len(result.class_probability)
    if images is not None:
        images = canvas.as_images(images)
        if len(images) != n:
            raise InputError(f"images must be the {n} occluded images, got an array of shape {images.shape}")
    if projection is not None:
        projection = canvas.as_images(projection, "projection")
        if len(projection) != n:
            raise InputError(f"projection must hold one projection per occluded image ({n}), got an array of "
                             f"shape {projection.shape}")
    return n, images, projection


def occlusion(result, images=None, *, projection=None, layer=None, class_names=None, show=None, ax=None,
              colorbars=True):
    """Draws an occlusion result: the paper's Fig. 7 panels, one row per image.

    Args:
        result: the `OcclusionResult` of `zfkeras.occlusion`.
        images: the occluded images ``(N, H, W[, C])`` for panel (a), or None.
        projection: ``(N, H, W[, C])`` deconvnet projections of the followed
            map for panel (c), or None.
        layer: the followed layer's name, for the titles.
        class_names: names of the classes (default their numbers).
        show: the images (indices) drawn; None: all (at most 8).
        ax: an array of ``rows x panels`` axes to draw into, or None.
        colorbars: scales beside (b) and (d).

    Returns:
        the `matplotlib.figure.Figure`.
    """
    n, images, projection = _check(result, images, projection)
    rows = list(range(min(n, 8)) if show is None else show)
    if not rows or min(rows) < 0 or max(rows) >= n:
        raise InputError(f"show must pick images in [0, {n}), got {quote(show)}")
    activity = getattr(result, "layer_activity", None)
    strongest = getattr(result, "strongest_channel", None)
    panels = ["image"] * (images is not None) + ["activity"] * (activity is not None) + \
        ["projection"] * (projection is not None) + ["probability", "label"]
    if ax is None:
        figure, axes = canvas.new_figure((3.2 * len(panels), 3.3 * len(rows)), len(rows), len(panels))
    else:
        axes = np.asarray(ax, dtype=object).reshape(-1)
        if axes.size != len(rows) * len(panels):
            raise InputError(f"ax must hold {len(rows)} x {len(panels)} axes, got {axes.size}")
        axes = axes.reshape(len(rows), len(panels))
        figure = axes[0, 0].figure
    import matplotlib

    predicted = np.asarray(result.predicted_label)
    classes = int(predicted.max()) + 1
    count = max(classes, len(class_names) if class_names is not None else 0)
    cmap = matplotlib.colormaps["tab10" if count <= 10 else "tab20"]
    name = (lambda c: str(class_names[int(c)])) if class_names is not None else (lambda c: f"class {int(c)}")
    box = extent(result)
    for row, i in enumerate(rows):
        cells = dict(zip(panels, axes[row]))
        letter = iter("abcde")
        true = name(result.true_label[i])
        if images is not None:
            shown = canvas.pixels_of(images[i]).copy()
            r, c = np.array(result.class_probability[i].shape) // 2
            (t, l), s = result.corners[r, c], result.size
            shown[t:t + s, l:l + s] = 0.5
            cells["image"].imshow(shown)
            cells["image"].set_title(f"({next(letter)}) {true}", fontsize=9)
        if activity is not None:
            unit = f" map {int(strongest[i])}" if strongest is not None else ""
            im = cells["activity"].imshow(activity[i], cmap="jet", extent=box)
            cells["activity"].set_title(f"({next(letter)}) {layer or 'layer'}{unit} activity", fontsize=9)
            if colorbars:
                figure.colorbar(im, ax=cells["activity"], fraction=0.046)
        if projection is not None:
            cells["projection"].imshow(projection_to_image(projection[i]))
            unit = f" of map {int(strongest[i])}" if strongest is not None else ""
            cells["projection"].set_title(f"({next(letter)}) projection{unit}", fontsize=9)
        im = cells["probability"].imshow(result.class_probability[i], cmap="jet", vmin=0, vmax=1, extent=box)
        cells["probability"].set_title(f"({next(letter)}) p({true})", fontsize=9)
        if colorbars:
            figure.colorbar(im, ax=cells["probability"], fraction=0.046)
        labels = predicted[i]
        cells["label"].imshow(labels, cmap=cmap, vmin=0, vmax=cmap.N - 1, extent=box, interpolation="nearest")
        cells["label"].set_title(f"({next(letter)}) most probable label", fontsize=9)
        present = np.unique(labels)
        cells["label"].legend(handles=[matplotlib.patches.Rectangle((0, 0), 1, 1, color=cmap(int(c) % cmap.N))
                                       for c in present],
                              labels=[name(c) for c in present], fontsize=7, loc="upper left",
                              bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        for a in axes[row]:
            a.set_xticks([])
            a.set_yticks([])
    figure.tight_layout()
    return figure
