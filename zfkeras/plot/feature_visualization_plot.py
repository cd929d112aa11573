"""Feature visualisations: one picture per unit or class, with MaCo's transparency.

Duck-typed on the result's fields: ``pixels`` (displayable, [0, 1]) or
``images`` (stretched to [0, 1]), ``transparency`` (``(K, H, W[, 1])``, the
share of the attribution each pixel had; MaCo shows the picture through it
as an alpha channel, pixels that mattered little fade to the background),
and ``values`` / ``units`` for the titles when present.
"""

import numpy as np

from zfkeras.plot import canvas
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote


def _pictures(result):
    pixels = getattr(result, "pixels", None)
    source = pixels if pixels is not None else getattr(result, "images", None)
    if source is None:
        raise InputTypeError(f"result must be a feature visualisation (with images or pixels), got {quote(result)}")
    images = canvas.as_array(source, "result.images", (4,), "(K, H, W, C) pictures")
    if pixels is not None and (images.min() < 0 or images.max() > 1):
        raise InputError(f"result.pixels must lie in [0, 1], got values in [{images.min():g}, {images.max():g}]")
    # pixels in [0, 1] are shown as they are; images are stretched to [0, 1]
    return np.stack([canvas.pixels_of(p) for p in images])


def _alpha(result, count, size):
    transparency = getattr(result, "transparency", None)
    if transparency is None:
        return None
    alpha = canvas.as_array(transparency, "result.transparency", (3, 4), "(K, H, W[, 1]) transparency maps")
    if alpha.ndim == 4:
        alpha = alpha.mean(axis=-1)
    if alpha.shape != (count,) + size:
        raise InputError(f"result.transparency must be ({count}, {size[0]}, {size[1]}), got {alpha.shape}")
    peak = alpha.reshape(count, -1).max(axis=1).reshape(count, 1, 1)
    return np.clip(alpha / np.maximum(peak, 1e-12), 0.0, 1.0)


def composite(pixels, alpha, background=1.0):
    """A picture seen through its transparency over a plain background: ``(H, W, 3)``."""
    return pixels * alpha[..., None] + background * (1.0 - alpha[..., None])


def _titles(result, count):
    units = getattr(result, "units", None) or getattr(result, "targets", None)
    values = getattr(result, "values", None)
    titles = []
    for k in range(count):
        text = str(units[k]) if units is not None and not isinstance(units, str) and len(units) == count \
            else f"#{k}"
        if values is not None and np.size(values) == count:
            text += f"\n{float(np.asarray(values).reshape(-1)[k]):.3g}"
        titles.append(text)
    return titles


def feature_visualization(result, *, transparency=True, columns=None, ax=None, panel_inches=2.0,
                          background=1.0):
    """Draws a feature visualisation: one panel per unit or class.

    Args:
        result: a `FeatureVisualization` (``images`` or ``pixels`` ``(K, H,
            W, C)``; ``transparency`` ``(K, H, W[, 1])`` optional).
        transparency: show MaCo's transparency as alpha over ``background``
            (grey level in [0, 1]); False: the pictures alone.
        columns: panels per row (default up to 8).
        ax: an array of axes (at least K) to draw into, or None.

    Returns:
        the `matplotlib.figure.Figure`.
    """
    pictures = _pictures(result)
    count = len(pictures)
    if transparency:
        alpha = _alpha(result, count, pictures.shape[1:3])
        if alpha is not None:
            pictures = composite(pictures, alpha, background)
    columns = min(count, 8) if columns is None else columns
    if not isinstance(columns, int) or columns < 1:
        raise InputError(f"columns must be a positive int, got {quote(columns)}")
    rows = -(-count // columns)
    if ax is None:
        figure, axes = canvas.new_figure((panel_inches * columns, panel_inches * rows + 0.3), rows, columns)
        axes = axes.reshape(-1)
    else:
        axes = np.asarray(ax, dtype=object).reshape(-1)
        if axes.size < count:
            raise InputError(f"ax must hold at least {count} axes, got {axes.size}")
        figure = axes[0].figure
    for a, picture, title in zip(axes, pictures, _titles(result, count)):
        a.imshow(picture, interpolation="nearest")
        a.set_title(title, fontsize=8)
    for a in axes:
        canvas.clear_ticks(a)
        if not a.images:
            a.axis("off")
    figure.tight_layout()
    return figure
