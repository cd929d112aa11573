"""How a deconvnet projection is shown: one normalisation for every picture.

TensorBoard's feature-evolution images (``zfkeras train``) and the report's
Figs. 2, 4, 6 and 7 all draw projections with `projection_to_image`, so the
same projection looks the same wherever it appears: ``0.5 + x / (2 max|x|)``
per panel, zero is mid-grey, positive brighter, negative darker. Plain
numpy; no TensorFlow.
"""

import numpy as np


def contrast_normalize(panel):
    """Scales one panel so that zero is mid-grey and its extreme is black/white.

    ``0.5 + x / (2 max|x|)``: the sign of the projection stays readable
    (positive brighter than the grey background, negative darker), and
    every panel uses its full range whatever its magnitude. A panel of
    zeros (or with a non-finite peak) is uniformly grey.

    Args:
        panel: ``(H, W)`` or ``(H, W, C)`` float array.

    Returns:
        float32 array of the same shape in [0, 1].
    """
    panel = np.asarray(panel, np.float32)
    peak = float(np.max(np.abs(panel))) if panel.size else 0.0
    if not np.isfinite(peak) or peak == 0.0:
        return np.full_like(panel, 0.5)
    return np.clip(0.5 + panel / (2.0 * peak), 0.0, 1.0)


def to_rgb(image):
    """``(H, W)`` or ``(H, W, C)`` -> ``(H, W, 3)`` float32.

    Grey images become three equal channels (shown grey, not false colour);
    RGB stays; any other channel count is shown as the grey of its mean.
    """
    image = np.asarray(image, np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] not in (1, 3):
        image = image.mean(axis=-1, keepdims=True)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return image


def projection_to_image(projection):
    """One projection ``(H, W[, C])`` as an ``(H, W, 3)`` image in [0, 1].

    `contrast_normalize` over the whole panel (all channels together, so
    hues are kept), then `to_rgb`.
    """
    return to_rgb(contrast_normalize(projection))


def projections_to_images(projections):
    """`projection_to_image` of each of ``(N, H, W[, C])``: ``(N, H, W, 3)``."""
    projections = np.asarray(projections, np.float32)
    if projections.shape[0] == 0:
        return np.zeros(projections.shape[:3] + (3,), np.float32)
    return np.stack([projection_to_image(p) for p in projections])
