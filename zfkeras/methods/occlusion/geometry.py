"""Window geometry of occlusion: which part of each layer a square can change.

Plain numpy, no TensorFlow. Every spatial layer of a chain is read as its
model-graph `zfkeras.graph.window.Window`: explicit padding (``before``,
``after``) followed by a VALID window operation (kernel, strides); a
"patch" is the part of a map that differs from the unoccluded map, one
rectangle per square position (`Patches`; the layer's own window is the
one `zfkeras.graph.window.Window`). All positions share one patch extent (the
largest), so that a batch of positions has one static shape; a patch that
would cross the far border is shifted back inside the map, which only
recomputes a few unchanged values (exactly).
"""

import dataclasses

import numpy as np


def _affected_axis(starts, extent, kernel, stride, pad_before, out_size):
    """Output indices of one axis that a patch ``[start, start + extent)`` reaches.

    Output ``o`` reads padded input ``[o*s, o*s + k)``, i.e. unpadded
    ``[o*s - pad, o*s - pad + k)``; it is affected when that meets the patch.

    Returns:
        ``(out_starts (P,), out_extent)`` with one shared extent.
    """
    lo = -((-(starts + pad_before - kernel + 1)) // stride)  # ceil division
    hi = -((-(starts + extent + pad_before)) // stride)
    lo = np.clip(lo, 0, out_size)
    hi = np.clip(hi, 0, out_size)
    out_extent = int(max(1, (hi - lo).max()))
    return np.minimum(lo, out_size - out_extent), out_extent


@dataclasses.dataclass(frozen=True)
class Patches:
    """Per-position rectangles: ``starts (P, 2)`` (row, col) and one ``extent (h, w)``."""

    starts: np.ndarray
    extent: tuple

    def fraction_of(self, size):
        """Share of a ``(H, W)`` map that one window covers."""
        return self.extent[0] * self.extent[1] / float(size[0] * size[1])


def affected_output(op, patch):
    """The output `Patches` that the input ``patch`` can change.

    Args:
        op: the layer's placed `zfkeras.graph.window.Window`.
        patch: `Patches` of changed input positions.
    """
    rows, cols = [_affected_axis(patch.starts[:, a], patch.extent[a], op.span[a], op.strides[a],
                                 op.before[a], op.out_size[a]) for a in (0, 1)]
    return Patches(np.stack([rows[0], cols[0]], axis=1), (rows[1], cols[1]))


def input_region(op, out_window):
    """The padded-input `Patches` that computing ``out_window`` of ``op`` reads."""
    starts = out_window.starts * np.asarray(op.strides)
    extent = tuple((e - 1) * s + k for e, s, k in zip(out_window.extent, op.strides, op.span))
    return Patches(starts, extent)


def square_corners(image_size, size, stride):
    """Top-left corners ``(rows, cols, 2)`` of every square inside the image.

    Args:
        image_size: ``(H, W)``.
        size: side of the square.
        stride: step between corners.
    """
    rows = np.arange(0, image_size[0] - size + 1, stride)
    cols = np.arange(0, image_size[1] - size + 1, stride)
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1)
    return grid.astype("int64")
