"""A unit's top k (the paper's Fig. 2 panel): k projections beside k image patches.

`top_k_panels` makes the pictures of some units from a
`zfkeras.methods.top_activations.TopActivations` (each of the k
activations projected alone by the deconvnet and cut, like its image
patch, to the unit's receptive field); `top_k` draws them: per unit a
``sqrt(k) x sqrt(k)`` block of projections, a gap, the block of patches.
The report's Fig. 2 is one `top_k` row per layer.
"""

import dataclasses

import numpy as np

from zfkeras.plot import canvas, layout
from zfkeras.utils.display import projection_to_image, to_rgb
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote


@dataclasses.dataclass(frozen=True, eq=False)
class TopKPanels:
    """Pictures of the top k of some units of one layer.

    Attributes:
        layer: the layer's name.
        channels: ``(M,)`` the units' feature maps.
        values: ``(M, k)`` their activations, descending.
        projections, patches: ``(M, k, h, w, 3)`` in [0, 1], NaN where the
            receptive field was cut by the image border.
    """

    layer: str
    channels: np.ndarray
    values: np.ndarray
    projections: np.ndarray
    patches: np.ndarray

    def __repr__(self):
        m, k, h, w, _ = self.projections.shape
        return f"<TopKPanels {self.layer!r}: {m} maps x top {k}, panels {h}x{w}>"

    def _repr_png_(self):
        figure = top_k(self, channels=range(min(len(self.channels), 4)), width=canvas.INLINE_SIZE[0])
        return canvas.figure_png(figure, dpi=canvas.INLINE_DPI)


def full_field_size(deconv, layer):
    """``(h, w)`` of the layer's largest (unclipped) receptive field."""
    h, w, _ = deconv.layer_output_shape(layer)
    grid = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), -1).reshape(-1, 2)
    boxes = np.asarray(deconv.receptive_field(layer, grid)).reshape(-1, 4)
    return int((boxes[:, 2] - boxes[:, 0]).max()), int((boxes[:, 3] - boxes[:, 1]).max())


def top_k_panels(deconv, layer, top, channels, inputs, pixels=None):
    """Projects and cuts the top k of some units (compute: runs the deconvnet).

    Args:
        deconv: the model's `zfkeras.Deconvnet`.
        layer: the layer the top k were mined at.
        top: its `TopActivations` (``top_activations(model, inputs, layer)[layer]``).
        channels: an int or a list of feature maps.
        inputs: the mined images as the model takes them ``(N, H, W, C)``.
        pixels: the same images as shown (raw pixels); None: ``inputs``
            stretched to [0, 1].

    Returns:
        `TopKPanels`.
    """
    for field in ("values", "image_ids", "positions"):
        if not hasattr(top, field):
            raise InputTypeError(f"top must be a TopActivations (values, image_ids, positions), got {quote(top)}")
    channels = np.atleast_1d(np.asarray(channels, np.int64))
    count = np.shape(top.values)[0]
    if channels.ndim != 1 or channels.size == 0 or channels.min() < 0 or channels.max() >= count:
        raise InputError(f"channels must be feature maps in [0, {count}), got {quote(channels.tolist())}")
    inputs = np.asarray(inputs, np.float32)
    shown = inputs if pixels is None else np.asarray(pixels, np.float32)
    ids = np.asarray(top.image_ids, np.int64)[channels]
    positions = np.asarray(top.positions, np.int64)[channels]
    if ids.max() >= len(inputs) or len(shown) != len(inputs):
        raise InputError(f"inputs (and pixels) must be the {int(ids.max()) + 1}+ mined images, got {len(inputs)} "
                         f"inputs and {len(shown)} pixel images")
    m, k = ids.shape
    size = full_field_size(deconv, layer)
    flat_ids, flat_pos, flat_ch = ids.reshape(-1), positions.reshape(-1, 2), np.repeat(channels, k)
    boxes = np.asarray(deconv.receptive_field(layer, flat_pos)).reshape(-1, 4)
    from zfkeras.methods.unit import Unit

    projected = deconv.project(inputs[flat_ids], Unit(layer, flat_ch, position=flat_pos), verbose=0)
    projections, patches = [], []
    for i, (t, l, b, r) in enumerate(boxes):
        projections.append(layout.place(projection_to_image(projected[i, t:b, l:r]), boxes[i], size))
        patches.append(layout.place(to_rgb(canvas.pixels_of(shown[flat_ids[i]])[t:b, l:r]), boxes[i], size))
    shape = (m, k) + projections[0].shape
    return TopKPanels(layer, channels, np.asarray(top.values, np.float32)[channels],
                      np.stack(projections).reshape(shape), np.stack(patches).reshape(shape))


def tile(projections, patches, gap=1):
    """One unit's tile: the k projections in a square block, a gap, the k patches."""
    side = int(np.ceil(np.sqrt(len(projections))))
    left = layout.montage(projections, side, fill=1.0)
    right = layout.montage(patches, side, fill=1.0)
    spacer = np.ones((left.shape[0], 2 * gap + 1, 3), np.float32)
    return np.concatenate([left, spacer, right], axis=1)


def top_k(panels, channels=None, *, layer=None, ax=None, width=12.0):
    """Draws units' top k as one row of tiles: projections | patches per unit.

    Args:
        panels: `TopKPanels` (or anything with ``projections`` and
            ``patches`` ``(M, k, h, w, 3)``, e.g. the report's per-layer
            panels of every map).
        channels: rows of ``panels`` to draw (feature maps where ``panels``
            has ``channels``, else indices); None: all.
        layer: the label beside the row (default ``panels.layer``).
        ax: axes to draw into; None for a new figure of ``width`` inches.

    Returns:
        the `matplotlib.figure.Figure`.

    Raises:
        InputError: panels of the wrong shape, projections and patches of
            different shapes, unknown channels.
    """
    projections = canvas.as_array(getattr(panels, "projections", None), "panels.projections", (5,),
                                   "a (M, k, h, w, 3) array of pictures")
    patches = canvas.as_array(getattr(panels, "patches", None), "panels.patches", (5,),
                               "a (M, k, h, w, 3) array of pictures")
    if projections.shape != patches.shape or projections.shape[-1] != 3:
        raise InputError(f"projections and patches must have one shape (M, k, h, w, 3), got {projections.shape} "
                         f"and {patches.shape}")
    known = getattr(panels, "channels", None)
    known = np.arange(len(projections)) if known is None else np.asarray(known, np.int64)
    wanted = known if channels is None else np.atleast_1d(np.asarray(list(channels) if not np.isscalar(channels)
                                                                       else channels, np.int64))
    rows = []
    for c in wanted:
        found = np.flatnonzero(known == c)
        if not found.size:
            raise InputError(f"channel {int(c)} is not among the panels' maps {quote(known.tolist())}")
        rows.append(int(found[0]))
    tiles = [tile(projections[i], patches[i]) for i in rows]
    h, w, _ = tiles[0].shape
    gap = np.ones((h, max(2, w // 8), 3), np.float32)
    strip = np.concatenate([piece for t in tiles for piece in (t, gap)][:-1], axis=1)
    if ax is None:
        figure, axes = canvas.new_figure((width + 0.8, width * h / strip.shape[1] + 0.6))
        ax = axes[0, 0]
    step = w + gap.shape[1]
    ax.imshow(strip, interpolation="nearest")
    ax.set_xticks([step * i + w / 2 for i in range(len(tiles))])
    ax.set_xticklabels([f"map {int(known[i])}: projections | patches" for i in rows], fontsize=7)
    ax.set_yticks([])
    label = layer if layer is not None else getattr(panels, "layer", None)
    if label:
        ax.set_ylabel(str(label), rotation=0, ha="right", va="center", fontsize=11)
    ax.tick_params(length=0, pad=2)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax.figure
