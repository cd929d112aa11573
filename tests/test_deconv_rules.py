"""The rule registry: generated lists, lookup, window geometry."""

import pathlib

import numpy as np
import pytest
import keras

import zfkeras.deconv
from zfkeras.deconv import SUPPORTED_LAYERS
from zfkeras.deconv.rules import (
    RULES,
    UnsupportedLayer,
    rule_for,
    supported_layer_labels,
    supported_layers_markdown,
    window_geometry,
)

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
    assert len(RULES) >= 15
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


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("kernel, stride, dilation", [(1, 1, 1), (2, 1, 1), (3, 2, 1), (4, 2, 1), (5, 3, 1), (3, 1, 2), (2, 1, 3)])
def test_window_geometry_matches_keras(kernel, stride, dilation, padding):
    for size in range(max(kernel + (kernel - 1) * (dilation - 1), 1), 14):
        layer = keras.layers.Conv2D(1, kernel, strides=stride, padding=padding, dilation_rate=dilation)
        out = layer.compute_output_shape((None, size, size, 1))[1]
        span, s, pad, got = window_geometry(size, kernel, stride, padding, dilation)
        assert got == out and s == stride and span == (kernel - 1) * dilation + 1
        if padding == "same":
            # TensorFlow's rule: total padding split with the smaller half first
            total = max((out - 1) * stride + span - size, 0)
            assert pad == total // 2
        else:
            assert pad == 0


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
