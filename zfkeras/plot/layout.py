"""Panels placed and tiled: receptive-field crops on a common canvas, montages."""

import numpy as np


def place(patch, box, full_size, fill=np.nan):
    """Puts a clipped receptive-field crop on a canvas of the full field's size.

    A unit near the border sees a field cut by the image edge; the crop is
    placed against the side that was not cut, so every panel of a layer has
    the same size and scale. The rest of the canvas is `fill`.

    Args:
        patch: ``(h, w, C)`` crop.
        box: its ``(top, left, bottom, right)`` in the image.
        full_size: ``(H, W)`` of the unclipped field (at least the crop's).
        fill: value of the uncovered canvas.

    Returns:
        ``(H, W, C)`` float32 canvas.
    """
    patch = np.asarray(patch, np.float32)
    h, w = patch.shape[:2]
    height, width = max(full_size[0], h), max(full_size[1], w)
    canvas = np.full((height, width, patch.shape[-1]), fill, np.float32)
    top, left = box[0], box[1]
    y = height - h if top == 0 and h < height else 0  # cut at the top: align to the bottom
    x = width - w if left == 0 and w < width else 0
    canvas[y:y + h, x:x + w] = patch
    return canvas


# Colour of receptive-field canvas the image border cut off: pale blue, so
# that it is told apart from white or black image content.
UNCOVERED = (0.80, 0.86, 0.95)


def montage(panels, columns, gap=1, fill=1.0, uncovered=UNCOVERED):
    """Tiles equal-sized ``(H, W, 3)`` panels in rows of `columns`.

    Gaps are `fill`; NaN pixels (uncovered canvas) become `uncovered`.

    Returns:
        ``(rows*(H+gap)-gap, columns*(W+gap)-gap, 3)`` float32.
    """
    panels = np.asarray(panels, np.float32)
    n, h, w, c = panels.shape
    rows = -(-n // columns)
    panels = np.where(np.isnan(panels), np.asarray(uncovered, np.float32)[:c], panels)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, c), fill, np.float32)
    for i, panel in enumerate(panels):
        r, k = divmod(i, columns)
        out[r * (h + gap):r * (h + gap) + h, k * (w + gap):k * (w + gap) + w] = panel
    return out
