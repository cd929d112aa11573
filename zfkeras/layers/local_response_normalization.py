"""Contrast normalisation across feature maps (Krizhevsky et al., 2012)."""

import numpy as np
import keras
import tensorflow as tf

from zfkeras.utils.errors import InputError
from zfkeras.utils.validation import float_in_range, positive_float, positive_int


@keras.saving.register_keras_serializable(package="zfkeras")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response (contrast) normalisation across neighbouring maps.

    For channel ``i`` of an NHWC tensor ``a``::

        b_i = a_i / (k + alpha * sum_{j = i - n//2}^{i + n//2} a_j ** 2) ** beta

    with the sum clipped to existing channels. This is Krizhevsky et al.'s
    parameterisation (``n=5, k=2, alpha=1e-4, beta=0.75`` by default), which
    ZFNet's ``norm1``/``norm2`` use. ``alpha`` multiplies the *sum*, not the
    mean (Caffe's ``alpha`` is ``n`` times larger for the same layer). It
    equals ``tf.nn.local_response_normalization(a, depth_radius=n // 2,
    bias=k, alpha=alpha, beta=beta)`` for odd ``n``; it is written with
    plain ops (a band-matrix product over channels) so that it also
    compiles under XLA.

    The deconvnet skips this layer on the way down, as in the paper.

    Args:
        size: odd number of maps in the window (``n``).
        k: additive constant, > 0.
        alpha: scale of the squared sum, >= 0.
        beta: exponent, > 0.
    """

    def __init__(self, size=5, k=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        size = positive_int(size, "size")
        if size % 2 == 0:
            raise InputError(f"size must be a positive odd integer, got {size!r}")
        # k > 0 keeps the denominator positive: k <= 0 gives 0 ** -beta
        # (inf) or a negative base (NaN) wherever a window is all zeros.
        self.size = size
        self.k = positive_float(k, "k")
        self.alpha = float_in_range(alpha, "alpha", 0.0, None)
        self.beta = positive_float(beta, "beta")

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise InputError(f"{self.name}: the channel dimension must be known, got input shape {input_shape!r}")
        # Window sums as one matmul with a 0/1 band matrix (fast on CPU,
        # compiles under XLA): band[j, i] = 1 when |i - j| <= size // 2.
        r = self.size // 2
        idx = np.arange(channels)
        self._band = (np.abs(idx[:, None] - idx[None, :]) <= r).astype("float32")

    def call(self, inputs):
        band = tf.constant(self._band, dtype=inputs.dtype)
        window = tf.tensordot(tf.square(inputs), band, axes=1)
        z = self.k + self.alpha * window
        # pow() is several times slower than rsqrt on CPU; the paper's
        # beta = 0.75 (and 0.5) need only rsqrt/sqrt.
        if self.beta == 0.75:
            r = tf.math.rsqrt(z)
            return inputs * r * tf.sqrt(r)
        if self.beta == 0.5:
            return inputs * tf.math.rsqrt(z)
        return inputs * tf.pow(z, -self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, k=self.k, alpha=self.alpha, beta=self.beta)
        return config
