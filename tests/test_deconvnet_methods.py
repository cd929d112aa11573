"""The three backward rules of one engine -- deconvnet, guided backprop,
gradient -- against independent oracles, and ``unpooling="auto"``.

Oracles (tests/oracle.py): guided backprop = the model's own forward pass
with every Relu/Relu6 backward replaced by relu(grad) where the forward op
passed its input (both masks); gradient = an eager `tf.GradientTape` over a
Keras sub-model, no override at all.
"""

import numpy as np
import pytest
import keras

import zfkeras
from zfkeras.deconv import Deconvnet, unpooling as unpooling_choice
from zfkeras.utils.errors import InputError
from tests import oracle
from tests.test_deconv_graph import _residual_concat_model
from zfkeras.methods.unit import Unit

L = keras.layers


def _images(n, shape, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n, *shape)).astype("float32")


def _check(model, deconv, layers, n=2, seed=0):
    """Each method's projections from each layer equal their oracle within 1e-4."""
    images = _images(n, model.input_shape[1:], seed)
    rng = np.random.RandomState(seed + 1)
    for layer in layers:
        channels = oracle.live_channels(model, images, layer, rng)
        guided = deconv.project(images, Unit(layer, channels), method="guided_backprop")
        ref, positions = oracle.graph_project(model, images, layer, channels, method="guided_backprop")
        assert np.abs(ref).sum() > 0, layer
        assert oracle.rel_err(guided, ref).max() < 1e-4, layer
        gradient = deconv.project(images, Unit(layer, channels), method="gradient")
        ref = oracle.tape_gradient(model, images, layer, channels, positions)
        assert np.abs(ref).sum() > 0, layer
        assert oracle.rel_err(gradient, ref).max() < 1e-4, layer
        # the three rules differ: otherwise the test above proves nothing about the masks
        plain = deconv.project(images, Unit(layer, channels))
        if layer not in ("conv1", "norm1"):  # below a single rectifier the three (nearly) agree
            assert oracle.rel_err(plain, guided).max() > 1e-3, layer
            assert oracle.rel_err(guided, gradient).max() > 1e-3, layer


@pytest.fixture(scope="module")
def small_model():
    return zfkeras.zfnet_small((28, 28, 1), 10, seed=3)


@pytest.mark.parametrize("unpooling", ["switches", "max_pool_grad"])
def test_zfnet_small_methods_match_oracles(small_model, unpooling):
    """A chain with LRN (guided backprop and gradient take its true gradient)."""
    _check(small_model, Deconvnet(small_model, unpooling=unpooling), ["conv1", "norm1", "conv3", "pool5"])


def test_graph_methods_match_oracles():
    """Residual add, fan-out, concatenation, batch norm, max and average pooling."""
    model = _residual_concat_model()
    _check(model, Deconvnet(model), ["relu_a", "relu_add", "concat", "top"])


def test_mobile_layers_methods_match_oracles():
    """relu6 (both masks: 0 < y < 6), depthwise, separable, dilation, groups."""
    keras.utils.set_random_seed(12)
    model = keras.Sequential([
        keras.Input((15, 15, 3)),
        L.Conv2D(8, 3, padding="same", name="c1"),
        L.ReLU(6.0, name="r1"),
        L.DepthwiseConv2D(3, padding="same", activation="relu6", name="dw"),
        L.SeparableConv2D(8, 3, padding="valid", activation="relu", name="sep"),
        L.Conv2D(8, 3, padding="same", dilation_rate=2, activation="relu", name="dil"),
        L.Conv2D(8, 1, groups=2, activation="relu", name="grp"),
    ])
    # large weights push relu6 inputs above 6, so the upper mask matters
    for layer in model.layers[:3]:
        layer.set_weights([w * 10 for w in layer.get_weights()])
    dw = keras.Model(model.inputs[0], model.get_layer("dw").output)(_images(2, (15, 15, 3))).numpy()
    assert 0.05 < (dw == 6).mean() < 0.5
    _check(model, Deconvnet(model), ["sep", "dil", "grp"])


@pytest.mark.parametrize("name, layer", [("ResNet50", "conv3_block1_out"), ("MobileNetV2", "block_3_project_BN")])
def test_keras_applications_methods_match_oracles(name, layer):
    keras.utils.set_random_seed(5)
    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=5)
    oracle.randomize_batch_norm(model)
    _check(model, Deconvnet(model), [layer], n=2)


def test_method_is_checked(small_model):
    deconv = Deconvnet(small_model, unpooling="switches")
    with pytest.raises(InputError, match="method must be one of 'deconvnet', 'guided_backprop', "
                                         "'gradient'; got 'saliency'"):
        deconv.project(_images(1, (28, 28, 1)), Unit("conv1", 0), method="saliency")
    with pytest.raises(InputError, match="method must be one of"):
        deconv.projection_function("conv1", method="lrp")


# -- unpooling="auto" -------------------------------------------------------


def test_auto_is_the_default_and_gives_the_same_projections(small_model):
    auto = Deconvnet(small_model)
    assert auto.unpooling == "auto"
    assert auto.resolved_unpooling in ("switches", "max_pool_grad")
    images = _images(3, (28, 28, 1), seed=4)
    for method in ("deconvnet", "gradient"):
        ours = auto.project(images, Unit("conv5", 1), method=method)
        for mode in ("switches", "max_pool_grad"):
            other = Deconvnet(small_model, unpooling=mode).project(images, Unit("conv5", 1), method=method)
            np.testing.assert_allclose(ours, other, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("times, chosen", [([2.0, 1.0], "max_pool_grad"), ([1.0, 2.0], "switches")])
def test_auto_picks_the_faster_path(small_model, monkeypatch, times, chosen):
    timed = []

    def fake_timed(fns, repeats=unpooling_choice.PROBE_REPEATS):
        for fn in fns:
            fn()  # the probe functions run: each path's pools at the model's shapes
        timed.append(len(fns))
        return times

    monkeypatch.setattr(unpooling_choice, "timed", fake_timed)
    deconv = Deconvnet(small_model)
    assert deconv.resolved_unpooling == chosen
    assert deconv.resolved_unpooling == chosen and timed == [2]  # measured once
    assert deconv.plan.steps[deconv.layer_names.index("pool1")].rule.unpooling == chosen


def test_auto_without_max_pools_measures_nothing(monkeypatch):
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(2, 3, activation="relu", name="c")])
    monkeypatch.setattr(unpooling_choice, "timed", lambda *a, **k: pytest.fail("timed"))
    assert Deconvnet(model).resolved_unpooling == "switches"
    unsized = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(2, 3, name="c"),
                                L.MaxPooling2D(2, name="p")])
    assert Deconvnet(unsized).resolved_unpooling == "max_pool_grad"
