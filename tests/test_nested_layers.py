"""Layers inside nested models ("outer/inner", the names `Deconvnet` gives) for
`features`, `top_activations` and `occlusion`'s layer activity, against an
independent sub-model of the nested model on the outer preprocessing."""

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras.graph.addressing import layer_output, qualified_layer

L = keras.layers


def _nested():
    inner_in = keras.Input((16, 16, 3))
    x = L.Conv2D(4, 3, activation="relu", name="c1")(inner_in)
    x = L.MaxPooling2D(name="p1")(x)
    x = L.Conv2D(6, 3, activation="relu", name="c2")(x)
    base = keras.Model(inner_in, x, name="base")
    outer_in = keras.Input((16, 16, 3))
    y = base(L.Rescaling(0.5, name="scale")(outer_in))
    outputs = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(y))
    return keras.Model(outer_in, outputs, name="outer"), base


@pytest.fixture(scope="module")
def nested():
    model, base = _nested()
    images = np.random.default_rng(0).uniform(size=(20, 16, 16, 3)).astype("float32")
    oracle = {name: np.asarray(keras.Model(base.inputs, base.get_layer(name).output)(images * 0.5))
              for name in ("c1", "c2")}
    return model, base, images, oracle


def test_the_deconvnet_names_are_the_ones_the_tools_take(nested):
    model, base, _, _ = nested
    names = zfkeras.Deconvnet(model).layer_names
    assert "base/c1" in names and "base/c2" in names
    assert qualified_layer(model, "base/c2") is base.get_layer("c2")
    assert tuple(layer_output(model, "base/c2").shape) == (None, 5, 5, 6)


def test_features_of_a_nested_layer_equal_the_nested_models_own(nested):
    model, _, images, oracle = nested
    got = zfkeras.features(model, images, ["scale", "base/c2"], pool=None, verbose=0)
    np.testing.assert_allclose(got["base/c2"], oracle["c2"].reshape(len(images), -1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["scale"], (images * 0.5).reshape(len(images), -1), rtol=1e-6)


def test_top_activations_of_nested_layers_equal_brute_force(nested):
    model, _, images, oracle = nested
    top = zfkeras.top_activations(model, images, ["base/c1", "base/c2"], k=4, verbose=0)
    for name in ("c1", "c2"):
        maps = oracle[name]
        best = maps.reshape(len(images), -1, maps.shape[-1]).max(axis=1)  # (N, C)
        for channel in range(maps.shape[-1]):
            expected = np.sort(best[:, channel])[::-1][:4]
            got = top[f"base/{name}"]
            np.testing.assert_allclose(got.values[channel], expected, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(best[got.image_ids[channel], channel], expected, rtol=1e-5, atol=1e-6)


def test_occlusion_records_a_nested_layers_activity(nested):
    model, _, images, oracle = nested
    for method in ("full", "auto"):
        result = zfkeras.occlusion(model, images[:2], 6, 5, baseline=0.0, layer="base/c2", method=method, verbose=0)
        strongest = oracle["c2"][:2].reshape(2, -1, 6).max(axis=1).argmax(axis=1)
        np.testing.assert_array_equal(result.strongest_channel, strongest)
        occluded = images[:1].copy()
        occluded[:, 5:11, 10:16] = 0.0  # the square at corner (5, 10): grid position (1, 2)
        base_maps = np.asarray(keras.Model(model.get_layer("base").inputs,
                                           model.get_layer("base").get_layer("c2").output)(occluded * 0.5))
        assert result.layer_activity[0, 1, 2] == pytest.approx(float(base_maps[0, ..., strongest[0]].sum()),
                                                               rel=1e-4)


def test_bad_nested_names(nested):
    model, _, images, _ = nested
    with pytest.raises(ValueError, match=r"unknown layer 'base/nope' for features; .*'base/c1', 'base/p1'"):
        zfkeras.features(model, images, "base/nope", verbose=0)
    with pytest.raises(ValueError, match="layer 'scale' of model 'outer' is not a nested model"):
        qualified_layer(model, "scale/c1")


def test_a_nested_model_called_twice_is_named():
    base = keras.Sequential([keras.Input((8, 8, 3)), L.Conv2D(2, 3, name="c")], name="shared")
    inputs = keras.Input((8, 8, 3))
    merged = L.Add()([base(inputs), base(L.Rescaling(2.0)(inputs))])
    model = keras.Model(inputs, L.Dense(2)(L.Flatten()(merged)))
    with pytest.raises(ValueError, match="nested model 'shared' is called 2 times in model"):
        layer_output(model, "shared/c")
