"""Figures that need no display and show themselves in Jupyter.

Every `zfkeras.plot` function draws into a `matplotlib.figure.Figure` made
here (not through `pyplot`): it works with no display (the Agg canvas), it
is not kept alive by pyplot's figure list, and in Jupyter the returned
figure is shown once (its ``_repr_png_``), not once more by the inline
backend. Given ``ax``, a function draws into the caller's axes instead.
"""

import io

import numpy as np

from zfkeras.utils.display import to_rgb
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote

# The largest picture a result shows of itself in a notebook (inches, dpi).
INLINE_SIZE = (6.0, 4.0)
INLINE_DPI = 72


def _figure_class():
    from matplotlib.figure import Figure

    class PlotFigure(Figure):
        """A `matplotlib.figure.Figure` that Jupyter shows as a PNG."""

        def _repr_png_(self):
            return figure_png(self)

    return PlotFigure


_FIGURE_CLASS = None


def new_figure(figsize, rows=1, columns=1, **subplots):
    """A figure on the Agg canvas with a ``(rows, columns)`` array of axes.

    Returns:
        ``(figure, axes)``, axes always 2-D.
    """
    global _FIGURE_CLASS
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if _FIGURE_CLASS is None:
        _FIGURE_CLASS = _figure_class()
    figure = _FIGURE_CLASS(figsize=figsize)
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False, **subplots)
    return figure, axes


def figure_png(figure, dpi=None):
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi or figure.dpi, bbox_inches="tight")
    return buffer.getvalue()


def figure_pixels(figure):
    """The figure drawn at its own size: ``(H, W, 4)`` uint8 RGBA."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba()).copy()


def clear_ticks(ax):
    """No ticks, no frame: a picture, not a chart."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def as_array(value, name, ndims, what):
    """``value`` as a float32 array of one of the ranks ``ndims``, or InputError."""
    try:
        array = np.asarray(value, np.float32)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be {what}, got {quote(value)}") from None
    if array.ndim not in ndims:
        raise InputError(f"{name} must be {what}, got an array of shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{name} must not be empty, got an array of shape {array.shape}")
    return array


def as_images(images, name="images"):
    """One image ``(H, W[, C])`` or a batch ``(N, H, W, C)`` as ``(N, H, W, C)`` float32."""
    array = as_array(images, name, (2, 3, 4), "an image (H, W[, C]) or images (N, H, W, C)")
    if array.ndim == 2:
        array = array[None, ..., None]
    elif array.ndim == 3:
        # (H, W, C) with a channel count of an image, else (N, H, W) of grey images
        array = array[None] if array.shape[-1] in (1, 3, 4) else array[..., None]
    return array


def pixels_of(image):
    """An image as shown: ``(H, W, 3)`` in [0, 1].

    uint8-range pixels ([0, 255]) are divided by 255, [0, 1] pixels stay,
    anything else (preprocessed inputs) is stretched from its minimum to
    its maximum.
    """
    image = np.asarray(image, np.float32)
    low, high = float(np.nanmin(image)), float(np.nanmax(image))
    if low >= 0.0 and high <= 1.0:
        shown = image
    elif low >= 0.0 and high <= 255.0:
        shown = image / 255.0
    else:
        shown = (image - low) / max(high - low, 1e-12)
    return to_rgb(np.clip(shown, 0.0, 1.0))


def image_grid(rows, *, row_labels=None, column_titles=None, panel_inches=1.6, nan=0.85, figure_axes=None):
    """Draws a table of ``(h, w, 3)`` pictures; NaN (uncovered canvas) is light grey.

    Args:
        rows: list of rows, each a list of pictures in [0, 1].
        row_labels, column_titles: text beside the rows, above the columns.
        figure_axes: ``(figure, axes)`` to draw into, else a new figure.

    Returns:
        the figure.
    """
    columns = max(len(row) for row in rows)
    if figure_axes is None:
        figure_axes = new_figure((panel_inches * columns, panel_inches * len(rows)), len(rows), columns)
    figure, axes = figure_axes
    for i, row in enumerate(rows):
        for j in range(columns):
            ax = axes[i, j]
            clear_ticks(ax)
            if j < len(row):
                ax.imshow(np.nan_to_num(np.asarray(row[j], np.float32), nan=nan), interpolation="nearest")
            else:
                ax.axis("off")
        if row_labels is not None:
            axes[i, 0].set_ylabel(row_labels[i], fontsize=8)
    for j, title in enumerate(column_titles or ()):
        axes[0, j].set_title(title, fontsize=8)
    figure.tight_layout()
    return figure
