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


# -- graphs: gradient_override_map on the model's own ops ---------------------

_RECTIFY = "ZfkerasOracleRectify"
try:
    @tf.RegisterGradient(_RECTIFY)
    def _rectify_gradient(op, grad):
        return tf.nn.relu(grad)
except KeyError:  # already registered by an earlier import of this module
    pass

_GUIDED = "ZfkerasOracleGuided"
try:
    @tf.RegisterGradient(_GUIDED)
    def _guided_gradient(op, grad):
        # Springenberg et al.: the forward mask (where the rectifier passed its
        # input) and the backward rectification, both
        y = op.outputs[0]
        passed = y > 0 if op.type == "Relu" else (y > 0) & (y < 6)
        return tf.where(passed, tf.nn.relu(grad), tf.zeros_like(grad))
except KeyError:
    pass

# backward rule -> the gradient override of Relu and Relu6 ops (None: autodiff's own)
OVERRIDES = {"deconvnet": _RECTIFY, "guided_backprop": _GUIDED, "gradient": None}


def gradient_function(model, layer, method="deconvnet"):
    """A tf.function ``(images, channels[, positions]) -> (projection, positions)``.

    Forward pass of ``model`` up to ``layer``'s output in inference mode
    (BatchNormalization uses its moving statistics), with the backward of
    every ``Relu`` and ``Relu6`` op replaced by ``relu(grad)`` (``method``
    "deconvnet"), by ``relu(grad)`` where the forward op passed its input
    ("guided_backprop"), or kept ("gradient"); the seed is
    the chosen activation's value, zero elsewhere (None positions: each
    channel's strongest activation). ``layer`` is a layer name of
    ``model`` or a symbolic tensor of its graph (for layers shared with
    another model, whose ``.output`` is ambiguous).
    """
    end = model.get_layer(layer).output if isinstance(layer, str) else layer
    sub = keras.Model(model.inputs[0], end)

    @tf.function(reduce_retracing=True, autograph=False)
    def run(images, channels, positions=None):
        override = OVERRIDES[method]
        overrides = {} if override is None else {"Relu": override, "Relu6": override}
        with tf.compat.v1.get_default_graph().gradient_override_map(overrides):
            act = sub(images, training=False)
        n = tf.shape(act)[0]
        if positions is None:
            maps = tf.gather(tf.transpose(act, [0, 3, 1, 2]), channels, axis=1, batch_dims=1)
            flat = tf.argmax(tf.reshape(maps, [n, -1]), axis=1, output_type=tf.int32)
            positions = tf.stack([flat // tf.shape(act)[2], flat % tf.shape(act)[2]], axis=1)
        idx = tf.stack([tf.range(n), positions[:, 0], positions[:, 1], channels], axis=1)
        seed = tf.scatter_nd(idx, tf.gather_nd(act, idx), tf.shape(act))
        return tf.gradients(act, images, grad_ys=seed)[0], positions

    return run


def graph_project(model, images, layer, channels, positions=None, method="deconvnet"):
    """The oracle on any graph model: see `gradient_function`. Returns numpy
    ``(projection, positions)``."""
    args = [tf.constant(images, tf.float32), tf.constant(np.asarray(channels), tf.int32)]
    if positions is not None:
        args.append(tf.constant(np.asarray(positions), tf.int32))
    projection, used = gradient_function(model, layer, method)(*args)
    return projection.numpy(), used.numpy()


def tape_gradient(model, images, layer, channels, positions):
    """The plain gradient, eagerly with `tf.GradientTape` (no override, no
    graph rewriting): each chosen activation's value times its gradient with
    respect to the image. ``layer`` is a layer name of ``model``."""
    images = tf.constant(images, tf.float32)
    sub = keras.Model(model.inputs[0], model.get_layer(layer).output)
    index = np.stack([np.arange(len(channels)), positions[:, 0], positions[:, 1], channels], axis=1)
    with tf.GradientTape() as tape:
        tape.watch(images)
        chosen = tf.gather_nd(sub(images, training=False), index)
        # the seed is the value, a constant: d(value * stop(value)) / dx = value * d value / dx
        score = tf.reduce_sum(chosen * tf.stop_gradient(chosen))
    return tape.gradient(score, images).numpy()


def live_channels(model, images, layer, rng):
    """A random channel among those active in each image (dead ones project to
    zero, which would test nothing)."""
    act = keras.Model(model.inputs[0], model.get_layer(layer).output)(images, training=False).numpy()
    return np.array([rng.choice(np.flatnonzero(a)) for a in act.max(axis=(1, 2)) > 0])


def rel_err(a, b):
    """Per-image relative L2 error; an all-zero reference needs an all-zero match."""
    num = np.sqrt(((a - b) ** 2).reshape(len(a), -1).sum(1))
    den = np.sqrt((b**2).reshape(len(b), -1).sum(1))
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.where(num > 0, np.inf, 0))


def randomize_batch_norm(model, seed=0):
    """Random gamma, beta and moving statistics in every BatchNormalization
    (fresh ones are the identity, which would test nothing)."""
    rng = np.random.RandomState(seed)
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            weights = []
            for w in layer.weights:
                shape = tuple(w.shape)
                if "variance" in w.path:
                    weights.append(rng.uniform(0.5, 2.0, shape).astype("float32"))
                elif "gamma" in w.path:
                    weights.append((rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)).astype("float32"))
                else:
                    weights.append(rng.normal(0, 0.3, shape).astype("float32"))
            layer.set_weights(weights)


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer
