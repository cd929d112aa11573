"""Max pooling that also returns its argmax switches."""

import keras
import tensorflow as tf

from zfkeras.layers._pooling import normalize_pool_args, pooled_size


@keras.saving.register_keras_serializable(package="zfkeras")
class MaxPoolWithArgmax(keras.layers.Layer):
    """2-D max pooling that also emits the switches (argmax positions).

    The switches are what the deconvnet needs to unpool (Zeiler & Fergus,
    Sec. 2.1). They are flat int64 indices into the *input* tensor, batch
    included: ``((b * H + y) * W + x) * C + c``, so they are correct for any
    batch size and can be fed straight to `MaxUnpool2D`.

    With ``padding="same"`` the kernel only considers real input positions
    (the window is clamped to the input), so a switch never points into the
    padding; ties go to the first position in row-major window order, as in
    TensorFlow's max-pool gradient (both are tested against brute force).

    `tf.nn.max_pool_with_argmax` has no XLA kernel: keep this layer out of
    jit-compiled training graphs (the zfkeras models train with plain
    `keras.layers.MaxPooling2D`; the deconvnet records switches on the
    visualisation path).

    Args:
        pool_size: int or pair, the window size.
        strides: int or pair; defaults to `pool_size`.
        padding: ``"valid"`` or ``"same"`` (Keras semantics).

    Returns:
        ``(pooled, switches)``: pooled float tensor ``(B, H', W', C)`` and
        int64 switches of the same shape.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides, self.padding = normalize_pool_args(
            pool_size, strides, padding
        )

    def call(self, inputs):
        return max_pool_with_argmax(inputs, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        shape = (
            b,
            pooled_size(h, self.pool_size[0], self.strides[0], self.padding),
            pooled_size(w, self.pool_size[1], self.strides[1], self.padding),
            c,
        )
        return shape, shape

    def compute_output_spec(self, inputs):
        shape = self.compute_output_shape(inputs.shape)[0]
        return (
            keras.KerasTensor(shape, dtype=inputs.dtype),
            keras.KerasTensor(shape, dtype="int64"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            pool_size=self.pool_size, strides=self.strides, padding=self.padding
        )
        return config


def max_pool_with_argmax(x, pool_size, strides=None, padding="valid"):
    """Functional form of `MaxPoolWithArgmax`.

    Args:
        x: NHWC tensor.
        pool_size, strides, padding: as for the layer (ints or pairs).

    Returns:
        ``(pooled, switches)``.
    """
    pool_size, strides, padding = normalize_pool_args(pool_size, strides, padding)
    return tf.nn.max_pool_with_argmax(
        x,
        [1, pool_size[0], pool_size[1], 1],
        [1, strides[0], strides[1], 1],
        padding.upper(),
        include_batch_in_index=True,
    )
