"""Which steps of the model graph incremental occlusion computes on windows."""

import keras

from tests.test_occlusion_incremental import assert_engine_matches_full
from zfkeras.layers import MaxPoolWithArgmax
from zfkeras.occlusion_engine.chain import split_trunk

L = keras.layers


def test_kinds_come_from_the_graph_and_the_rule_registry():
    model = keras.Sequential([
        keras.Input((16, 16, 2)),
        L.ZeroPadding2D(1, name="pad"),
        L.Conv2D(4, 3, activation="tanh", name="c1"),  # any activation: the engine runs it
        L.LeakyReLU(0.1, name="leaky"),
        L.MaxPooling2D(2, name="p1"),
        L.Conv2D(4, 3, dilation_rate=2, name="dilated"),  # not windowed: the trunk ends
        L.Conv2D(4, 1, name="c2"),
        L.Flatten(name="flat"), L.Dense(3, activation="softmax", name="fc"),
    ])
    steps, rest, why = split_trunk(model, (16, 16, 2))
    assert why is None
    assert [(s.name, s.kind) for s in steps] == [
        ("pad", "pad"), ("c1", "conv"), ("leaky", "pointwise"), ("p1", "pool")]
    assert [s.name for s in rest] == ["dilated", "c2", "flat", "fc"]
    assert steps[1].window.in_size == (18, 18) and steps[-1].window.out_size == (8, 8)
    assert [s.channels_in for s in steps] == [2, 2, 4, 4]


def test_a_layer_of_unknown_geometry_ends_the_trunk_instead_of_refusing():
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        L.Conv2D(3, 3, padding="same", activation="relu", name="c1"),
        L.UpSampling2D(name="up"),
        L.Conv2D(3, 3, name="c2"),
        L.GlobalAveragePooling2D(), L.Dense(2, activation="softmax"),
    ])
    engine = assert_engine_matches_full(model, (12, 12, 1), 3, 2, switch_fraction=1.0)
    assert [s.name for s in engine.steps] == ["c1"] and engine.head[0].name == "up"


def test_nested_chain_and_switch_recording_pool_are_windowed():
    inner = keras.Sequential([keras.Input((20, 20, 2)), L.Conv2D(4, 3, padding="same", name="c1"),
                              L.ReLU(name="r1")], name="inner")
    inp = keras.Input((20, 20, 2))
    pooled, _ = MaxPoolWithArgmax(2, name="p1")(inner(inp))  # switches unused
    x = L.Conv2D(4, 3, activation="relu", name="c2")(pooled)
    model = keras.Model(inp, L.Dense(3, activation="softmax")(L.Flatten()(x)))
    engine = assert_engine_matches_full(model, (20, 20, 2), 4, 3, switch_fraction=1.0)
    assert [(s.name, s.kind) for s in engine.steps] == [
        ("inner/c1", "conv"), ("inner/r1", "pointwise"), ("p1", "pool"), ("c2", "conv")]


def test_branches_are_not_a_chain():
    inp = keras.Input((8, 8, 1))
    a, b = L.Conv2D(2, 3, padding="same")(inp), L.Conv2D(2, 1)(inp)
    model = keras.Model(inp, L.Flatten()(L.Add()([a, b])))
    steps, rest, why = split_trunk(model, (8, 8, 1))
    assert steps is None and "not one chain" in why
    shared = L.Conv2D(1, 3, padding="same")
    steps, _, why = split_trunk(keras.Model(inp, shared(shared(inp))), (8, 8, 1))
    assert steps is None and "called more than once" in why
