"""Results that show themselves in a notebook: a small PNG and a one-line summary.

`repr_png` draws any zfkeras result it knows (an `Explanation`, an
`OcclusionResult`, a `TopActivations`, a feature visualisation) as a PNG of
at most `zfkeras.plot.canvas.INLINE_SIZE` inches at ``INLINE_DPI``
(432 x 288 pixels), the first few images only; `summary` is its one-line
text. ``import zfkeras`` in IPython (Jupyter) registers both for the result
classes by name (`register_ipython`; nothing is imported until a result is
shown), so a result at the end of a cell is drawn; a class that mixes in
`ShowsItself` also has them as ``_repr_png_`` and ``__repr__`` (a printed
result stays one line, outside IPython too).
"""

import numpy as np

from zfkeras.plot import canvas

# Images a result draws of itself at most.
INLINE_IMAGES = 3


def kind_of(result):
    """``"explanation"``, ``"occlusion"``, ``"top_k"``, ``"feature_visualization"`` or None."""
    if all(hasattr(result, f) for f in ("maps", "attributions", "method")):
        return "explanation"
    if all(hasattr(result, f) for f in ("class_probability", "predicted_label", "corners")):
        return "occlusion"
    if all(hasattr(result, f) for f in ("values", "image_ids", "positions")):
        return "top_k"
    if hasattr(result, "transparency") or (hasattr(result, "images") and hasattr(result, "pixels")):
        return "feature_visualization"
    return None


def _bounded(figure):
    """Shrinks a figure to fit `INLINE_SIZE`, keeping its aspect."""
    width, height = figure.get_size_inches()
    scale = min(1.0, canvas.INLINE_SIZE[0] / width, canvas.INLINE_SIZE[1] / height)
    figure.set_size_inches(width * scale, height * scale)
    return figure


def _top_k_figure(result):
    """A TopActivations has no pictures: its activations, one row per map."""
    values = np.asarray(result.values, np.float32)
    figure, axes = canvas.new_figure(canvas.INLINE_SIZE)
    ax = axes[0, 0]
    image = ax.imshow(values[:64], aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_xlabel("rank")
    ax.set_ylabel("feature map")
    ax.set_title(f"top-{values.shape[1]} activations" + (" (first 64 maps)" if len(values) > 64 else ""),
                 fontsize=9)
    figure.colorbar(image, ax=ax)
    return figure


def figure_of(result):
    """The small figure a result shows of itself (None for an unknown kind)."""
    from zfkeras.plot import feature_visualization, occlusion

    kind = kind_of(result)
    if kind == "explanation":
        from zfkeras.plot.explanations_plot import explanations

        return explanations(result, max_images=INLINE_IMAGES, panel_inches=1.6)
    if kind == "occlusion":
        return occlusion(result, show=range(min(INLINE_IMAGES, len(result.class_probability))), colorbars=False)
    if kind == "top_k":
        return _top_k_figure(result)
    if kind == "feature_visualization":
        return feature_visualization(result)
    return None


def repr_png(result):
    """PNG bytes of `figure_of` at most 432 x 288 pixels, or None."""
    figure = figure_of(result)
    if figure is None:
        return None
    figure = _bounded(figure)
    # the tight box (legends outside the axes included) decides the size
    box = figure.get_tightbbox(figure.canvas.get_renderer())
    import matplotlib

    pad = 2 * float(matplotlib.rcParams["savefig.pad_inches"]) + 0.05
    dpi = min(canvas.INLINE_DPI, canvas.INLINE_SIZE[0] * canvas.INLINE_DPI / (box.width + pad),
              canvas.INLINE_SIZE[1] * canvas.INLINE_DPI / (box.height + pad))
    return canvas.figure_png(figure, dpi=dpi)


def summary(result):
    """One line saying what the result holds."""
    kind = kind_of(result)
    name = type(result).__name__
    if kind == "explanation":
        n, h, w = np.shape(result.maps)
        return f"<{name} {result.method!r}: {n} maps {h}x{w}>"
    if kind == "occlusion":
        n, rows, cols = np.shape(result.class_probability)
        layer = "" if getattr(result, "layer_activity", None) is None else ", with a layer's activity"
        return (f"<{name}: {n} images, {rows}x{cols} square positions (size {result.size}, stride "
                f"{result.stride}){layer}>")
    if kind == "top_k":
        c, k = np.shape(result.values)
        return f"<{name}: top {k} of {c} feature maps>"
    if kind == "feature_visualization":
        images = getattr(result, "images", None)
        images = images if images is not None else result.pixels
        k, h, w = np.shape(images)[:3]
        return f"<{name}: {k} pictures {h}x{w}>"
    return object.__repr__(result)


class ShowsItself:
    """Mixin of the result classes: ``_repr_png_`` (a small figure in Jupyter)
    and a one-line ``__repr__``.

    Example (a frozen dataclass keeps its fields; ``repr=False`` keeps this
    ``__repr__``)::

        @dataclasses.dataclass(frozen=True, eq=False, repr=False)
        class OcclusionResult(ShowsItself): ...
    """

    def _repr_png_(self):
        return repr_png(self)

    def __repr__(self):
        return summary(self)


# The result classes, by (module, class name): IPython looks them up by
# name, so registering imports none of them.
RESULT_CLASSES = (
    ("zfkeras.methods.explanation", "Explanation"),
    ("zfkeras.methods.occlusion.api", "OcclusionResult"),
    ("zfkeras.methods.top_activations", "TopActivations"),
    ("zfkeras.methods.feature_visualization.optimize", "FeatureVisualization"),
)


def _png_or_none(result, printer=None, cycle=None):
    return repr_png(result)


def _text(result, printer, cycle):
    printer.text(summary(result))


def register_ipython(shell):
    """Makes the result classes show themselves in an IPython shell (Jupyter):
    a PNG of `figure_of` and the one-line `summary` as text."""
    formatters = shell.display_formatter.formatters
    for module, name in RESULT_CLASSES:
        formatters["image/png"].for_type_by_name(module, name, _png_or_none)
        formatters["text/plain"].for_type_by_name(module, name, _text)
