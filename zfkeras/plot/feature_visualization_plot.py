"""Feature visualisations: one picture per unit or class, with MaCo's transparency.

Duck-typed on the result's fields (`zfkeras.feature_visualization`'s
`FeatureVisualization`): ``pixels`` (displayable: uint8 or [0, 255], or
[0, 1]) or else ``images`` (stretched to [0, 1]), ``transparency``
(``(K, H, W[, 1])`` or None: how much each pixel mattered to the objective;
MaCo shows the picture through it as an alpha channel, pixels that mattered
little fade to the background), and ``objectives`` and ``values`` for the
titles when present.
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
    if pixels is not None and (images.min() < 0 or images.max() > 255):
        raise InputError(f"result.pixels must be displayable, in [0, 1] or [0, 255], got values in "
                         f"[{images.min():g}, {images.max():g}]")
    # pixels in [0, 1] are shown as they are, [0, 255] divided by 255; images are stretched to [0, 1]
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


def _name(objective):
    """A unit as ``layer:channel`` (``@y,x`` for one neuron), a class as ``class c``."""
    if hasattr(objective, "layer") and hasattr(objective, "channel"):
        position = getattr(objective, "position", None)
        return f"{objective.layer}:{objective.channel}" + ("" if position is None else f"@{position[0]},{position[1]}")
    return f"class {objective}" if isinstance(objective, (int, np.integer)) else str(objective)


def _titles(result, count, titles=None):
    if titles is not None:
        titles = [str(t) for t in titles]
        if len(titles) != count:
            raise InputError(f"titles must name the {count} pictures, got {len(titles)}: {quote(titles)}")
    objectives = getattr(result, "objectives", None)
    values = getattr(result, "values", None)
    out = []
    for k in range(count):
        if titles is not None:
            out.append(titles[k])
            continue
        if objectives is not None and not isinstance(objectives, str) and len(objectives) == count:
            text = _name(objectives[k])
        else:
            text = f"#{k}"
        if values is not None and np.size(values) == count:
            text += f"\n{float(np.asarray(values).reshape(-1)[k]):.3g}"
        out.append(text)
    return out


def feature_visualization(result, *, transparency=True, titles=None, columns=None, ax=None, panel_inches=2.0,
                          background=1.0):
    """Draws a feature visualisation: one panel per unit or class.

    Args:
        result: a `FeatureVisualization` (``images`` or ``pixels`` ``(K, H,
            W, C)``; ``transparency`` ``(K, H, W[, 1])`` optional).
        transparency: show MaCo's transparency as alpha over ``background``
            (grey level in [0, 1]); False: the pictures alone.
        titles: one title per picture (default: the objective, e.g.
            ``conv2:3`` or ``class 7``, over its final value).
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
    for a, picture, title in zip(axes, pictures, _titles(result, count, titles)):
        a.imshow(picture, interpolation="nearest")
        a.set_title(title, fontsize=8)
    for a in axes:
        canvas.clear_ticks(a)
        if not a.images:
            a.axis("off")
    figure.tight_layout()
    return figure
