"""Deconvnet on graphs: branches, merges, nested models, more layer types,
and keras.applications models, each against the gradient oracle
(tests/oracle.py: every Relu/Relu6 backward replaced by relu(grad), BN in
inference mode)."""

import numpy as np
import pytest
import keras

from zfkeras.deconv import SUPPORTED_LAYERS, Deconvnet
from tests import oracle
from zfkeras.methods.unit import Unit

L = keras.layers


def _images(n, shape, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n, *shape)).astype("float32")


def _check_layers(model, layers, n=3, seed=0, unpooling="switches", deconv=None):
    """Projections from each of `layers` equal the oracle within 1e-4 relative."""
    deconv = deconv or Deconvnet(model, unpooling=unpooling)
    images = _images(n, model.input_shape[1:], seed)
    rng = np.random.RandomState(seed + 1)
    for layer in layers:
        channels = oracle.live_channels(model, images, layer, rng)
        ours = deconv.project(images, Unit(layer, channels))
        ref, _ = oracle.graph_project(model, images, layer, channels)
        assert np.abs(ref).sum() > 0, layer
        assert oracle.rel_err(ours, ref).max() < 1e-4, layer
    return deconv


def _residual_concat_model():
    keras.utils.set_random_seed(11)
    inp = keras.Input((17, 17, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    x = L.BatchNormalization(name="bn0")(x)
    a = L.Conv2D(8, 3, padding="same", name="branch_a")(x)
    a = L.BatchNormalization(name="bn_a")(a)
    a = L.Activation("relu", name="relu_a")(a)
    b = L.Conv2D(8, 1, name="branch_b")(x)  # x fans out to a, b and the skip
    s = L.Add(name="add")([a, b, x])
    s = L.ReLU(name="relu_add")(s)
    p = L.MaxPooling2D(3, strides=2, padding="same", name="pool")(s)
    q = L.AveragePooling2D(2, name="avg")(s)
    q = L.ZeroPadding2D(((1, 0), (1, 0)), name="pad")(q)
    q = L.Cropping2D(((0, 0), (0, 0)), name="nocrop")(q)
    c = L.Concatenate(name="concat")([p, q])
    c = L.Conv2D(6, 3, activation="relu", name="top")(c)
    out = L.Dense(4)(L.GlobalAveragePooling2D(name="gap")(c))
    model = keras.Model(inp, out)
    oracle.randomize_batch_norm(model)
    return model


@pytest.mark.parametrize("unpooling", ["switches", "max_pool_grad"])
def test_residual_and_concat_match_oracle(unpooling):
    model = _residual_concat_model()
    _check_layers(model, ["bn0", "relu_a", "add", "relu_add", "pool", "avg", "concat", "top"],
                  unpooling=unpooling)


def test_mobile_blocks_match_oracle():
    """DepthwiseConv2D, SeparableConv2D, relu6, dilation, groups, Cropping2D."""
    keras.utils.set_random_seed(12)
    model = keras.Sequential([
        keras.Input((19, 19, 4)),
        L.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="c1"),
        L.BatchNormalization(name="bn1"),
        L.ReLU(6.0, name="r1"),
        L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu6", name="dw"),
        L.SeparableConv2D(8, 3, strides=2, padding="valid", activation="relu", name="sep"),
        L.Conv2D(8, 3, padding="same", dilation_rate=2, activation="relu", name="dil"),
        L.Conv2D(8, 2, padding="same", groups=4, name="grp"),
        L.Activation("relu6", name="r2"),
        L.Cropping2D(((1, 0), (0, 1)), name="crop"),
        L.DepthwiseConv2D(2, strides=2, name="dw2"),
    ])
    oracle.randomize_batch_norm(model)
    # Scaled inputs so that relu6 saturates somewhere (its rule ignores the cap).
    model_layers = ["bn1", "r1", "dw", "sep", "dil", "grp", "r2", "crop", "dw2"]
    deconv = Deconvnet(model)
    images = _images(3, (19, 19, 4), seed=3) * 20
    for layer in model_layers:
        c = deconv.layer_output_shape(layer)[-1]
        channels = np.arange(3) % c
        ours = deconv.project(images, Unit(layer, channels))
        ref, _ = oracle.graph_project(model, images, layer, channels)
        assert np.abs(ref).sum() > 0, layer
        assert oracle.rel_err(ours, ref).max() < 1e-4, layer


def test_nested_models_are_walked_into():
    keras.utils.set_random_seed(13)
    conv, bn, relu = L.Conv2D(6, 3, name="conv"), L.BatchNormalization(name="bn"), L.ReLU(name="relu")
    inner = keras.Sequential([keras.Input((14, 14, 3)), conv, bn, relu], name="inner")
    block_in = keras.Input((12, 12, 6))
    block_conv = L.Conv2D(6, 3, padding="same", activation="relu", name="bconv")
    block_add = L.Add(name="badd")
    block = keras.Model(block_in, block_add([block_conv(block_in), block_in]), name="block")
    middle = keras.Sequential([keras.Input((14, 14, 3)), inner, block], name="middle")
    pool, top = L.MaxPooling2D(2, name="pool"), L.Conv2D(4, 3, activation="relu", name="top")
    inp = keras.Input((14, 14, 3))
    rescale = L.Rescaling(2.0, offset=-1.0, name="rescale")
    outer = keras.Model(inp, top(pool(middle(rescale(inp)))), name="outer")
    oracle.randomize_batch_norm(outer)
    deconv = Deconvnet(outer)
    assert deconv.layer_names == ["rescale", "middle/inner/conv", "middle/inner/bn", "middle/inner/relu",
                                  "middle/block/bconv", "middle/block/badd", "pool", "top"]
    # The oracle runs on a flat twin made of the same layer objects (same weights).
    x = keras.Input((14, 14, 3))
    flat_bn = bn(conv(rescale(x)))
    y = relu(flat_bn)
    flat_add = block_add([block_conv(y), y])
    flat_top = top(pool(flat_add))
    flat = keras.Model(x, flat_top)
    images = _images(3, (14, 14, 3), seed=4)
    for nested_name, tensor in [("middle/inner/bn", flat_bn), ("middle/block/badd", flat_add), ("top", flat_top)]:
        channels = np.array([0, 1, 2])
        ours = deconv.project(images, Unit(nested_name, channels))
        ref, _ = oracle.graph_project(flat, images, tensor, channels)
        assert np.abs(ref).sum() > 0
        assert oracle.rel_err(ours, ref).max() < 1e-4, nested_name
    with pytest.raises(ValueError, match="unknown layer 'conv'.*middle/inner/conv"):
        deconv.project(images, Unit("conv", 0))


@pytest.mark.parametrize("make_layer, type_name", [
    (lambda: L.Activation("swish", name="bad"), "Activation with activation 'silu'"),
    (lambda: L.Conv2D(4, 1, activation="sigmoid", name="bad"), "Conv2D with activation 'sigmoid'"),
    (lambda: L.ReLU(negative_slope=0.1, name="bad"), "ReLU with negative_slope"),
    (lambda: L.ReLU(max_value=4.0, name="bad"), "ReLU with max_value=4.0"),
])
def test_unsupported_configurations_are_named(make_layer, type_name):
    model = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(4, 3, name="c"), make_layer()])
    with pytest.raises(ValueError, match=f"layer 'bad' of type {type_name}.*Supported layers"):
        Deconvnet(model)


def test_squeeze_excite_multiply_is_refused():
    inp = keras.Input((8, 8, 4))
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="c")(inp)
    se = L.Dense(4, activation="sigmoid")(L.GlobalAveragePooling2D(keepdims=True)(x))
    y = L.Multiply(name="se_mul")([x, se])
    with pytest.raises(ValueError, match="'se_mul' of type Multiply\\. Supported layers before the classifier head:.*Concatenate"):
        Deconvnet(keras.Model(inp, L.Conv2D(2, 1)(y)))


def test_supported_layers_names_every_family():
    for name in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "BatchNormalization", "Add",
                 "Concatenate", "AveragePooling2D", "Cropping2D", "nested keras.Model"):
        assert name in SUPPORTED_LAYERS


def test_layer_called_twice_is_refused():
    inp = keras.Input((8, 8, 2))
    conv = L.Conv2D(2, 3, padding="same", name="shared")
    with pytest.raises(ValueError, match="'shared' is called more than once"):
        Deconvnet(keras.Model(inp, conv(conv(inp))))


def test_switches_output_cannot_be_mirrored():
    from zfkeras.layers import MaxPoolWithArgmax, MaxUnpool2D
    inp = keras.Input((8, 8, 2))
    x = L.Conv2D(2, 3, padding="same", name="c")(inp)
    pooled, switches = MaxPoolWithArgmax(2, name="p")(x)
    with pytest.raises(ValueError, match="consumes output 1 of 'p'"):
        Deconvnet(keras.Model(inp, MaxUnpool2D(name="u")(pooled, switches)))


# -- keras.applications, weights=None (nothing is downloaded) ---------------

_APPLICATIONS = [  # the last trunk layer: its projection goes through every block
    ("VGG16", (32, 32, 3), ["block5_pool"]),
    ("ResNet50", (32, 32, 3), ["conv5_block3_out"]),
    ("MobileNetV2", (32, 32, 3), ["out_relu"]),
    ("DenseNet121", (32, 32, 3), ["relu"]),
]


@pytest.mark.parametrize("name, shape, layers", _APPLICATIONS, ids=[a[0] for a in _APPLICATIONS])
def test_keras_applications_match_oracle(name, shape, layers):
    keras.utils.set_random_seed(14)
    model = getattr(keras.applications, name)(weights=None, input_shape=shape, classes=5)
    oracle.randomize_batch_norm(model)
    deconv = Deconvnet(model)
    # Geometry from the rules gives Keras' own shapes for every mirrored layer.
    for layer_name in deconv.layer_names:
        assert deconv.layer_output_shape(layer_name) == tuple(model.get_layer(layer_name).output.shape[1:])
    _check_layers(model, layers, n=2, deconv=deconv)
    with pytest.raises(ValueError, match="'predictions' is in the classifier head"):
        deconv.project(_images(1, shape), Unit("predictions", 0))


def test_trunk_fed_by_a_head_layer_is_refused():
    inp = keras.Input((8, 8, 4))
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="c")(inp)
    gate = L.Dense(4)(L.GlobalAveragePooling2D(keepdims=True)(x))
    y = L.Add(name="mix")([x, gate])
    with pytest.raises(ValueError, match="'mix' \\(Add\\) combines the convolutional trunk with the output of a head"):
        Deconvnet(keras.Model(inp, L.Conv2D(2, 1)(y)))
