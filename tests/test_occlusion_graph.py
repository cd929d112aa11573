"""Incremental occlusion on branched graphs equals full re-inference."""

import keras
import numpy as np
import pytest

from tests.test_occlusion_incremental import assert_engine_matches_full
from zfkeras.methods.occlusion import occlusion
from zfkeras.methods.occlusion import plan as planning
from zfkeras.methods.occlusion.geometry import square_corners

L = keras.layers


def residual():
    """Two residual blocks (identity and projection shortcut), batch norm, SAME average pool."""
    inp = keras.Input((22, 22, 3))
    x = L.Conv2D(6, 3, padding="same", activation="relu", name="stem")(inp)
    y = L.Conv2D(6, 3, padding="same", name="r1a")(x)
    y = L.BatchNormalization(name="bn1")(y)
    y = L.ReLU()(y)
    x = L.Add(name="add1")([x, L.Conv2D(6, 3, padding="same", name="r1b")(y)])
    y = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="r2a")(x)
    shortcut = L.Conv2D(8, 1, strides=2, name="proj")(x)
    x = L.Activation("relu")(L.Add(name="add2")([shortcut, y]))
    x = L.AveragePooling2D(3, 2, padding="same", name="avg")(x)
    out = L.Dense(4)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inp, out, name="residual")


def concat_depthwise():
    """Inception-like branches (1x1, 3x3, 5x5, pool) concatenated, depthwise and separable convs,
    a nested functional block with its own merge."""
    inner_in = keras.Input((10, 10, 12))
    a = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="dw")(inner_in)
    b = L.SeparableConv2D(24, 3, padding="same", activation="relu", name="sep")(inner_in)
    inner = keras.Model(inner_in, L.Add(name="inner_add")([a, b]), name="block")
    inp = keras.Input((21, 21, 2))
    x = L.ZeroPadding2D(((1, 0), (0, 1)))(inp)
    x = L.Conv2D(8, 3, strides=2, activation="relu", name="stem")(x)
    branches = [L.Conv2D(3, 1, name="b1")(x), L.Conv2D(3, 3, padding="same", name="b3")(x),
                L.Conv2D(3, 5, padding="same", name="b5")(x),
                L.MaxPooling2D(3, 1, padding="same", name="bpool")(x)]
    x = L.Concatenate(name="cat")(branches[:3] + [L.Conv2D(3, 1, name="bp1")(branches[3])])
    x = inner(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="valid", activation="relu", name="dw2")(x)
    out = L.Dense(3, activation="softmax")(L.Flatten()(x))
    return keras.Model(inp, out, name="concat_depthwise")


@pytest.mark.parametrize("size,stride", [(4, 3), (7, 5)])
@pytest.mark.parametrize("switch_fraction", [0.4, 1.0])
def test_residual_graph(size, stride, switch_fraction):
    engine = assert_engine_matches_full(residual(), (22, 22, 3), size, stride, "add2", 3,
                                        switch_fraction=switch_fraction)
    if switch_fraction == 1.0:
        assert {"add1", "add2", "bn1", "proj", "avg"} <= set(engine.windowed_names)


@pytest.mark.parametrize("layer,channel", [("stem", 1), ("cat", 10), ("dw2", 5)])
def test_concatenate_depthwise_separable_nested(layer, channel):
    engine = assert_engine_matches_full(concat_depthwise(), (21, 21, 2), 5, 4, layer, channel,
                                        switch_fraction=1.0)
    assert {"cat", "block/dw", "block/sep", "block/inner_add", "dw2", "bpool"} <= set(engine.windowed_names)


def test_merge_window_is_the_bounding_box_and_branches_switch_alone():
    inp = keras.Input((30, 30, 1))
    small = L.Conv2D(2, 1, name="small")(inp)
    big = L.Conv2D(2, 9, padding="same", name="big")(inp)
    model = keras.Model(inp, L.Dense(2)(L.Flatten()(L.Add(name="add")([small, big]))))
    corners = square_corners((30, 30), 4, 13).reshape(-1, 2)
    plan = planning.GraphPlan(planning.walk(model), (30, 30, 1), 4, corners, 1.0, None)
    by_name = {s.name: s for s in plan.steps}
    s, b, a = (by_name[n].out for n in ("small", "big", "add"))
    assert s.extent == (4, 4) and b.extent == (12, 12) and a.extent == (12, 12)
    lo = np.minimum(s.starts, b.starts)
    np.testing.assert_array_equal(a.starts, np.minimum(lo, 30 - 12))
    # 12x12 of 30x30 is 16% of the map: at a 10% switch the big branch and the merge run whole
    plan = planning.GraphPlan(planning.walk(model), (30, 30, 1), 4, corners, 0.1, None)
    windowed = {s.name for s in plan.steps if s.windowed}
    assert "small" in windowed and "big" not in windowed and "add" not in windowed
    assert_engine_matches_full(model, (30, 30, 1), 4, 13, switch_fraction=0.1)


def test_tau_caps_every_window():
    corners = square_corners((22, 22), 7, 5).reshape(-1, 2)
    plan = planning.GraphPlan(planning.walk(residual()), (22, 22, 3), 7, corners, 1.0, 0.3)
    capped = [s for s in plan.steps if s.windowed and s.kind in planning.WINDOW_OPS + ("merge",)]
    assert capped
    for step in capped:
        limit = [int(np.ceil(0.3 * side)) for side in step.placed.out_size]
        assert all(e <= max(1, m) for e, m in zip(step.out.extent, limit)), step.name
        assert (step.out.starts >= 0).all() and (step.out.starts + step.out.extent <= step.placed.out_size).all()
    exact = planning.GraphPlan(planning.walk(residual()), (22, 22, 3), 7, corners, 1.0, None)
    assert plan.cost_ratio < exact.cost_ratio


APPLICATIONS = ["VGG16", "ResNet50", "MobileNetV2", "DenseNet121"]


@pytest.mark.parametrize("name", APPLICATIONS)
def test_keras_applications(name):
    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=5,
                                              classifier_activation=None)
    engine = assert_engine_matches_full(model, (32, 32, 3), 10, 11, switch_fraction=1.0)
    kinds = {s.kind for s in engine.steps if s.windowed}
    expected = {"VGG16": {"conv", "maxpool"}, "ResNet50": {"conv", "merge", "pad", "pointwise"},
                "MobileNetV2": {"conv", "depthwise", "merge"}, "DenseNet121": {"conv", "merge", "avgpool"}}
    assert expected[name] <= kinds


def test_auto_takes_the_graph_path_when_it_is_cheaper():
    model = residual()
    images = np.random.default_rng(1).uniform(size=(1, 22, 22, 3)).astype("float32")
    auto = occlusion(model, images, 3, 4, verbose=0, from_logits=True)
    full = occlusion(model, images, 3, 4, method="full", verbose=0, from_logits=True)
    corners = square_corners((22, 22), 3, 4).reshape(-1, 2)
    cost = planning.plan(model, (22, 22, 3), 3, corners)[0].cost_ratio
    assert auto.method == ("incremental" if cost <= 0.7 else "full")
    assert auto.method == "incremental"  # a 3 px square on 22 px: a fraction of the work
    np.testing.assert_allclose(auto.class_probability, full.class_probability, rtol=1e-5, atol=1e-7)
