"""Invariance curves (the paper's Fig. 5): features and output under growing transformations.

One row per transform (`zfkeras.measures.invariance` results): the first
image under a few of the amounts, then per compared layer the relative
distance of its feature vector to the untransformed one, then p(true
class), one curve per image.
"""

import numpy as np

from zfkeras.plot import canvas
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote

AXIS_LABELS = {
    "translate": "vertical translation (x image height)",
    "scale": "scale factor",
    "rotate": "rotation (degrees)",
}


def _results(results):
    if isinstance(results, dict):
        named = dict(results)
    elif isinstance(results, (list, tuple)):
        named = {getattr(r, "transform", str(i)): r for i, r in enumerate(results)}
    else:
        named = {getattr(results, "transform", "transform"): results}
    if not named:
        raise InputError("results must hold at least one invariance result, got none")
    for kind, r in named.items():
        if not all(hasattr(r, f) for f in ("amounts", "distance", "probability")):
            raise InputTypeError(f"results must be InvarianceResults (zfkeras.measures.invariance), got "
                                 f"{quote(r)} for {kind!r}")
    return named


def invariance(results, images=None, *, layers=None, labels=None, class_names=None, strip=5, ax=None):
    """Draws invariance curves, one row per transform.

    Args:
        results: an `InvarianceResult`, or a list or dict transform ->
            `InvarianceResult` (of the same images).
        images: the untransformed images (raw pixels) for the strip of the
            first image under ``strip`` amounts, or None (no strip).
        layers: the layers whose distances are drawn (default all of the
            result's, in its order).
        labels, class_names: the images' classes and their names, for the
            legend (default "image n").
        ax: an array of ``rows x columns`` axes, or None.

    Returns:
        the `matplotlib.figure.Figure`.
    """
    named = _results(results)
    first = next(iter(named.values()))
    layers = list(first.distance) if layers is None else list(layers)
    for kind, r in named.items():
        missing = [l for l in layers if l not in r.distance]
        if missing:
            raise InputError(f"the {kind!r} result has no distances of layer {missing[0]!r}; it has "
                             f"{sorted(r.distance)}")
    n = np.shape(first.probability)[0]
    if images is not None:
        images = canvas.as_images(images)
        if len(images) != n:
            raise InputError(f"images must be the {n} transformed images, got an array of shape {images.shape}")
    columns = (images is not None) + len(layers) + 1
    if ax is None:
        figure, axes = canvas.new_figure((3.75 * columns, 3.2 * len(named)), len(named), columns)
    else:
        axes = np.asarray(ax, dtype=object).reshape(-1)
        if axes.size != len(named) * columns:
            raise InputError(f"ax must hold {len(named)} x {columns} axes, got {axes.size}")
        axes = axes.reshape(len(named), columns)
        figure = axes[0, 0].figure
    if labels is not None and class_names is not None:
        legend = [str(class_names[int(l)]) for l in labels]
    else:
        legend = [f"image {i}" if labels is None else f"class {int(labels[i])}" for i in range(n)]
    for row, (kind, r) in enumerate(named.items()):
        amounts = np.asarray(r.amounts)
        col = 0
        if images is not None:
            from zfkeras.measures.invariance import transform_images

            shown = amounts[:: max(1, len(amounts) // strip)][:strip]
            pictures = np.concatenate([transform_images(images[:1], kind, a)[0] for a in shown], axis=1)
            axes[row, 0].imshow(canvas.pixels_of(pictures))
            axes[row, 0].set_title(f"{kind}: " + ", ".join(f"{a:g}" for a in shown), fontsize=8)
            axes[row, 0].axis("off")
            col = 1
        curves = [(r.distance[l], f"{l}: relative distance") for l in layers] + [(r.probability, "p(true class)")]
        for k, (values, ylabel) in enumerate(curves):
            a = axes[row, col + k]
            values = np.asarray(values)
            for i in range(n):
                a.plot(amounts, values[i], marker=".", label=legend[i])
            a.set_xlabel(AXIS_LABELS.get(kind, kind))
            a.set_ylabel(ylabel)
            if k == len(curves) - 1:
                a.set_ylim(-0.02, 1.02)
    axes[0, -1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure
