"""Which steps of the model graph incremental occlusion computes on windows."""

import keras

from tests.test_occlusion_incremental import assert_engine_matches_full
from zfkeras.layers import MaxPoolWithArgmax
from zfkeras.methods.occlusion import plan as planning
from zfkeras.methods.occlusion.geometry import square_corners

L = keras.layers


def test_kinds_come_from_the_graph_and_the_rule_registry():
    model = keras.Sequential([
        keras.Input((16, 16, 2)),
        L.ZeroPadding2D(1, name="pad"),
        L.Conv2D(4, 3, activation="tanh", name="c1"),  # any activation: the engine runs it
        L.LeakyReLU(0.1, name="leaky"),
        L.MaxPooling2D(2, name="p1"),
        L.Conv2D(4, 3, dilation_rate=2, name="dilated"),  # dilated: windowed too
        L.Conv2D(4, 1, name="c2"),
        L.Flatten(name="flat"), L.Dense(3, activation="softmax", name="fc"),
    ])
    corners = square_corners((16, 16), 3, 4).reshape(-1, 2)
    plan, why = planning.plan(model, (16, 16, 2), 3, corners, switch_fraction=1.0)
    assert why is None
    assert [(s.name, s.kind, s.windowed) for s in plan.steps] == [
        ("pad", "pad", True), ("c1", "conv", True), ("leaky", "pointwise", True), ("p1", "maxpool", True),
        ("dilated", "conv", True), ("c2", "conv", True), ("flat", None, False), ("fc", None, False)]
    steps = plan.steps
    assert steps[1].placed.in_size == (18, 18) and steps[3].placed.out_size == (8, 8)
    assert steps[4].region.extent[0] == (steps[4].out.extent[0] - 1) + 5  # span of a dilated 3x3
    assert_engine_matches_full(model, (16, 16, 2), 3, 4, switch_fraction=1.0)


def test_a_layer_of_unknown_geometry_ends_the_trunk_instead_of_refusing():
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        L.Conv2D(3, 3, padding="same", activation="relu", name="c1"),
        L.UpSampling2D(name="up"),
        L.Conv2D(3, 3, name="c2"),
        L.GlobalAveragePooling2D(), L.Dense(2, activation="softmax"),
    ])
    engine = assert_engine_matches_full(model, (12, 12, 1), 3, 2, switch_fraction=1.0)
    assert engine.windowed_names == ["c1"]
    assert [s.kind for s in engine.steps[1:3]] == [None, "conv"] and not engine.steps[2].windowed


def test_nested_chain_and_switch_recording_pool_are_windowed():
    inner = keras.Sequential([keras.Input((20, 20, 2)), L.Conv2D(4, 3, padding="same", name="c1"),
                              L.ReLU(name="r1")], name="inner")
    inp = keras.Input((20, 20, 2))
    pooled, _ = MaxPoolWithArgmax(2, name="p1")(inner(inp))  # switches unused
    x = L.Conv2D(4, 3, activation="relu", name="c2")(pooled)
    model = keras.Model(inp, L.Dense(3, activation="softmax")(L.Flatten()(x)))
    engine = assert_engine_matches_full(model, (20, 20, 2), 4, 3, switch_fraction=1.0)
    assert engine.windowed_names == ["inner/c1", "inner/r1", "p1", "c2"]


def test_models_the_graph_cannot_walk_are_refused_with_the_reason():
    inp = keras.Input((8, 8, 1))
    shared = L.Conv2D(1, 3, padding="same")
    corners = square_corners((8, 8), 3, 2).reshape(-1, 2)
    plan, why = planning.plan(keras.Model(inp, shared(shared(inp))), (8, 8, 1), 3, corners)
    assert plan is None and "called more than once" in why
