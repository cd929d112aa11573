"""export_model / export_run: version folders, argument checks, other
models, and exports killed part-way."""

import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import export_helpers as helpers
from zfkeras.export import export_model, next_version
from zfkeras.methods.unit import Unit


def test_next_version_counts_only_all_digit_names(tmp_path):
    assert next_version(tmp_path / "missing") == 1
    assert next_version(tmp_path) == 1
    for name in ["1", "3", "10", "v12", "7b", "\u00b2", ".tmp-123-abcd-40"]:
        (tmp_path / name).mkdir()
    assert next_version(tmp_path) == 11
    (tmp_path / "99").write_text("a file: the version folder cannot take its name")
    assert next_version(tmp_path) == 100


def _sequential_logits_model():
    """A non-ZFNet convnet the deconvnet accepts, ending in logits, no fc7."""
    keras.utils.set_random_seed(5)
    return keras.Sequential([
        keras.Input((12, 12, 3)),
        keras.layers.Conv2D(6, 3, activation="relu", name="c1"),
        keras.layers.MaxPooling2D(2, name="p1"),
        keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="c2"),
        keras.layers.Flatten(),
        keras.layers.Dense(3, name="logits"),
    ])


def test_any_deconvnet_model_with_logits_and_layer_subset(tmp_path):
    from zfkeras import Deconvnet

    model = _sequential_logits_model()
    path = export_model(model, tmp_path, ["a", "b", "c"], version=4, deconvnet_layers=["c2", "p1"])
    assert path == tmp_path / "4" and sorted(os.listdir(tmp_path)) == ["4"]
    assert (path / "assets" / "class_names.txt").read_text() == "a\nb\nc\n"
    loaded = tf.saved_model.load(str(path))
    raw = np.random.RandomState(0).randint(0, 256, (4, 12, 12, 3)).astype(np.uint8)
    inputs = raw.astype(np.float32)  # no preprocessing: pixels as float32
    out = loaded.signatures["serving_default"](images=tf.constant(raw))
    logits = model.predict(inputs, verbose=0)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    np.testing.assert_allclose(out["probabilities"].numpy(), softmax, rtol=1e-5, atol=1e-6)
    assert out["top_classes"].shape == (4, 3)  # fewer than 5 classes
    features = loaded.signatures["features"](images=tf.constant(raw))
    assert sorted(features) == ["c2"]  # conv layers among the chosen ones; no fc7 here
    projection = loaded.signatures["project"](images=tf.constant(raw), layer=tf.constant("p1"),
                                              channel=tf.constant([0, 1, 2, 5], tf.int32))
    expected = Deconvnet(model).project(inputs, Unit("p1", [0, 1, 2, 5]))
    np.testing.assert_allclose(projection["projection"].numpy(), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one of: c2, p1; got"):
        loaded.signatures["project"](images=tf.constant(raw), layer=tf.constant("c1"),
                                     channel=tf.constant([0, 0, 0, 0], tf.int32))


def test_bad_arguments_fail_before_writing(tmp_path):
    model = _sequential_logits_model()
    (tmp_path / "2").mkdir()
    cases = [
        (dict(class_names=["a", "b"]), ValueError, "class_names has 2 names but the model has 3 classes"),
        (dict(class_names="abc"), TypeError, "class_names must be a list of strings"),
        (dict(class_names=["a", 2, "c"]), TypeError, "class_names must be strings, got 2"),
        (dict(class_names=["a", "b\nc", "d"]), ValueError, "contains a line break"),
        (dict(version=2), ValueError, "already exists; pass another version or none (the next free one is 3)"),
        (dict(version=0), ValueError, "version must be a positive integer, got 0"),
        (dict(version="2"), TypeError, "version must be a positive integer"),
        (dict(deconvnet_layers=["c1", "logits"]), ValueError, "unknown: ['logits']"),
        (dict(preprocessing=keras.layers.Resizing(6, 6)), ValueError,
         "preprocessing maps images (1, 12, 12, 3) to shape (1, 6, 6, 3)"),
        (dict(preprocessing="scale"), TypeError, "preprocessing must be a Keras layer"),
    ]
    for kwargs, error, fragment in cases:
        kwargs = {"class_names": ["a", "b", "c"], **kwargs}
        with pytest.raises(error) as info:
            export_model(model, tmp_path, **kwargs)
        assert fragment in str(info.value), (kwargs, str(info.value))
    sigmoid = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                                keras.layers.Dense(2, activation="sigmoid", name="out")])
    with pytest.raises(ValueError, match="last layer 'out' has activation 'sigmoid'"):
        export_model(sigmoid, tmp_path, ["a", "b"])
    dense = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    with pytest.raises((ValueError, TypeError)):
        export_model(dense, tmp_path, ["a", "b"])  # the deconvnet's own message
    assert sorted(os.listdir(tmp_path)) == ["2"]  # nothing written, no temporaries


_KILLED_EXPORT = """
import sys
sys.path.insert(0, {repo!r})
from tests import export_helpers as helpers
from zfkeras.export import export_model
export_model(helpers.tiny_model(), sys.argv[1], helpers.CLASS_NAMES, preprocessing=helpers.preprocessing_layer(),
             explain_methods=[])  # the explain_* signatures are tests/test_export_explain.py's
print("export finished: the kill hook did not fire")
"""


def test_killed_export_leaves_nothing_loadable_and_the_next_one_works(tmp_path):
    code = _KILLED_EXPORT.format(repo=str(helpers.REPO))
    stages = ["staged", "written"]
    processes = {}
    for stage in stages:  # both at once: each pays TensorFlow's import
        out = tmp_path / stage
        out.mkdir()
        (out / "3").mkdir()  # an earlier version, to keep
        env = {**os.environ, "ZFKERAS_EXPORT_KILL_AT": stage, "TF_CPP_MIN_LOG_LEVEL": "2"}
        processes[stage] = subprocess.Popen(
            [sys.executable, "-c", code, str(out)], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    for stage, process in processes.items():
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == -signal.SIGKILL, (stage, stdout, stderr[-2000:])
        entries = sorted(os.listdir(tmp_path / stage))
        # only the earlier version is a version folder; the rest is one hidden temporary
        assert [e for e in entries if not e.startswith(".tmp-")] == ["3"], entries
        (temporary,) = [e for e in entries if e.startswith(".tmp-")]
        written = sorted(os.listdir(tmp_path / stage / temporary))
        if stage == "staged":
            assert written == ["class_names.txt"]
        else:  # a complete SavedModel, invisible to servers until renamed
            assert {"saved_model.pb", "variables", "assets"} <= set(written)
    out = tmp_path / "written"
    model = helpers.tiny_model()
    path = export_model(model, out, helpers.CLASS_NAMES, preprocessing=helpers.preprocessing_layer(),
                        explain_methods=[])
    assert path == out / "4"
    assert sorted(os.listdir(out)) == ["3", "4"]  # the dead writer's temporary is gone
    raw = helpers.raw_digits(2)
    probabilities = tf.saved_model.load(str(path)).signatures["serving_default"](
        images=tf.constant(raw))["probabilities"].numpy()
    np.testing.assert_allclose(probabilities, model.predict(helpers.preprocess(raw), verbose=0), atol=1e-5)
