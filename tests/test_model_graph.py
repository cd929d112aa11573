"""zfkeras.graph: the window description against brute force, and the walk.

The window of every spatial layer is checked against what the layer really
reads: the input-gradient support of one output unit (tf.GradientTape) for
convolutions (all-ones kernels, so every tap has a nonzero gradient),
average pooling, padding and cropping; for max pooling, whose gradient
reaches only the argmax, the inputs whose change moves the output.
"""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from zfkeras.graph.walk import INPUT_ID, UnsupportedLayerError, walk
from zfkeras.graph.window import Window, axis_window
from zfkeras.utils.errors import InputError, InputTypeError

L = keras.layers


def _taps(window, axis, i):
    """Input positions that output ``i`` reads along ``axis``, per the window."""
    start = i * window.strides[axis] - window.before[axis]
    taps = start + window.dilation[axis] * np.arange(window.kernel[axis])
    return set(int(t) for t in taps if 0 <= t < window.in_size[axis])


def _gradient_support(layer, x):
    """``support[oy][ox]`` = set of (row, col) whose gradient on output (oy, ox, 0) is nonzero."""
    x = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = layer(x)
    support = []
    for oy in range(y.shape[1]):
        row = []
        for ox in range(y.shape[2]):
            seed = np.zeros(y.shape, "float32")
            seed[0, oy, ox, 0] = 1.0  # one output unit
            g = np.abs(tape.gradient(y, x, output_gradients=tf.constant(seed)).numpy()[0]).sum(-1)
            row.append(set(zip(*(v.tolist() for v in np.nonzero(g)))))
        support.append(row)
    return y.shape, support


def _influence_support(layer, x):
    """Like `_gradient_support`, by raising one input pixel at a time far above the rest."""
    h, w = x.shape[1:3]
    base = layer(x).numpy()
    raised = np.repeat(x, h * w, axis=0)
    raised.reshape(h * w, h * w, -1)[np.arange(h * w), np.arange(h * w)] += 100.0
    changed = np.abs(layer(raised).numpy() - base)[..., 0] > 1e-3  # (H*W, Ho, Wo)
    support = [[set(divmod(int(p), w) for p in np.flatnonzero(changed[:, oy, ox]))
                for ox in range(base.shape[2])] for oy in range(base.shape[1])]
    return base.shape, support


def _check_window(layer, in_hw, channels=1, support=_gradient_support):
    model = keras.Sequential([keras.Input((*in_hw, channels)), layer])
    if layer.weights:
        layer.set_weights([np.ones(v.shape, "float32") for v in layer.weights])
    window = walk(model).steps[0].window
    x = np.random.default_rng(0).uniform(1, 2, (1, *in_hw, channels)).astype("float32")
    shape, truth = support(layer, x)
    assert window.out_size == tuple(shape[1:3])
    for oy, ox in itertools.product(range(shape[1]), range(shape[2])):
        expected = set(itertools.product(_taps(window, 0, oy), _taps(window, 1, ox)))
        assert truth[oy][ox] == expected, (layer.name, oy, ox)
    return window


CONVS = [  # kernel, strides, padding, dilation: odd and even kernels, SAME with strides
    (3, 1, "same", 1), (4, 2, "same", 1), (2, 1, "same", 1), (5, 3, "same", 1), (4, 3, "same", 1),
    (3, 2, "valid", 1), (4, 1, "valid", 1), ((3, 2), (2, 1), "same", 1),
    (3, 1, "same", 2), (2, 1, "same", 3), (3, 1, "valid", (2, 1)),
]


@pytest.mark.parametrize("kernel,strides,padding,dilation", CONVS)
@pytest.mark.parametrize("in_hw", [(9, 8), (10, 11)])
def test_conv_window_is_the_gradient_support(kernel, strides, padding, dilation, in_hw):
    layer = L.Conv2D(1, kernel, strides=strides, padding=padding, dilation_rate=dilation,
                     use_bias=False)
    _check_window(layer, in_hw)


@pytest.mark.parametrize("make", [
    lambda: L.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False),
    lambda: L.SeparableConv2D(1, 4, padding="same", use_bias=False),
])
def test_depthwise_and_separable_windows(make):
    _check_window(make(), (9, 10))


@pytest.mark.parametrize("pool,strides,padding", [
    (2, None, "valid"), (3, 2, "same"), (2, 2, "same"), (3, 1, "same"), (3, 2, "valid"), (4, 3, "same"),
])
def test_pool_windows(pool, strides, padding):
    _check_window(L.AveragePooling2D(pool, strides, padding=padding), (9, 8))
    _check_window(L.MaxPooling2D(pool, strides, padding=padding), (9, 8), support=_influence_support)


def test_padding_and_cropping_windows():
    pad = _check_window(L.ZeroPadding2D(((2, 1), (0, 3))), (5, 6))
    assert pad.before == (2, 0) and pad.after == (1, 3) and pad.out_size == (8, 9)
    crop = _check_window(L.Cropping2D(((1, 2), (3, 0))), (7, 8))
    assert crop.out_size == (4, 5)


def test_pointwise_layers_get_the_identity_window():
    for layer in [L.ReLU(), L.BatchNormalization(), L.Activation("tanh"), L.Dropout(0.3)]:
        window = _check_window(layer, (4, 5), channels=2)
        assert window.is_identity


def test_axis_window_matches_tensorflow_ops():
    """The one SAME/VALID function against tf.nn's own output sizes and paddings."""
    for size, kernel, stride, dilation, padding in itertools.product(
            range(3, 12), (1, 2, 3, 4), (1, 2, 3), (1, 2), ("same", "valid")):
        if (kernel - 1) * dilation + 1 > size or (stride > 1 and dilation > 1):
            continue
        x = tf.zeros((1, size, 1, 1))
        y = tf.nn.conv2d(x, tf.ones((kernel, 1, 1, 1)), [stride, 1], padding.upper(),
                         dilations=[dilation, 1])
        before, after, out = axis_window(size, kernel, stride, padding, dilation)
        assert out == y.shape[1], (size, kernel, stride, dilation, padding)
        # explicit padding (before, after) with VALID gives the same op
        explicit = tf.nn.conv2d(tf.pad(x + 1, [[0, 0], [before, after], [0, 0], [0, 0]]),
                                tf.ones((kernel, 1, 1, 1)), [stride, 1], "VALID",
                                dilations=[dilation, 1])
        np.testing.assert_array_equal(
            explicit.numpy(), tf.nn.conv2d(x + 1, tf.ones((kernel, 1, 1, 1)), [stride, 1],
                                           padding.upper(), dilations=[dilation, 1]).numpy())
    assert axis_window(None, 3, 2, "same") == (None, None, None)
    assert axis_window(None, 3, 2, "valid") == (0, 0, None)


def test_window_is_placed_on_other_sizes():
    window = Window((3, 3), (2, 2), padding="same", in_size=(9, 9))
    moved = window.at((10, 7))
    assert (moved.out_size, moved.before, moved.after) == ((5, 4), (0, 1), (1, 1))
    assert window.at((9, 9)) == window
    with pytest.raises(ValueError, match="padding must be"):
        Window(padding="full", in_size=(4, 4))


# -- the walk ------------------------------------------------------------------

def _chain():
    return keras.Sequential([
        keras.Input((12, 11, 3)),
        L.Conv2D(4, 3, padding="same", activation="relu", name="c1"),
        L.MaxPooling2D(2, name="p1"),
        L.ReLU(name="r1"),
        L.Flatten(name="flat"),
        L.Dense(6, name="fc"),
        L.Dropout(0.5, name="drop"),
    ])


def test_chain_steps_ids_shapes_and_head():
    model = _chain()
    graph = walk(model)
    assert graph.names == ["c1", "p1", "r1"]
    assert graph.head_names == ["flat", "fc", "drop"]  # dropout fed by the head is head
    assert graph.is_chain()
    previous = INPUT_ID
    for step in graph.steps:
        assert step.inputs == (previous,)
        assert step.shape == tuple(model.get_layer(step.name).output.shape[1:])
        assert step.window.out_size == step.shape[:2]
        previous = step.output
    assert [s.window for s in graph.head] == [None] * 3
    assert graph.input_shape == (12, 11, 3)


def test_graph_with_add_concatenate_and_fan_out():
    inp = keras.Input((10, 10, 2))
    stem = L.Conv2D(3, 3, name="stem")(inp)
    a = L.Conv2D(3, 3, padding="same", name="a")(stem)
    b = L.Conv2D(3, 1, name="b")(stem)
    add = L.Add(name="add")([a, b])
    cat = L.Concatenate(name="cat")([add, stem])
    model = keras.Model(inp, L.GlobalAveragePooling2D(name="gap")(cat))
    graph = walk(model)
    steps = {s.name: s for s in graph.steps}
    assert set(steps) == {"stem", "a", "b", "add", "cat"} and graph.head_names == ["gap"]
    assert steps["a"].inputs == steps["b"].inputs == (steps["stem"].output,)
    assert steps["add"].inputs == (steps["a"].output, steps["b"].output)
    assert steps["cat"].inputs == (steps["add"].output, steps["stem"].output)
    assert steps["cat"].shape == (8, 8, 6) and steps["cat"].window.is_identity
    order = {s.output: i for i, s in enumerate(graph.steps)}
    for step in graph.steps:  # topological: producers first
        assert all(i == INPUT_ID or order[i] < order[step.output] for i in step.inputs)
    assert not graph.is_chain()
    names = [graph.steps[i].name for i in graph.ancestors(graph.names.index("add"))]
    assert sorted(names) == ["a", "add", "b", "stem"]
    sizes = graph.spatial_sizes((10, 10))
    assert sizes[steps["cat"].output] == (8, 8)


def test_nested_models_are_named_outer_inner_layer():
    inner = keras.Sequential([keras.Input((8, 8, 4)), L.Conv2D(4, 3, padding="same", name="conv"),
                              L.ReLU(name="relu")], name="inner")
    middle = keras.Sequential([keras.Input((8, 8, 4)), inner, L.MaxPooling2D(2, name="pool")],
                              name="middle")
    inp = keras.Input((10, 10, 1))
    x = middle(L.Conv2D(4, 3, name="first")(inp))
    model = keras.Model(inp, L.Dense(2, name="fc")(L.Flatten(name="flat")(x)))
    graph = walk(model)
    assert graph.names == ["first", "middle/inner/conv", "middle/inner/relu", "middle/pool"]
    assert graph.head_names == ["flat", "fc"]
    assert graph.is_chain()  # the nested chain is one chain once walked into
    assert graph.steps[-1].shape == (4, 4, 4)


def test_variable_input_size_gives_sizes_for_any_image():
    model = keras.Sequential([keras.Input((None, None, 1)), L.Conv2D(2, 4, strides=2, padding="same"),
                              L.MaxPooling2D(3, 2, padding="valid")])
    graph = walk(model)
    assert graph.steps[0].window.out_size == (None, None)
    for hw in [(9, 13), (16, 7)]:
        sizes = graph.spatial_sizes(hw)
        assert sizes[graph.steps[-1].output] == tuple(model(np.zeros((1, *hw, 1))).shape[1:3])


def test_unsupported_layer_is_named_with_its_type():
    assert issubclass(UnsupportedLayerError, InputError)
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(2, 3), L.UpSampling2D(name="up"),
                              L.Conv2D(2, 3, name="after")])
    with pytest.raises(UnsupportedLayerError, match="layer 'up' of type UpSampling2D"):
        walk(model)
    kept = walk(model, unknown="keep")
    assert [s.name for s in kept.steps][1:] == ["up", "after"]
    assert kept.steps[1].window is None and kept.steps[2].window.in_size == (12, 12)
    first = keras.Sequential([keras.Input((2, 8, 8)), L.Conv2D(2, 3, data_format="channels_first",
                                                               name="cf")])
    with pytest.raises(UnsupportedLayerError, match="'cf' of type Conv2D with data_format channels_first"):
        walk(first)


def test_structural_errors():
    inp = keras.Input((8, 8, 2))
    shared = L.Conv2D(2, 3, padding="same", name="shared")
    with pytest.raises(InputError, match="'shared' is called more than once"):
        walk(keras.Model(inp, shared(shared(inp))))
    a, b = keras.Input((8, 8, 2)), keras.Input((8, 8, 2))
    with pytest.raises(InputError, match="single-input, single-output.*2 inputs and 1 outputs"):
        walk(keras.Model([a, b], L.Add()([a, b])))
    with pytest.raises(InputTypeError, match=r"needs a keras.Model, got <Conv2D.* of type Conv2D"):
        walk(L.Conv2D(2, 3))
    with pytest.raises(InputError, match="is not built"):
        walk(keras.Sequential([L.Conv2D(2, 3)]))
    x = L.Conv2D(2, 3, padding="same", name="c")(inp)
    gate = L.Dense(2, name="gate")(L.GlobalAveragePooling2D(keepdims=True)(x))
    with pytest.raises(InputError, match=r"'mix' \(Add\) combines the convolutional trunk"):
        walk(keras.Model(inp, L.Add(name="mix")([x, gate])))
