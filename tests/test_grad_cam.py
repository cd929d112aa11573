"""Grad-CAM, guided Grad-CAM and class projections: against numpy on a model
small enough to write by hand, and against the gradient definition (tape,
Relu-override oracle) on a graph model."""

import numpy as np
import pytest
import keras
import tensorflow as tf

import zfkeras
from zfkeras.utils.errors import InputError
from zfkeras.methods.grad_cam import class_projection, guided_grad_cam
from tests import oracle
from tests.test_deconv_graph import _residual_concat_model

L = keras.layers


def _images(n, shape, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n, *shape)).astype("float32")


def _numpy_conv_relu(x, kernel, bias):
    """VALID 'correlation' as Keras convolves, then relu."""
    kh, kw, _, k = kernel.shape
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((len(x), h, w, k))
    for i in range(h):
        for j in range(w):
            out[:, i, j] = np.einsum("nabc,abck->nk", x[:, i:i + kh, j:j + kw], kernel) + bias
    return np.maximum(out, 0)


def test_grad_cam_matches_numpy_on_a_hand_model():
    """conv(relu) -> global average -> Dense(softmax): dS/dA_k = W[k, c] / (h w), by hand."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((7, 7, 2)), L.Conv2D(3, 3, activation="relu", name="conv"),
                              L.GlobalAveragePooling2D(), L.Dense(4, activation="softmax", name="out")])
    x = _images(5, (7, 7, 2), seed=1)
    kernel, bias = (v.numpy() for v in model.get_layer("conv").weights)
    dense = model.get_layer("out").kernel.numpy()
    maps = _numpy_conv_relu(x, kernel, bias)  # (5, 5, 5, 3)
    classes = np.array([0, 1, 2, 3, 1])
    alpha = dense[:, classes].T / (5 * 5)  # (N, K): the logit's gradient, averaged over positions
    cam = np.maximum(np.einsum("nyxk,nk->nyx", maps, alpha), 0)
    expected = tf.image.resize(cam[..., None].astype("float32"), (7, 7))[..., 0].numpy()
    ours = zfkeras.grad_cam(model, x, "conv", targets=classes, verbose=0)
    assert ours.shape == (5, 7, 7) and ours.max() > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-7)
    # default: the predicted class
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    np.testing.assert_allclose(zfkeras.grad_cam(model, x, "conv", verbose=0),
                               zfkeras.grad_cam(model, x, "conv", targets=predicted, verbose=0))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 4\)"):
        zfkeras.grad_cam(model, x, "conv", targets=4, verbose=0)


def test_the_old_classes_keyword_still_works_and_warns():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((7, 7, 2)), L.Conv2D(3, 3, activation="relu", name="conv"),
                              L.GlobalAveragePooling2D(), L.Dense(4, name="out")])
    x = _images(2, (7, 7, 2), seed=1)
    with pytest.warns(DeprecationWarning, match="'classes' is deprecated.*'targets'"):
        old = zfkeras.grad_cam(model, x, "conv", classes=[1, 2], verbose=0)
    np.testing.assert_array_equal(old, zfkeras.grad_cam(model, x, "conv", targets=[1, 2], verbose=0))
    with pytest.warns(DeprecationWarning, match="'classes' is deprecated"):
        old = class_projection(model, x, classes=[1, 2], verbose=0)
    np.testing.assert_array_equal(old, class_projection(model, x, targets=[1, 2], verbose=0))


def _definition(model, images, layer, score_fn):
    """Grad-CAM by its definition: Keras sub-model, tape, mean gradient, relu."""
    sub = keras.Model(model.inputs[0], [model.get_layer(layer).output, model.outputs[0]])
    with tf.GradientTape() as tape:
        maps, out = sub(tf.constant(images), training=False)
        score = score_fn(out)
    grads = tape.gradient(score, maps)
    cam = tf.nn.relu(tf.reduce_sum(tf.reduce_mean(grads, axis=(1, 2), keepdims=True) * maps, -1))
    return tf.image.resize(cam[..., None], images.shape[1:3])[..., 0].numpy()


@pytest.fixture(scope="module")
def graph_model():
    return _residual_concat_model()  # residual add, fan-out, concat; GAP -> Dense(4) logits


def test_grad_cam_matches_the_gradient_definition_on_a_graph(graph_model):
    x = _images(4, (17, 17, 3), seed=2)
    classes = np.array([0, 3, 2, 1])
    expected = _definition(graph_model, x, "concat",
                           lambda out: tf.gather(out, classes, axis=1, batch_dims=1))
    ours = zfkeras.grad_cam(graph_model, x, "concat", targets=classes, verbose=0, batch_size=3)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)


def test_grad_cam_of_a_unit(graph_model):
    x = _images(3, (17, 17, 3), seed=4)
    top = keras.Model(graph_model.inputs[0], graph_model.get_layer("top").output)(x).numpy()[..., 2]
    flat = top.reshape(3, -1).argmax(axis=1)
    sub = keras.Model(graph_model.inputs[0], [graph_model.get_layer("relu_add").output,
                                              graph_model.get_layer("top").output])
    with tf.GradientTape() as tape:
        maps, unit_maps = sub(tf.constant(x), training=False)
        score = tf.gather(tf.reshape(unit_maps[..., 2], [3, -1]), flat, axis=1, batch_dims=1)
    grads = tape.gradient(score, maps)
    cam = tf.nn.relu(tf.reduce_sum(tf.reduce_mean(grads, axis=(1, 2), keepdims=True) * maps, -1))
    expected = tf.image.resize(cam[..., None], (17, 17))[..., 0].numpy()
    ours = zfkeras.grad_cam(graph_model, x, "relu_add", unit=zfkeras.Unit("top", 2), verbose=0)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)
    # the unit as targets is the same; its position fixed to the strongest gives the same maps
    np.testing.assert_array_equal(zfkeras.grad_cam(graph_model, x, "relu_add", zfkeras.Unit("top", 2),
                                                   verbose=0), ours)
    w = top.shape[2]
    per_image = zfkeras.Unit("top", 2, position=[(int(f // w), int(f % w)) for f in flat])
    np.testing.assert_allclose(zfkeras.grad_cam(graph_model, x, "relu_add", unit=per_image, verbose=0),
                               ours, rtol=1e-5, atol=1e-7)
    with pytest.raises(InputError, match="targets .classes. or unit, not both"):
        zfkeras.grad_cam(graph_model, x, "relu_add", targets=0, unit=zfkeras.Unit("top", 2))
    with pytest.raises(InputError, match="outside layer 'top'"):
        zfkeras.grad_cam(graph_model, x, "relu_add", unit=zfkeras.Unit("top", 2, position=(0, 99)))
    with pytest.raises(ValueError, match="channel must be in"):
        zfkeras.grad_cam(graph_model, x, "relu_add", unit=zfkeras.Unit("top", 999))
    with pytest.warns(DeprecationWarning, match="zfkeras.Unit"):
        old = zfkeras.grad_cam(graph_model, x, "relu_add", unit=("top", 2), verbose=0)
    np.testing.assert_array_equal(old, ours)


def test_grad_cam_of_a_unit_per_image(graph_model):
    """One channel and one position per image: each image's map is that of its own unit."""
    x = _images(3, (17, 17, 3), seed=7)
    unit = zfkeras.Unit("top", [0, 2, 1], position=[(1, 2), (3, 0), (2, 2)])
    ours = zfkeras.grad_cam(graph_model, x, "relu_add", unit=unit, verbose=0, batch_size=2)
    for i in range(3):
        alone = zfkeras.grad_cam(graph_model, x[i:i + 1], "relu_add",
                                 unit=zfkeras.Unit("top", unit.channel[i], position=unit.position[i]), verbose=0)
        np.testing.assert_allclose(ours[i:i + 1], alone, rtol=1e-5, atol=1e-7)
    assert not np.allclose(ours[0], ours[1])


def _guided_logit_gradient(model, images, classes):
    """Springenberg's guided backprop of the class logit: every Relu's
    backward relu(grad) * forward mask (the oracle's override)."""

    @tf.function(autograph=False)
    def run(x):
        with tf.compat.v1.get_default_graph().gradient_override_map(
                {"Relu": oracle.OVERRIDES["guided_backprop"], "Relu6": oracle.OVERRIDES["guided_backprop"]}):
            out = model(x, training=False)
        return tf.gradients(tf.gather(out, classes, axis=1, batch_dims=1), x)[0]

    return run(tf.constant(images)).numpy()


def test_guided_grad_cam_is_grad_cam_times_guided_backprop(graph_model):
    """The graph's head (GAP, Dense) has no ReLU, so our guided backprop of the
    class logit is the full Springenberg one."""
    x = _images(3, (17, 17, 3), seed=5)
    classes = np.array([1, 0, 3])
    guided = _guided_logit_gradient(graph_model, x, classes)
    cam = zfkeras.grad_cam(graph_model, x, "concat", targets=classes, verbose=0)
    ours = guided_grad_cam(graph_model, x, "concat", targets=classes, verbose=0)
    assert np.abs(guided).max() > 0 and ours.shape == x.shape
    np.testing.assert_allclose(ours, cam[..., None] * guided, rtol=1e-4, atol=1e-6)
    projected = class_projection(graph_model, x, classes, method="guided_backprop", verbose=0)
    assert oracle.rel_err(projected, guided).max() < 1e-4


def test_class_projection_gradient_is_the_logit_gradient():
    """zfnet_small (LRN; a head with ReLUs and a softmax): the class logit's gradient."""
    model = zfkeras.zfnet_small((28, 28, 1), 10, seed=0)
    x = _images(3, (28, 28, 1), seed=6)
    classes = np.array([2, 5, 7])
    fc8 = model.get_layer("fc8")
    below = keras.Model(model.inputs[0], fc8.input)
    images = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = tf.matmul(below(images, training=False), fc8.kernel) + fc8.bias
        score = tf.gather(logits, classes, axis=1, batch_dims=1)
    expected = tape.gradient(score, images).numpy()
    ours = class_projection(model, x, classes, method="gradient", verbose=0)
    assert np.abs(expected).max() > 0
    assert oracle.rel_err(ours, expected).max() < 1e-4
    deconv = class_projection(model, x, classes, method="deconvnet", verbose=0)
    assert oracle.rel_err(deconv, expected).min() > 1e-2  # a different rule, a different picture


def test_class_guided_backprop_goes_through_the_head_relus():
    """A Dense(relu) head: the class's guided backprop is Springenberg's over
    the whole network (the head's ReLU guided too), not only below the head."""
    keras.utils.set_random_seed(8)
    model = keras.Sequential([keras.Input((12, 12, 2)), L.Conv2D(6, 3, activation="relu"), L.MaxPooling2D(2),
                              L.Conv2D(6, 3, activation="relu"), L.Flatten(), L.Dense(16, activation="relu"),
                              L.Dense(3)])
    x = _images(4, (12, 12, 2), seed=9)
    classes = np.array([0, 1, 2, 1])
    guided = _guided_logit_gradient(model, x, classes)
    ours = class_projection(model, x, classes, method="guided_backprop", verbose=0)
    assert np.abs(guided).max() > 0
    assert oracle.rel_err(ours, guided).max() < 1e-4
