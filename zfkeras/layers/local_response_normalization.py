"""Contrast normalisation across feature maps (Krizhevsky et al., 2012)."""

import keras
import tensorflow as tf


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
    plain ops so that it also compiles under XLA.

    The deconvnet skips this layer on the way down, as in the paper.

    Args:
        size: odd number of maps in the window (``n``).
        k: additive constant.
        alpha: scale of the squared sum.
        beta: exponent.
    """

    def __init__(self, size=5, k=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        size = int(size)
        if size < 1 or size % 2 == 0:
            raise ValueError(f"size must be a positive odd integer, got {size}")
        self.size, self.k, self.alpha, self.beta = size, float(k), float(alpha), float(beta)

    def call(self, inputs):
        r = self.size // 2
        sq = tf.square(inputs)
        padded = tf.pad(sq, [[0, 0], [0, 0], [0, 0], [r, r]])
        channels = tf.shape(inputs)[-1]
        window = sq if r == 0 else tf.add_n(
            [padded[..., i : i + channels] for i in range(self.size)]
        )
        return inputs * tf.pow(self.k + self.alpha * window, -self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(size=self.size, k=self.k, alpha=self.alpha, beta=self.beta)
        return config
