"""The rule registry: generated lists, lookup, rules against the graph's windows."""

import inspect
import itertools
import pathlib

import numpy as np
import pytest
import keras
import tensorflow as tf

import zfkeras.deconv
from zfkeras.deconv import SUPPORTED_LAYERS, rules_conv, rules_pointwise, rules_pool, rules_structure
from zfkeras.deconv.rules import (
    RULES,
    Rule,
    UnsupportedLayer,
    rule_for,
    supported_layer_labels,
    supported_layers_markdown,
)
from zfkeras.graph.walk import walk

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "DECONVNET.md"


def test_docs_list_equals_the_registry():
    text = DOC.read_text()
    start, end = "<!-- supported-layers:start -->\n", "<!-- supported-layers:end -->"
    assert start in text and end in text
    listed = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert listed == supported_layers_markdown(), (
        "docs/DECONVNET.md's supported-layer list is stale; regenerate it with "
        "zfkeras.deconv.rules.supported_layers_markdown()"
    )


def test_supported_layers_is_generated_from_the_registry():
    assert SUPPORTED_LAYERS == ", ".join(label.replace("`", "") for label in supported_layer_labels())
    # every rule class the rule modules define is registered, once
    defined = [cls for module in (rules_conv, rules_pointwise, rules_pool, rules_structure)
               for _, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, Rule) and cls.__module__ == module.__name__ and cls.layer_types]
    assert sorted(c.__name__ for c in defined) == sorted(c.__name__ for c in RULES)
    assert len(set(RULES)) == len(RULES)
    # no layer type is claimed by two rules (the later one would never be reached)
    claimed = [t for rule in RULES for t in rule.layer_types]
    assert len(claimed) == len(set(claimed))
    for rule in RULES:
        assert rule.label and rule.mirror and rule.layer_types, rule.__name__
        assert rule.label.replace("`", "") in SUPPORTED_LAYERS


def test_rule_lookup():
    conv = keras.layers.Conv2D(2, 3)
    assert type(rule_for(conv, "switches")).__name__ == "Conv2DRule"
    assert type(rule_for(keras.layers.MaxPooling2D(2), "switches")).__name__ == "MaxPoolRule"
    with pytest.raises(UnsupportedLayer):
        rule_for(keras.layers.LayerNormalization(), "switches")

    class MyConv(keras.layers.Conv2D):  # a subclass may change call(): not matched
        pass

    with pytest.raises(UnsupportedLayer):
        rule_for(MyConv(2, 3), "switches")
    with pytest.raises(UnsupportedLayer, match="channels_first"):
        rule_for(keras.layers.Conv2D(2, 3, data_format="channels_first"), "switches")


def _rule_and_window(layer, size):
    model = keras.Sequential([keras.Input((size, size + 1, 1)), layer])
    return rule_for(layer, "switches"), walk(model).steps[0].window


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel, stride, dilation", [(1, 1, 1), (2, 1, 1), (3, 2, 1), (4, 2, 1), (5, 3, 1), (3, 1, 2), (2, 1, 3)])
def test_conv_rule_agrees_with_tf_and_the_window(kernel, stride, dilation, padding):
    """The rule's way up has tf.nn.conv2d's output shape, which is the window's
    out_size; its way down of one unit reaches exactly the window's taps."""
    for size in range((kernel - 1) * dilation + 1, 12):
        layer = keras.layers.Conv2D(1, kernel, strides=stride, padding=padding,
                                    dilation_rate=dilation, use_bias=False)
        rule, window = _rule_and_window(layer, size)
        layer.set_weights([np.ones(layer.kernel.shape, "float32")])
        x = tf.ones((1, size, size + 1, 1))
        y, saved = rule.up([x])
        want = tf.nn.conv2d(x, layer.kernel, stride, padding.upper(), dilations=dilation).shape
        assert tuple(y.shape) == tuple(want) and window.out_size == tuple(want[1:3])
        for oy, ox in itertools.product(range(y.shape[1]), range(y.shape[2])):
            one = np.zeros(y.shape, "float32")
            one[0, oy, ox, 0] = 1.0
            down = rule.down(tf.constant(one), saved)[0].numpy()[0, ..., 0]
            rows, cols = (
                {t for t in o * stride - window.before[a] + dilation * np.arange(kernel)
                 if 0 <= t < window.in_size[a]} for a, o in ((0, oy), (1, ox)))
            assert set(zip(*np.nonzero(down))) == set(itertools.product(rows, cols)), (size, oy, ox)


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("pool, stride", [(2, 2), (3, 2), (3, 1), (2, 3)])
def test_pool_rule_agrees_with_tf_and_the_window(pool, stride, padding):
    for size in range(pool, 11):
        rule, window = _rule_and_window(keras.layers.MaxPooling2D(pool, stride, padding), size)
        x = tf.random.stateless_uniform((1, size, size + 1, 2), (size, pool))
        y, _ = rule.up([x])
        want = tf.nn.max_pool2d(x, pool, stride, padding.upper())
        np.testing.assert_array_equal(y.numpy(), want.numpy())
        assert window.out_size == tuple(want.shape[1:3])


def test_package_keeps_the_import_path():
    assert zfkeras.deconv.Deconvnet is zfkeras.Deconvnet
    assert np.all([name in zfkeras.deconv.__all__ for name in ("Deconvnet", "SUPPORTED_LAYERS")])


def test_readme_list_equals_the_registry():
    text = (DOC.parents[1] / "README.md").read_text()
    start, end = "<!-- supported-layers:start -->\n", "<!-- supported-layers:end -->"
    listed = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert listed == "\n".join(f"- {label}" for label in supported_layer_labels()), (
        "README.md's supported-layer list is stale: one line per "
        "zfkeras.deconv.rules.supported_layer_labels()"
    )
