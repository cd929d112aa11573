"""The model's preprocessing as a per-pixel affine map, so that optimised
images stay images.

Feature visualisation optimises pixels in ``[0, 255]`` (a sigmoid keeps
them there) and feeds the model their preprocessed values, so every image
it shows the model is one that valid pixels produce. Every preprocessing in
zfkeras is affine at each pixel: a run's ``(pixels - mean image) / scale``
(`zfkeras.RunFolder.preprocess`), the explorer's modes (``x / 255``,
``x / 127.5 - 1``, ImageNet's mean and std, ``caffe``'s RGB->BGR swap minus
a mean). `pixel_space` reads the map off a preprocessing function by
probing it with ``C + 1`` images (and checks it on a random one), so no
mode needs naming; without one, the range of the given model-space images
(per channel) stands for ``[0, 255]``.
"""

import dataclasses

import numpy as np

from zfkeras.utils.errors import InputError

__all__ = ["PixelSpace", "pixel_space"]

# How far (relative to the map's output range) a preprocessing may be from
# the affine map read off it: float32 rounding of a mean subtraction is ~1e-6.
_AFFINE_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class PixelSpace:
    """``model input[c] = sum_d matrix[y, x, c, d] * pixels[d] + offset[y, x, c]``,
    ``pixels`` in ``[0, 255]``.

    Attributes:
        matrix: float32 ``(H, W, C, C)``.
        offset: float32 ``(H, W, C)``.
    """

    matrix: np.ndarray
    offset: np.ndarray

    def to_model(self, pixels):
        """``(N, H, W, C)`` pixels in ``[0, 255]`` -> model inputs (TensorFlow)."""
        import tensorflow as tf

        return tf.einsum("hwcd,nhwd->nhwc", tf.constant(self.matrix), pixels) + tf.constant(self.offset)

    def to_model_numpy(self, pixels):
        """The same in numpy."""
        return (np.einsum("hwcd,nhwd->nhwc", self.matrix, np.asarray(pixels, np.float32))
                + self.offset).astype(np.float32)

    def to_pixels(self, images):
        """Model inputs -> pixels (numpy; the inverse map, not clipped)."""
        inverse = np.linalg.inv(self.matrix.astype(np.float64))
        return np.einsum("hwcd,nhwd->nhwc", inverse,
                         np.asarray(images, np.float64) - self.offset).astype(np.float32)


def _call(preprocess, pixels, shape):
    try:
        out = np.asarray(preprocess(pixels), np.float64)
    except Exception as error:  # the user's function failed on plain pixels
        raise InputError(f"preprocess failed on a ({', '.join(map(str, pixels.shape))}) float32 batch of "
                         f"pixels in [0, 255]: {type(error).__name__}: {error}") from error
    if out.shape != pixels.shape[:1] + tuple(shape):
        raise InputError(f"preprocess must return model inputs (N, {', '.join(map(str, shape))}) for pixels "
                         f"(N, {', '.join(map(str, shape))}); got shape {out.shape}")
    return out


def pixel_space(shape, preprocess=None, inputs=None):
    """The `PixelSpace` of a model's input.

    Args:
        shape: the model's ``(H, W, C)``.
        preprocess: None, or a function taking float32 pixels ``(N, H, W, C)``
            in ``[0, 255]`` to model inputs (e.g. `zfkeras.RunFolder.preprocess`);
            it must be affine at each pixel.
        inputs: model-space images ``(N, H, W, C)``; with no ``preprocess``,
            their per-channel range stands for ``[0, 255]``.

    Raises:
        InputError: ``preprocess`` is not a per-pixel affine, invertible map,
            or neither argument is given, or the inputs are constant in a channel.
    """
    height, width, channels = shape
    if preprocess is None:
        if inputs is None:
            raise InputError("feature_visualization needs the valid range of the model's inputs: give "
                             "preprocess= (the function from pixels in [0, 255] to model inputs) or inputs= "
                             "(images as the model takes them)")
        low = inputs.min(axis=(0, 1, 2)).astype(np.float64)
        high = inputs.max(axis=(0, 1, 2)).astype(np.float64)
        if np.any(high <= low):
            raise InputError(f"inputs are constant in channel(s) {np.flatnonzero(high <= low).tolist()} "
                             f"(range {low.tolist()} .. {high.tolist()}); give preprocess= or varied images")
        matrix = np.zeros((height, width, channels, channels))
        matrix[:, :, np.arange(channels), np.arange(channels)] = (high - low) / 255.0
        offset = np.broadcast_to(low, (height, width, channels))
        return PixelSpace(matrix.astype(np.float32), np.ascontiguousarray(offset, np.float32))
    if not callable(preprocess):
        raise InputError(f"preprocess must be a function from pixels (N, H, W, C) in [0, 255] to model inputs "
                         f"or None; got {preprocess!r}")
    probes = np.zeros((channels + 2, height, width, channels), np.float32)
    for c in range(channels):
        probes[c + 1, ..., c] = 255.0
    probes[-1] = np.random.RandomState(0).uniform(0, 255, (height, width, channels))
    out = _call(preprocess, probes, shape)
    offset = out[0]
    matrix = np.stack([(out[c + 1] - offset) / 255.0 for c in range(channels)], axis=-1)  # (H, W, C, C)
    predicted = np.einsum("hwcd,hwd->hwc", matrix, probes[-1].astype(np.float64)) + offset
    spread = max(float(np.abs(out).max()), 1e-12)
    error = float(np.abs(predicted - out[-1]).max())
    if error > _AFFINE_TOLERANCE * spread:
        raise InputError(f"preprocess is not affine at each pixel (off by {error:.3g} on random pixels, outputs "
                         f"up to {spread:.3g}); feature_visualization needs a map such as (pixels - mean) / scale")
    determinants = np.abs(np.linalg.det(matrix))
    if not np.all(determinants > 1e-12 * max(float(np.abs(matrix).max()), 1e-30) ** channels):
        raise InputError("preprocess loses information (it maps different pixels to the same input); "
                         "feature_visualization needs an invertible map")
    return PixelSpace(matrix.astype(np.float32), offset.astype(np.float32))
