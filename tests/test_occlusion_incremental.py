"""Incremental occlusion equals full re-inference on chain models (graphs: test_occlusion_graph)."""

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras.layers import LocalResponseNormalization
from zfkeras.methods.occlusion import occlusion
from zfkeras.methods.occlusion.full import FullInference
from zfkeras.methods.occlusion.geometry import square_corners
from zfkeras.methods.occlusion.incremental import IncrementalOcclusion

L = keras.layers


def odd_same_valid():
    """Odd kernels, strides 1-2, SAME and VALID, a separate ReLU."""
    return keras.Sequential([
        keras.Input((23, 21, 3)),
        L.Conv2D(6, 3, padding="same", activation="relu", name="c1"),
        L.MaxPooling2D(3, 2, padding="same", name="p1"),
        L.Conv2D(8, 5, strides=2, padding="valid", name="c2"),
        L.ReLU(name="r2"),
        L.Conv2D(8, 3, padding="same", activation="relu", name="c3"),
        L.Flatten(), L.Dense(5, activation="softmax"),
    ])


def even_padded():
    """Asymmetric ZeroPadding2D, even kernels, SAME with stride, LRN, dropout, stride 3."""
    return keras.Sequential([
        keras.Input((24, 26, 2)),
        L.ZeroPadding2D(((1, 2), (0, 1)), name="pad"),
        L.Conv2D(6, 4, strides=2, padding="same", activation="relu", name="c1"),
        L.MaxPooling2D(2, 2, padding="valid", name="p1"),
        L.Conv2D(8, 2, padding="same", activation="relu", name="c2"),
        LocalResponseNormalization(size=3, name="norm"),
        L.Dropout(0.5),
        L.Conv2D(8, 3, strides=3, padding="valid", activation="relu", name="c3"),
        L.GlobalAveragePooling2D(), L.Dense(4, activation="softmax"),
    ])


def pointwise_then_unsupported():
    """Rescaling, batch norm, leaky ReLU, then an average pool the trunk stops at."""
    model = keras.Sequential([
        keras.Input((20, 20, 3)),
        L.Rescaling(2.0, offset=-1.0),
        L.Conv2D(6, 3, strides=2, padding="same", name="c1"),
        L.BatchNormalization(name="bn"),
        L.LeakyReLU(0.2),
        L.MaxPooling2D(3, 1, padding="same", name="p1"),
        L.Conv2D(6, 3, padding="same", activation="relu", name="c2"),
        L.AveragePooling2D(2, padding="same"),
        L.Conv2D(6, 3, padding="same", activation="relu", name="c3"),
        L.Flatten(), L.Dense(3, activation="softmax"),
    ])
    bn = model.get_layer("bn")
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.5, 2, 6)])
    return model


def tiny_zfnet():
    """Full ZFNet's layer geometry (pad 1, 7x7/2, SAME pools, 5x5/2, ...) at 112 px."""
    return zfkeras.zfnet((112, 112, 3), 5, conv_filters=(8, 8, 12, 12, 8), fc_units=16,
                         kernel_initializer="he_normal", seed=3)


def assert_engine_matches_full(model, image_shape, size, stride, layer=None, channel=None,
                               switch_fraction=0.6, batch_size=16):
    rng = np.random.default_rng(size + stride)
    image = rng.uniform(0, 1, image_shape).astype("float32")
    fill = rng.uniform(0, 1, image_shape[-1]).astype("float32")
    corners = square_corners(image_shape[:2], size, stride).reshape(-1, 2)
    channel = None if layer is None else channel
    engine, why = IncrementalOcclusion.plan(model, image_shape, size, corners, layer, switch_fraction)
    assert engine is not None, why
    got, got_act = engine.run(image, fill, batch_size, channel)
    want, want_act = FullInference(model, layer).run(image, corners, size, fill, batch_size, channel)
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * scale)
    assert np.abs(want - want.mean(axis=0)).max() > 1e-4 * scale  # the square matters
    if layer is not None:
        np.testing.assert_allclose(got_act, want_act, rtol=1e-5, atol=1e-5 * np.abs(want_act).max())
    return engine


@pytest.mark.parametrize("size,stride", [(5, 2), (4, 3), (9, 7)])
@pytest.mark.parametrize("switch_fraction", [0.3, 1.0])
def test_odd_kernels_same_and_valid(size, stride, switch_fraction):
    engine = assert_engine_matches_full(odd_same_valid(), (23, 21, 3), size, stride,
                                        switch_fraction=switch_fraction)
    if switch_fraction == 1.0:  # nothing switches: every trunk step is windowed
        assert engine.windowed_names == ["c1", "p1", "c2", "r2", "c3"]


@pytest.mark.parametrize("layer,channel", [("c1", 2), ("p1", 0), ("c2", 5), ("c3", 1)])
def test_even_kernels_padding_lrn_with_layer_activity(layer, channel):
    engine = assert_engine_matches_full(even_padded(), (24, 26, 2), 6, 3, layer, channel,
                                        switch_fraction=0.9)
    assert {"pad", "c1", "p1"} <= set(engine.windowed_names)


def test_pointwise_layers_and_average_pool_are_windowed():
    engine = assert_engine_matches_full(pointwise_then_unsupported(), (20, 20, 3), 5, 3, "c2", 4,
                                        switch_fraction=1.0)
    names = engine.windowed_names
    assert "bn" in names and "c2" in names and "c3" in names and any("average" in n for n in names)


def test_zfnet_small():
    model = zfkeras.zfnet_small((28, 28, 1), 10, seed=0)
    engine = assert_engine_matches_full(model, (28, 28, 1), 7, 3, "conv5", 3)
    assert engine.windowed_names[:2] == ["pad1", "conv1"]


@pytest.mark.parametrize("layer", [None, "conv2", "conv5"])
def test_tiny_full_zfnet_shape(layer):
    engine = assert_engine_matches_full(tiny_zfnet(), (112, 112, 3), 25, 9, layer, 2, batch_size=32)
    assert engine.cost_ratio < 0.7


def test_occlusion_picks_incremental_and_agrees_with_full():
    model = tiny_zfnet()
    images = np.random.default_rng(5).uniform(0, 1, (2, 112, 112, 3)).astype("float32")
    auto = occlusion(model, images, 25, 12, layer="conv5", verbose=0)
    full = occlusion(model, images, 25, 12, layer="conv5", method="full", verbose=0)
    assert auto.method == "incremental" and full.method == "full"
    np.testing.assert_allclose(auto.class_probability, full.class_probability, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(auto.layer_activity, full.layer_activity, rtol=1e-5)
    np.testing.assert_array_equal(auto.predicted_label, full.predicted_label)


def test_model_without_a_windowed_first_layer_falls_back_or_refuses():
    inputs = keras.Input((12, 12, 1))
    a = L.UpSampling2D()(inputs)  # no known window: everything runs whole
    outputs = L.Dense(2, activation="softmax")(L.Flatten()(L.Conv2D(2, 3)(a)))
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(6).uniform(size=(1, 12, 12, 1)).astype("float32")
    assert occlusion(model, images, 3, 2, verbose=0).method == "full"
    with pytest.raises(ValueError, match="method='incremental' cannot run.*use method='full'"):
        occlusion(model, images, 3, 2, method="incremental", verbose=0)
