"""The exported signatures: same answers as the library without zfkeras, and
bad requests refused inside the graph."""

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests import export_helpers as helpers
from zfkeras.methods.unit import Unit

PROJECTED = helpers.PROJECTED
FEATURES = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc7"]


def _close(ours, reference, tol=1e-5):
    """Max abs difference within `tol` of the reference's scale."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    assert ours.shape == reference.shape
    scale = max(1.0, float(np.abs(reference).max()))
    assert float(np.abs(ours - reference).max()) <= tol * scale


def test_process_without_zfkeras_reproduces_the_library(tiny_export, tiny_export_response):
    from zfkeras import Deconvnet
    from zfkeras.methods.features import features
    from zfkeras.graph.addressing import layer_output_model

    model, path = tiny_export
    raw, channels, response = tiny_export_response
    inputs = helpers.preprocess(raw)
    deconv = Deconvnet(model)

    probabilities = model.predict(inputs, verbose=0)
    _close(response["classify/probabilities"], probabilities)
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(response["classify/top_classes"], top)
    assert response["classify/top_classes"].dtype == np.int32
    labels = np.array(helpers.CLASS_NAMES, dtype=object)[top]
    np.testing.assert_array_equal(response["classify/top_labels"].astype(str), labels.astype(str))

    reference = features(model, inputs, FEATURES, verbose=0)
    assert sorted(k[len("features/"):] for k in response if k.startswith("features/")) == sorted(FEATURES)
    for name in FEATURES:
        _close(response[f"features/{name}"], reference[name])
    assert response["features/conv3"].shape == (len(raw), 4 * 12)  # 2x2 max pooling of 12 maps

    maps = dict(zip(PROJECTED, layer_output_model(model, PROJECTED).predict(inputs, verbose=0)))
    for name, chosen in zip(PROJECTED, channels):
        _close(response[f"project/{name}/projection"], deconv.project(inputs, Unit(name, chosen)))
        # oracle for the selection: numpy argmax over the layer's own output
        per_image = maps[name][np.arange(len(raw)), :, :, chosen]  # (N, H, W)
        flat = per_image.reshape(len(raw), -1).argmax(axis=1)
        position = np.stack(np.unravel_index(flat, per_image.shape[1:]), axis=1)
        np.testing.assert_array_equal(response[f"project/{name}/position"], position)
        _close(response[f"project/{name}/value"], per_image.reshape(len(raw), -1).max(axis=1))
    assert np.abs(response["project/conv5/projection"]).max() > 0


def test_saved_model_cli_lists_the_three_signatures(tiny_export):
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run(
        [str(cli), "show", "--dir", str(tiny_export[1]), "--all"], capture_output=True, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    sections = {}
    for chunk in text.split("signature_def['")[1:]:
        sections[chunk.split("'", 1)[0]] = chunk
    assert {"serving_default", "features", "project"} <= set(sections)
    # the explain_* signature asked for (tests/test_export_explain.py checks the default
    # ones, their inputs and values)
    explain = {name for name in sections if name.startswith("explain_")}
    assert explain == {"explain_lrp_epsilon"}
    for name, inputs, outputs in [
        ("serving_default", ["images"], ["probabilities", "top_classes", "top_labels"]),
        ("features", ["images"], FEATURES),
        ("project", ["images", "layer", "channel"], ["projection", "position", "value"]),
        *[(name, ["images", "target"], ["maps", "attributions", "explained_class"]) for name in sorted(explain)],
    ]:
        body = sections[name]
        given, returned = body.split("The given SavedModel SignatureDef contains the following output(s):")
        for key in inputs:
            assert f"inputs['{key}']" in given, (name, key)
        for key in outputs:
            assert f"outputs['{key}']" in returned, (name, key)
    assert "dtype: DT_UINT8" in sections["project"] and "dtype: DT_STRING" in sections["serving_default"]


def _fails(fn, *fragments, error=tf.errors.InvalidArgumentError, **inputs):
    with pytest.raises(error) as info:
        fn(**inputs)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_bad_images_fail_inside_the_graph(tiny_export_loaded):
    good = helpers.raw_digits(2)
    expected = "images must be uint8 shaped (N, 28, 28, 1)"
    for name in ["serving_default", "features"]:
        fn = tiny_export_loaded.signatures[name]
        _fails(fn, expected, "[2 20 28 1]", images=tf.constant(good[:, :20]))  # wrong size
        _fails(fn, expected, "[28 28 1]", images=tf.constant(good[0]))  # wrong rank
        _fails(fn, expected, "[0 28 28 1]", images=tf.constant(good[:0]))  # empty
        _fails(fn, expected, "[2 28 28 3]", images=tf.constant(np.repeat(good, 3, axis=-1)))  # channels
        # dtype: the signature itself refuses a float tensor before the graph runs
        _fails(fn, "expected to be a uint8 tensor but is a float tensor",
               images=tf.constant(good, tf.float32))
    assert tiny_export_loaded.signatures["serving_default"](images=tf.constant(good))["probabilities"].shape == (2, 10)


def test_bad_projection_requests_fail_inside_the_graph(tiny_export_loaded):
    project = tiny_export_loaded.signatures["project"]
    images = tf.constant(helpers.raw_digits(3))
    known = "pad1, conv1, pool1, norm1, conv2, pool2, norm2, conv3, conv4, conv5, pool5"
    _fails(project, "layer must be one string, one of: " + known, "fc7",
           images=images, layer=tf.constant("fc7"), channel=tf.constant([0, 1, 2]))
    _fails(project, "layer must be one string", images=images,
           layer=tf.constant(["conv1", "conv2"]), channel=tf.constant([0, 1, 2]))
    _fails(project, "channel out of range for layer", "[conv3]", "[12]", "[0 12 2]",
           images=images, layer=tf.constant("conv3"), channel=tf.constant([0, 12, 2]))
    _fails(project, "channel out of range", "[-1 0 0]",
           images=images, layer=tf.constant("conv1"), channel=tf.constant([-1, 0, 0]))
    _fails(project, "channel must be int32 (N,), one entry per image; images have N =", "[3]", "[2]",
           images=images, layer=tf.constant("conv3"), channel=tf.constant([0, 1]))
    _fails(project, "images must be uint8 shaped (N, 28, 28, 1)",
           images=images[:, :, :27], layer=tf.constant("conv3"), channel=tf.constant([0, 1, 2]))
    _fails(project, "expected to be a int32 tensor but is a int64 tensor",
           images=images, layer=tf.constant("conv3"), channel=tf.constant([0, 1, 2], tf.int64))
    # the largest valid channel of the layer works
    out = project(images=images, layer=tf.constant("conv3"), channel=tf.constant([11, 0, 5]))
    assert out["projection"].shape == (3, 28, 28, 1) and out["position"].dtype == tf.int32
