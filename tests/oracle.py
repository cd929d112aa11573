"""Independent oracle for deconvnet projections (test helper).

The paper's deconvnet equals back-propagation of the chosen activation with
every ReLU's backward replaced by ``relu(signal)`` (and the contrast
normalisation skipped). Here that gradient is computed with TensorFlow's own
autodiff over a forward pass written directly with ``tf.nn`` ops -- no
switches, no unpooling, no conv2d_transpose of ours.
"""

import numpy as np
import keras
import tensorflow as tf

from zfkeras.layers import LocalResponseNormalization


@tf.custom_gradient
def _relu_deconv_backward(x):
    def grad(dy):
        return tf.nn.relu(dy)

    return tf.nn.relu(x), grad


def _identity_backward(fn, x):
    y = fn(x)
    return x + tf.stop_gradient(y - x)


def forward(model, x, upto):
    """Runs the chain of `model` up to layer `upto` with overridden backwards."""
    layers = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    for layer in layers:
        if isinstance(layer, keras.layers.Conv2D):
            y = tf.nn.conv2d(x, layer.kernel, list(layer.strides), layer.padding.upper())
            if layer.use_bias:
                y = y + layer.bias
            x = _relu_deconv_backward(y) if layer.activation.__name__ == "relu" else y
        elif isinstance(layer, keras.layers.MaxPooling2D):
            x = tf.nn.max_pool2d(x, layer.pool_size, layer.strides, layer.padding.upper())
        elif isinstance(layer, keras.layers.ZeroPadding2D):
            (t, b), (l, r) = layer.padding
            x = tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]])
        elif isinstance(layer, keras.layers.ReLU):
            x = _relu_deconv_backward(x)
        elif isinstance(layer, LocalResponseNormalization):
            x = _identity_backward(lambda v: tf.nn.local_response_normalization(
                v, layer.size // 2, layer.k, layer.alpha, layer.beta), x)
        elif isinstance(layer, keras.layers.Rescaling):
            x = x * layer.scale + layer.offset
        elif isinstance(layer, keras.layers.Dropout):
            pass
        else:
            raise AssertionError(f"oracle does not know {type(layer).__name__}")
        if layer.name == upto:
            return x
    raise AssertionError(f"layer {upto} not found")


def project(model, images, layer, channels, positions=None):
    """Gradient of the chosen activation times its value (the oracle)."""
    images = tf.constant(images, tf.float32)
    channels = np.asarray(channels)
    with tf.GradientTape() as tape:
        tape.watch(images)
        act = forward(model, images, layer)
    a = act.numpy()
    n = a.shape[0]
    if positions is None:
        maps = a[np.arange(n), :, :, channels]
        flat = maps.reshape(n, -1).argmax(axis=1)
        positions = np.stack(np.unravel_index(flat, maps.shape[1:]), axis=1)
    positions = np.asarray(positions)
    seed = np.zeros_like(a)
    for i in range(n):
        y, x = positions[i]
        seed[i, y, x, channels[i]] = a[i, y, x, channels[i]]
    return tape.gradient(act, images, output_gradients=tf.constant(seed)).numpy(), positions
