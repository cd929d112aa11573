"""The one baseline: what fills removed pixels (masked, occluded, or
brought in from outside the image by a transform).

Minimal local version for the inputs branch; the "contract" helper's
`resolve_baseline` replaces it on merge (same name and signature).
"""

import numpy as np

from zfkeras.utils.errors import InputError, InputTypeError

__all__ = ["resolve_baseline"]


def resolve_baseline(baseline, images, name="baseline"):
    """The fill value per channel.

    Args:
        baseline: a number, one number per channel, or ``"mean"`` (the
            per-channel mean of ``images``).
        images: ``(N, H, W, C)`` numpy images.
        name: the argument's name, for messages.

    Returns:
        float32 array ``(C,)``.
    """
    channels = np.shape(images)[-1]
    if isinstance(baseline, str):
        if baseline != "mean":
            raise InputError(f"{name} must be a number, one number per channel or 'mean'; got {baseline!r}")
        return np.asarray(images, np.float64).mean(axis=(0, 1, 2)).astype(np.float32)
    try:
        values = np.asarray(baseline, np.float32)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a number, one number per channel or 'mean'; got {baseline!r}") from None
    if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != channels):
        raise InputError(f"{name} must be a number or {channels} numbers (one per channel); got {baseline!r}")
    if not np.isfinite(values).all():
        raise InputError(f"{name} must be finite; got {baseline!r}")
    return np.broadcast_to(values, (channels,)).astype(np.float32)
