"""zfkeras.graph.addressing: the one resolver of layer names (plain, or
"outer/inner" inside nested models) and the one model check, against
sub-models and hand computations built independently of it."""

import keras
import numpy as np
import pytest

from zfkeras.graph.addressing import (
    call_layer_outputs, layer_output_model, qualified_layer, resolve_layers,
)
from zfkeras.graph.walk import walk
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import check_model, model_input_shape

L = keras.layers


def _sequential():
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        L.Conv2D(3, 3, activation="relu", name="conv1"),
        L.Flatten(name="flat"),
        L.Dense(4, activation="softmax", name="out"),
    ], name="seq")


def _nested():
    inner_in = keras.Input((10, 10, 3))
    x = L.Conv2D(4, 3, activation="relu", name="conv1")(inner_in)
    x = L.Conv2D(5, 3, name="conv2")(x)
    base = keras.Model(inner_in, x, name="base")
    outer_in = keras.Input((10, 10, 3))
    y = base(L.Rescaling(0.25, offset=0.5, name="scale")(outer_in))
    out = L.Dense(3, activation="softmax", name="head")(L.GlobalAveragePooling2D()(y))
    return keras.Model(outer_in, out, name="outer"), base


def test_resolve_layers_names_and_messages():
    model, _ = _nested()
    assert resolve_layers(model, "base/conv2", "x") == (["base/conv2"], True)
    assert resolve_layers(model, ["head", "base/conv1", "head"], "x") == (["head", "base/conv1"], False)
    with pytest.raises(InputError, match=r"unknown layer 'base/conv9' for invariance; model 'outer' has layers "
                                         r"\['scale', 'base/conv1', 'base/conv2', "):
        resolve_layers(model, ["base/conv9"], "invariance")
    with pytest.raises(InputError, match=r"layer 'head' \(Dense, output shape \(None, 3\)\) is not a convolutional "
                                         r"feature map; mining needs .* one of \['scale', 'base/conv1', 'base/conv2'\]"):
        resolve_layers(model, "head", "mining", maps_only=True)
    with pytest.raises(InputError, match=r"layers is empty; give at least one layer name, e.g. \['scale', "):
        resolve_layers(model, [], "x")
    with pytest.raises(InputTypeError, match="layer names must be strings, got 3 of type int"):
        resolve_layers(model, ["head", 3], "x")
    with pytest.raises(InputTypeError, match="layers must be a layer name or a list of names, got 7"):
        resolve_layers(model, 7, "x")
    with pytest.raises(InputError, match="is the model's input, not a computed layer"):
        resolve_layers(model, model.layers[0].name, "x")


def test_qualified_layer_walks_into_nested_models():
    model, base = _nested()
    assert qualified_layer(model, "base/conv2") is base.get_layer("conv2")
    assert qualified_layer(model, "head") is model.get_layer("head")
    with pytest.raises(InputError, match="layer 'head' of model 'outer' is not a nested model; 'head/x'"):
        qualified_layer(model, "head/x")
    with pytest.raises(InputError, match=r"model 'base' has no layer 'nope' \(in 'nope/x'\)|has no layer 'nope'"):
        qualified_layer(base, "nope/x")


def test_nested_layer_outputs_equal_the_inner_model_run_directly():
    model, base = _nested()
    images = np.random.default_rng(0).uniform(0, 1, (4, 10, 10, 3)).astype("float32")
    probe = layer_output_model(model, ["base/conv2", "base/conv1"], with_output=True)
    conv2, conv1, out = call_layer_outputs(probe, images)
    # The oracle: the inner model's own sub-models on the outer preprocessing.
    inner = keras.Model(base.inputs[0], [base.get_layer("conv2").output, base.get_layer("conv1").output])
    want2, want1 = inner(images * 0.25 + 0.5)
    np.testing.assert_allclose(conv2, want2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(conv1, want1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, model(images), rtol=1e-5, atol=1e-6)


def test_sequential_models_have_outputs_but_no_output():
    model = _sequential()
    with pytest.raises((AttributeError, ValueError), match="has never been called"):
        model.output  # what the resolver must never read
    images = np.random.default_rng(1).uniform(-1, 1, (3, 6, 6, 2)).astype("float32")
    (conv,) = call_layer_outputs(layer_output_model(model, ["conv1"]), images)
    kernel, bias = (v.numpy() for v in model.get_layer("conv1").weights)
    # The oracle: the 3x3 valid convolution by hand.
    patches = np.stack([images[:, y:y + 3, x:x + 3] for y in range(4) for x in range(4)], axis=1)
    want = np.maximum(np.einsum("npyxc,yxck->npk", patches, kernel) + bias, 0).reshape(3, 4, 4, 3)
    np.testing.assert_allclose(conv, want, rtol=1e-5, atol=1e-5)


def test_one_model_check_for_the_walk_and_the_adapter():
    model, _ = _nested()
    assert check_model(model) is model and model_input_shape(model) == (10, 10, 3)
    for check in (check_model, model_input_shape, walk):
        with pytest.raises(InputTypeError, match="needs a keras.Model, got <Conv2D.* of type Conv2D"):
            check(L.Conv2D(2, 3))
        with pytest.raises(InputError, match="model 'unbuilt' is not built, it has no defined input"):
            check(keras.Sequential([L.Dense(2)], name="unbuilt"))
    a, b = keras.Input((4, 4, 1)), keras.Input((4, 4, 1))
    two_in = keras.Model([a, b], L.Add()([a, b]), name="two")
    with pytest.raises(InputError, match="needs a single-input model; model 'two' has 2 inputs"):
        model_input_shape(two_in)
    two_out = keras.Model(a, [L.Flatten()(a), L.Flatten()(a)], name="forked")
    assert check_model(two_out) is two_out  # the adapter reads the input only
    with pytest.raises(InputError, match="single-input, single-output model; model 'forked' has 1 inputs and 2"):
        walk(two_out)
