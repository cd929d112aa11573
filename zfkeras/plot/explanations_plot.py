"""Explanations beside their images: one column per method, one row per image.

How an explanation is shown (`explanation_image`):

* per-channel attributions (the deconvnet, guided backpropagation, the
  gradient, guided Grad-CAM) as every deconvnet projection is shown
  (`zfkeras.utils.display.projection_to_image`: zero is mid-grey, the
  channels keep their hues);
* a signed map alone in a diverging colour map centred on zero
  (`SIGNED_CMAP`: positive red, negative blue, zero white), symmetric about
  zero so that the colour's side tells the sign;
* an unsigned map (Grad-CAM, ...) from black at 0 to white at its maximum.
"""

import numpy as np

from zfkeras.plot import canvas
from zfkeras.utils.display import projection_to_image, to_rgb
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote

SIGNED_CMAP = "RdBu_r"
KINDS = ("auto", "attributions", "map")


def is_signed(explanation):
    """Whether the method's maps take both signs (from the method registry;
    an unregistered method: whether its maps have negative values)."""
    from zfkeras.methods.registry import get_method

    try:
        return bool(get_method(explanation.method).signed)
    except (ValueError, KeyError):
        return bool(np.min(explanation.maps) < 0)


def signed_map_to_rgb(values, peak=None):
    """A signed map ``(H, W)`` in `SIGNED_CMAP`, ``0`` at the centre, ``±peak`` at the ends.

    Returns:
        ``(H, W, 3)`` float32 in [0, 1].
    """
    import matplotlib

    values = np.asarray(values, np.float32)
    peak = float(np.max(np.abs(values))) if peak is None else float(peak)
    scaled = np.full_like(values, 0.5) if not np.isfinite(peak) or peak == 0 else 0.5 + values / (2 * peak)
    return np.asarray(matplotlib.colormaps[SIGNED_CMAP](np.clip(scaled, 0, 1))[..., :3], np.float32)


def unsigned_map_to_rgb(values):
    """An unsigned map ``(H, W)`` from black (0) to white (its maximum): ``(H, W, 3)``."""
    values = np.asarray(values, np.float32)
    return to_rgb(np.clip(values / max(float(values.max()), 1e-12), 0.0, 1.0))


def explanation_image(explanation, index=0, kind="auto", signed=None, box=None):
    """One image's explanation as an RGB picture ``(H, W, 3)`` in [0, 1].

    Args:
        explanation: a `zfkeras.Explanation`.
        index: which image of the batch.
        kind: ``"attributions"`` (per-channel, as a deconvnet projection),
            ``"map"`` (the channel-reduced map), or ``"auto"`` (the
            attributions where the method has them, else the map).
        signed: whether the map is signed (None: `is_signed`).
        box: ``(top, left, bottom, right)`` to cut (e.g. a unit's receptive
            field) before normalising, or None for the whole image.
    """
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {quote(kind)}")
    if kind == "attributions" and explanation.attributions is None:
        raise InputError(f"the {explanation.method!r} explanation has no per-channel attributions "
                         "(its result is a map only); use kind='map'")
    t, l, b, r = (0, 0, None, None) if box is None else (int(v) for v in box)
    if kind != "map" and explanation.attributions is not None:
        return projection_to_image(explanation.attributions[index, t:b, l:r])
    signed = is_signed(explanation) if signed is None else signed
    values = explanation.maps[index, t:b, l:r]
    return signed_map_to_rgb(values) if signed else unsigned_map_to_rgb(values)


def _as_explanations(explanations):
    """``{title: Explanation}`` from one, a list or a dict of them."""
    if isinstance(explanations, dict):
        named = dict(explanations)
    elif isinstance(explanations, (list, tuple)):
        named = {}
        for e in explanations:
            title = getattr(e, "method", None)
            named[title if title not in named else f"{title} ({len(named) + 1})"] = e
    else:
        named = {getattr(explanations, "method", "explanation"): explanations}
    if not named:
        raise InputError("explanations must name at least one Explanation, got none")
    for title, e in named.items():
        if not (hasattr(e, "maps") and hasattr(e, "attributions") and hasattr(e, "method")):
            raise InputTypeError(f"explanations must be zfkeras.Explanation results (one, a list or a dict), "
                                 f"got {quote(e)} of type {type(e).__name__} for {title!r}")
    lengths = {title: len(e.maps) for title, e in named.items()}
    if len(set(lengths.values())) != 1:
        raise InputError(f"the explanations side by side must explain the same images; their numbers of images "
                         f"differ: {lengths}")
    return named


def explanations(explanations, images=None, *, max_images=8, kind="auto", ax=None, panel_inches=2.0):
    """Draws explanations beside the images they explain.

    Args:
        explanations: a `zfkeras.Explanation`, or a list or dict
            ``{title: Explanation}`` of several methods' explanations of the
            same images (shown side by side, one column each).
        images: the explained images ``(N, H, W[, C])`` (raw pixels or model
            inputs: shown stretched to [0, 1]), or None for no image column.
        max_images: rows drawn at most (the first images).
        kind: ``"auto"``, ``"attributions"`` or ``"map"`` (`explanation_image`).
        ax: axes to draw into: one `Axes` when one panel is drawn, else an
            array of ``rows x columns`` axes; None for a new figure.
        panel_inches: size of one panel in a new figure.

    Returns:
        the `matplotlib.figure.Figure`.

    Raises:
        InputError: no explanation, explanations of different numbers of
            images, images of another number or size, a bad ``kind``.
    """
    named = _as_explanations(explanations)
    first = next(iter(named.values()))
    n, height, width = first.maps.shape
    shown = images
    if images is not None:
        shown = canvas.as_images(images)
        if len(shown) != n or shown.shape[1:3] != (height, width):
            raise InputError(f"images must be the {n} explained images of {height}x{width} pixels, got an array "
                             f"of shape {np.shape(images)}")
    if not isinstance(max_images, int) or max_images < 1:
        raise InputError(f"max_images must be a positive int, got {quote(max_images)}")
    rows = min(n, max_images)
    titles = (["image"] if shown is not None else []) + [str(t).replace("_", " ") for t in named]
    table = []
    for i in range(rows):
        row = [canvas.pixels_of(shown[i])] if shown is not None else []
        row += [explanation_image(e, i, kind) for e in named.values()]
        table.append(row)
    figure_axes = None
    if ax is not None:
        axes = np.asarray(ax, dtype=object).reshape(-1)
        if axes.size != rows * len(titles):
            raise InputError(f"ax must hold {rows} x {len(titles)} axes (rows x columns), got {axes.size}")
        figure_axes = (axes[0].figure, axes.reshape(rows, len(titles)))
    labels = [f"image {i}" for i in range(rows)]
    return canvas.image_grid(table, row_labels=labels, column_titles=titles, panel_inches=panel_inches,
                              figure_axes=figure_axes)
