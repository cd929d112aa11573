"""The one meaning of ``baseline``: what replaces pixels a method removes.

Every function that removes, hides or brings in pixels (occlusion's grey
square, faithfulness' deletion and insertion, occlusion_drop, invariance's
pixels from outside the image, correspondence's masks) takes ``baseline``
and reads it here:

- ``"mean"`` (the default everywhere): the per-channel mean of the images
  given, the grey square of Zeiler & Fergus Fig. 7 (about 0 for models
  whose preprocessing subtracts the mean image);
- a number: that value in every channel;
- one value per channel (a sequence or array of ``C`` numbers);
- ``"blur"``, where a function allows it: a Gaussian blur of each image
  (Petsiuk et al.'s insertion baseline), see `blur`.

Plain numpy: no TensorFlow import.
"""

import numbers

import numpy as np

from zfkeras.utils.errors import InputError, InputTypeError

__all__ = ["resolve_baseline", "blur", "BASELINE_WORDS", "DEFAULT_BASELINE"]

DEFAULT_BASELINE = "mean"
BASELINE_WORDS = ("mean", "blur")


def resolve_baseline(baseline, images, name="baseline", *, allow_blur=False):
    """``baseline`` as float32 values that broadcast against ``images``.

    Args:
        baseline: ``"mean"``, a number, one value per channel, or ``"blur"``
            (only with ``allow_blur``).
        images: ``(N, H, W, C)`` numpy images the baseline is for (their
            per-channel mean for ``"mean"``, their blur for ``"blur"``).
        name: the argument's name, for the messages.
        allow_blur: accept ``"blur"`` (functions that replace pixels by an
            image-sized baseline; the occlusion engines and image transforms
            take one value per channel).

    Returns:
        float32 ``(C,)``, or ``(N, H, W, C)`` for ``"blur"``.

    Raises:
        InputError: an unknown word, the wrong number of values, a value that
            is not finite, ``"blur"`` where it is not accepted.
        InputTypeError: neither a word nor numbers.
    """
    images = np.asarray(images)
    channels = images.shape[-1]
    if isinstance(baseline, str):
        words = BASELINE_WORDS if allow_blur else ("mean",)
        if baseline == "mean":
            return images.mean(axis=tuple(range(images.ndim - 1)), dtype="float64").astype("float32")
        if baseline == "blur" and allow_blur:
            return blur(images)
        extra = " ('blur' is not accepted here)" if baseline == "blur" else ""
        raise InputError(
            f"{name} must be {' or '.join(repr(w) for w in words)}, a number or one value per "
            f"channel ({channels}); got {baseline!r}{extra}"
        )
    if isinstance(baseline, bool) or baseline is None:
        raise InputTypeError(
            f"{name} must be 'mean', a number or one value per channel ({channels}); got {baseline!r}"
        )
    if isinstance(baseline, numbers.Real):
        values = np.full((channels,), float(baseline), dtype="float64")
    else:
        try:
            values = np.asarray(baseline, dtype="float64").reshape(-1)
        except (TypeError, ValueError):
            raise InputTypeError(
                f"{name} must be 'mean', a number or one value per channel ({channels}); "
                f"got {baseline!r} of type {type(baseline).__name__}"
            ) from None
        if values.size == 1:
            values = np.repeat(values, channels)
        if values.size != channels:
            raise InputError(
                f"{name} must be a number or {channels} values (one per channel); "
                f"got {values.size} values: {baseline!r}"
            )
    if not np.all(np.isfinite(values)):
        raise InputError(f"{name} must be finite; got {baseline!r}")
    return values.astype("float32")


def blur(images, sigma=None):
    """Gaussian blur of each image, per channel, edges mirrored.

    Args:
        images: ``(N, H, W, C)``.
        sigma: the Gaussian's standard deviation in pixels; default
            ``min(H, W) / 45`` (5 px at 224 px, Petsiuk et al.'s insertion
            baseline), at least 0.5.

    Returns:
        float32 ``(N, H, W, C)``.
    """
    images = np.asarray(images, np.float32)
    sigma = sigma or max(min(images.shape[1:3]) / 45.0, 0.5)
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = taps / taps.sum()
    out = images.astype(np.float64)
    for axis in (1, 2):
        length = out.shape[axis]
        # Mirror the edge (numpy's "symmetric" repeats the edge pixel) while the
        # image is wide enough, zeros beyond it.
        mode = "symmetric" if radius < length else "constant"
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode=mode)
        acc = np.zeros_like(out)
        for k, tap in enumerate(taps):
            acc += tap * np.take(padded, np.arange(k, k + length), axis=axis)
        out = acc
    return out.astype(np.float32)
