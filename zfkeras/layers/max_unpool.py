"""Unpooling with recorded max-pool switches."""

import keras
import tensorflow as tf

from zfkeras.utils.errors import InputError
from zfkeras.utils.validation import int_pair


@keras.saving.register_keras_serializable(package="zfkeras")
class MaxUnpool2D(keras.layers.Layer):
    """Places a top-down signal at the positions recorded by max pooling.

    This is the deconvnet's unpooling (Zeiler & Fergus, Sec. 2.1, Fig. 1):
    every value of ``signal`` goes to the input position its pooling window
    selected; every other position is zero.

    Overlapping windows (e.g. 3x3 stride 2) can share a winner. The values
    of all windows that chose the same input position are **summed** -- the
    rule of the max-pool gradient, so that unpooling is exactly the adjoint
    of max pooling with fixed switches.

    Args:
        output_size: ``(H, W)`` of the tensor that was pooled. May instead be
            given at call time (``output_size=`` keyword), which is how the
            deconvnet uses it for inputs of varying size.

    Call args:
        signal: ``(B, H', W', C)`` float tensor (the pooled layer's signal).
        switches: int64 switches from `MaxPoolWithArgmax`, same shape.

    Returns:
        ``(B, H, W, C)`` tensor.
    """

    def __init__(self, output_size=None, **kwargs):
        super().__init__(**kwargs)
        self.output_size = None if output_size is None else int_pair(output_size, "output_size")

    def call(self, signal, switches, output_size=None):
        size = output_size if output_size is not None else self.output_size
        if size is None:
            raise InputError(
                f"{self.name}: the output size (H, W) of the pooled tensor is unknown; "
                "pass MaxUnpool2D(output_size=(H, W)) or call(..., output_size=(H, W))"
            )
        return unpool(signal, switches, size)

    def compute_output_shape(self, signal_shape, switches_shape=None, output_size=None):
        size = output_size if output_size is not None else self.output_size
        h, w = (None, None) if size is None else size
        return (signal_shape[0], h, w, signal_shape[3])

    def compute_output_spec(self, signal, switches, output_size=None):
        return keras.KerasTensor(
            self.compute_output_shape(signal.shape, switches.shape, output_size),
            dtype=signal.dtype,
        )

    def get_config(self):
        config = super().get_config()
        config.update(output_size=self.output_size)
        return config


def unpool(signal, switches, output_size):
    """Functional unpooling: scatter-add ``signal`` at ``switches``.

    Args:
        signal: ``(B, H', W', C)`` tensor.
        switches: int64 flat batch-inclusive indices, same shape.
        output_size: ``(H, W)`` of the pooled input (ints or scalar tensors).

    Returns:
        ``(B, H, W, C)`` tensor; duplicates summed.
    """
    signal = tf.convert_to_tensor(signal)
    shape = tf.shape(signal, out_type=tf.int64)
    h, w = (tf.cast(v, tf.int64) for v in output_size)
    out_shape = tf.stack([shape[0], h, w, shape[3]])
    flat = tf.scatter_nd(
        tf.reshape(tf.cast(switches, tf.int64), [-1, 1]),
        tf.reshape(signal, [-1]),
        tf.reshape(tf.reduce_prod(out_shape), [1]),
    )
    out = tf.reshape(flat, out_shape)
    static_hw = tuple(v if isinstance(v, int) else None for v in output_size)
    out.set_shape([signal.shape[0], static_hw[0], static_hw[1], signal.shape[3]])
    return out


def unpool_like(signal, switches, pooled_input, pool_size, strides, padding):
    """`unpool` through TensorFlow's fused ``MaxPoolGradWithArgmax`` kernel.

    Same result as ``unpool(signal, switches, pooled_input.shape[1:3])``
    (duplicates summed), an order of magnitude faster on CPU, but it needs
    the pooling parameters and the pooled input (for its shape) -- which the
    deconvnet has. Used on the deconvnet's way down.

    Args:
        signal: ``(B, H', W', C)`` tensor.
        switches: switches from `max_pool_with_argmax` with the same
            parameters.
        pooled_input: the ``(B, H, W, C)`` tensor that was pooled.
        pool_size, strides: pairs; padding: ``"valid"`` or ``"same"``.

    Returns:
        ``(B, H, W, C)`` tensor.
    """
    return tf.raw_ops.MaxPoolGradWithArgmax(
        input=pooled_input,
        grad=tf.cast(signal, pooled_input.dtype),
        argmax=switches,
        ksize=[1, pool_size[0], pool_size[1], 1],
        strides=[1, strides[0], strides[1], 1],
        padding=padding.upper(),
        include_batch_in_index=True,
    )
