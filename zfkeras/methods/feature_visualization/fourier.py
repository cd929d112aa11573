"""Images as Fourier coefficients: Lucid's 1/f-scaled spectrum and MaCo's
phase over a fixed magnitude.

Both parameterisations describe ``K`` images ``(H, W, C)`` by the real 2-D
FFT of each channel (``H x (W // 2 + 1)`` complex coefficients; the inverse
is `tf.signal.irfft2d` with ``fft_length=(H, W)``, exact for odd sizes too).

* ``fourier`` (Lucid, ``optvis/param/spatial.py``): the optimised real and
  imaginary parts are multiplied by `fourier_scale`, ``1 / max(f, 1/max(H,
  W))`` (``f`` the radial frequency in cycles per pixel) times
  ``sqrt(H W)``, and the image is divided by 4: gradient steps then change
  every frequency band by the same energy, as natural images' 1/f spectrum
  has it, instead of favouring the high frequencies.
* ``maco`` (Fel et al. 2023): only the phase is optimised; the magnitude is
  fixed to `average_magnitude` of given images. Phase and image are
  standardised per image (mean 0, standard deviation 1), as in Xplique.

The results are in the decorrelated colour space, before `color.correlate`
and the sigmoid that `optimize` applies.
"""

import functools

import numpy as np

__all__ = ["frequencies", "fourier_scale", "fourier_image", "fourier_coefficients", "maco_image",
           "average_magnitude"]

_EPSILON = 1e-5  # added to standard deviations (Xplique's)


def frequencies(height, width):
    """Radial frequency (cycles per pixel) of each real-FFT coefficient, ``(height, width // 2 + 1)``."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx * fx + fy * fy)


def fourier_scale(height, width, decay_power=1.0):
    """Lucid's scale of each coefficient: ``sqrt(H W) / max(f, 1 / max(H, W)) ** decay_power``."""
    freqs = frequencies(height, width)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** decay_power
    return (scale * np.sqrt(height * width)).astype(np.float32)


def fourier_image(coefficients, height, width, decay_power=1.0):
    """Lucid's image of the coefficients (TensorFlow).

    Args:
        coefficients: float32 ``(2, K, C, height, width // 2 + 1)``: real
            and imaginary parts.
        height, width: the image size.
        decay_power: the exponent of the 1/f scale.

    Returns:
        float32 ``(K, height, width, C)``.
    """
    import tensorflow as tf

    scale = tf.constant(fourier_scale(height, width, decay_power))
    spectrum = tf.complex(coefficients[0] * scale, coefficients[1] * scale)
    image = tf.signal.irfft2d(spectrum, fft_length=[height, width])
    return tf.transpose(image, [0, 2, 3, 1]) / 4.0


def fourier_coefficients(images, decay_power=1.0):
    """The coefficients whose `fourier_image` is ``images`` (numpy; the inverse).

    Args:
        images: ``(K, H, W, C)`` real images.

    Returns:
        float32 ``(2, K, C, H, W // 2 + 1)``.
    """
    images = np.asarray(images, np.float64)
    height, width = images.shape[1:3]
    spectrum = np.fft.rfft2(np.moveaxis(images, -1, 1) * 4.0, axes=(-2, -1))
    spectrum = spectrum / fourier_scale(height, width, decay_power)
    return np.stack([spectrum.real, spectrum.imag]).astype(np.float32)


def _standardise(x, axes):
    import tensorflow as tf

    x = x - tf.reduce_mean(x, axis=axes, keepdims=True)
    return x / (tf.math.reduce_std(x, axis=axes, keepdims=True) + _EPSILON)


def maco_image(magnitude, phase, height, width):
    """MaCo's image of a phase over a fixed magnitude (TensorFlow).

    Args:
        magnitude: float32 ``(C, height, width // 2 + 1)``.
        phase: float32 ``(K, C, height, width // 2 + 1)``.

    Returns:
        float32 ``(K, height, width, C)``, each image standardised.
    """
    import tensorflow as tf

    phase = _standardise(phase, [1, 2, 3])
    spectrum = tf.complex(tf.cos(phase) * magnitude, tf.sin(phase) * magnitude)
    image = tf.transpose(tf.signal.irfft2d(spectrum, fft_length=[height, width]), [0, 2, 3, 1])
    return _standardise(image, [1, 2, 3])


def average_magnitude(pixels, batch_size=256):
    """The average Fourier magnitude of images, MaCo's fixed magnitude (numpy).

    Each image is taken to the decorrelated colour space (`color.decorrelate`),
    its channel means removed (so the optimised images have no colour cast
    of their own: the zero frequency is 0) and divided by its standard
    deviation (every image weighs the same), then the magnitudes of its
    channels' real FFTs are averaged over the images.

    Args:
        pixels: ``(N, H, W, C)`` images in pixel space (any scale).

    Returns:
        float32 ``(C, H, W // 2 + 1)``.
    """
    from zfkeras.methods.feature_visualization.color import decorrelate

    total, count = None, 0
    for start in range(0, len(pixels), batch_size):
        x = decorrelate(np.asarray(pixels[start:start + batch_size], np.float64)).astype(np.float64)
        x = x - x.mean(axis=(1, 2), keepdims=True)
        x = x / (x.std(axis=(1, 2, 3), keepdims=True) + _EPSILON)
        magnitude = np.abs(np.fft.rfft2(np.moveaxis(x, -1, 1), axes=(-2, -1))).sum(axis=0)
        total = magnitude if total is None else total + magnitude
        count += len(x)
    return (total / count).astype(np.float32)


def sigmoid_contrast(pixels, samples=1 << 16, iterations=40):
    """``(gain, bias)`` such that ``sigmoid(gain * correlate(z) + bias)``, ``z``
    standard normal, has the per-channel mean and the standard deviation of
    ``pixels`` (numpy).

    MaCo's image is standardised, so its contrast is set by what maps it to
    pixels: Xplique's plain sigmoid gives a pixel standard deviation of about
    0.2, natural photographs' own; ``gain`` and ``bias`` give the images the
    contrast and brightness of the data instead (higher for strokes on a
    black ground, as digits or Fashion-MNIST), so their units can be driven
    as hard as the data drives them.

    Args:
        pixels: ``(N, H, W, C)`` images in ``[0, 1]``.

    Returns:
        ``(gain float, bias float32 (C,))``.
    """
    pixels = np.asarray(pixels, np.float64)
    target_mean = np.clip(pixels.mean(axis=(0, 1, 2)), 0.02, 0.98)
    target_std = float(np.clip(pixels.std(axis=(1, 2, 3)).mean(), 0.01, 0.45))
    gain, bias = _contrast_for(tuple(float(m) for m in target_mean), target_std, int(samples), int(iterations))
    return gain, bias.copy()


@functools.lru_cache(maxsize=32)
def _contrast_for(target_mean, target_std, samples, iterations):
    """`sigmoid_contrast` from the data's statistics alone (a seeded bisection
    of about a CPU second, kept: every MaCo call on the same data, as the
    explorer's batches of one layer, asks for the same)."""
    from zfkeras.methods.feature_visualization.color import correlate

    target_mean = np.asarray(target_mean)
    channels = len(target_mean)
    z = correlate(np.random.RandomState(0).standard_normal((samples, channels)).astype(np.float32))
    z = z.astype(np.float64)

    def sigmoid(v):
        return 1.0 / (1.0 + np.exp(-v))

    def bias_for(gain):  # per channel: the mean is increasing in the bias
        low, high = np.full(channels, -20.0), np.full(channels, 20.0)
        for _ in range(iterations):
            middle = (low + high) / 2
            above = sigmoid(gain * z + middle).mean(axis=0) > target_mean
            high, low = np.where(above, middle, high), np.where(above, low, middle)
        return (low + high) / 2

    low, high = 0.0, 50.0  # the std is increasing in the gain
    for _ in range(iterations):
        gain = (low + high) / 2
        values = sigmoid(gain * z + bias_for(gain))
        if values.std(axis=0).mean() > target_std:
            high = gain
        else:
            low = gain
    gain = (low + high) / 2
    return gain, bias_for(gain).astype(np.float32)
