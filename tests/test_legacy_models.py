"""Models from the ecosystem: legacy HDF5 files (how Keras 2 and tf.keras
shared trained classifiers) load through `zfkeras.load_model` and
``zfkeras explore``, including those whose saved Keras-2 optimizer config
Keras 3 refuses to compile; SavedModel folders, truncated, renamed,
weights-only and unreadable files are refused with what they are.

The legacy file is made offline: a Keras 3 convnet (Conv2D,
BatchNormalization, SeparableConv2D, MaxPooling2D, a residual Add) saved as
``.h5``, its ``training_config`` then rewritten with h5py to what Keras 2
wrote (an ``Adam`` config with ``lr`` and ``decay``). The fixture checks
that plain ``keras.models.load_model`` fails on it as the issue reports;
the model in memory is the oracle every loaded copy is compared with.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from tests.explore_helpers import png_bytes
from tests.subprocess_helpers import quiet_env
from zfkeras.utils.errors import InputError, MissingInputError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERAS2_TRAINING_CONFIG = {
    "loss": "categorical_crossentropy", "metrics": ["accuracy"], "weighted_metrics": None,
    "loss_weights": None, "sample_weight_mode": None,
    "optimizer_config": {"class_name": "Adam", "config": {
        "name": "Adam", "lr": 0.0001, "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
        "amsgrad": False}},
}


def _convnet():
    """A small residual convnet with the layer kinds of the issue's model, every weight non-trivial."""
    import keras

    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Activation("relu", name="relu1")(x)
    branch = keras.layers.SeparableConv2D(8, 3, padding="same", activation="relu", name="sep1")(x)
    x = keras.layers.Add(name="res")([x, branch])
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs, name="legacy_classifier")
    rng = np.random.default_rng(7)
    # moving statistics away from (0, 1), so a loader that dropped them would show
    model.get_layer("bn1").set_weights([rng.uniform(0.5, 1.5, 8), rng.normal(0, 0.2, 8),
                                        rng.normal(0, 0.3, 8), rng.uniform(0.5, 2.0, 8)])
    return model


def _images(count=12, side=24, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (count, side, side, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    """``(original model, path of its Keras-2-style .h5 file)``."""
    import h5py
    import keras

    model = _convnet()
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    path = tmp_path_factory.mktemp("legacy") / "classifier.h5"
    model.save(path)  # Keras 3 writes the legacy HDF5 format for .h5
    with h5py.File(path, "r+") as f:
        assert "model_config" in f.attrs and "training_config" in f.attrs
        f.attrs["training_config"] = json.dumps(KERAS2_TRAINING_CONFIG)
        f.attrs["keras_version"] = "2.4.0"
        f.attrs["backend"] = "tensorflow"
    # the fixture fails the way the model does
    with pytest.raises(ValueError, match=r"Argument\(s\) not recognized: \{'lr': 0.0001\}"):
        keras.models.load_model(path)
    return model, path


def test_load_model_reads_a_keras2_hdf5_model_without_compiling(legacy, tmp_path):
    import zfkeras

    original, path = legacy
    images = _images()
    expected = original.predict(images, verbose=0)
    model = zfkeras.load_model(path)
    assert [layer.__class__.__name__ for layer in model.layers] == [
        layer.__class__.__name__ for layer in original.layers]
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert not model.compiled  # the Keras-2 optimizer is not rebuilt
    copy = shutil.copyfile(path, tmp_path / "classifier.hdf5")
    np.testing.assert_allclose(zfkeras.load_model(copy).predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match=r"compile=False") as caught:
        zfkeras.load_model(path, compile=True)  # asked for: Keras' own error, with what to do
    assert "'lr': 0.0001" in str(caught.value)


def test_the_methods_run_on_a_legacy_model_as_on_the_original(legacy):
    import keras

    import zfkeras

    original, path = legacy
    model = zfkeras.load_model(path)
    images = _images(4, seed=1)
    for layer in ("res", "conv2"):
        maps = keras.Model(original.input, original.get_layer(layer).output).predict(images, verbose=0)
        channel = int(maps.max(axis=(0, 1, 2)).argmax())  # a live channel: its projection is not all zero
        projected = zfkeras.Deconvnet(model).project(images, layer, channel, verbose=0)
        np.testing.assert_allclose(projected, zfkeras.Deconvnet(original).project(images, layer, channel, verbose=0),
                                   rtol=1e-4, atol=1e-6)
        assert np.abs(projected).max() > 0
    occluded = zfkeras.occlusion(model, images, size=8, stride=4, layer="conv2", verbose=0)
    reference = zfkeras.occlusion(original, images, size=8, stride=4, layer="conv2", verbose=0)
    np.testing.assert_allclose(occluded.class_probability, reference.class_probability, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(occluded.true_label, reference.true_label)
    cams = zfkeras.grad_cam(model, images, "conv2", verbose=0)
    assert cams.shape == (4, 24, 24) and cams.max() > 0
    np.testing.assert_allclose(cams, zfkeras.grad_cam(original, images, "conv2", verbose=0), rtol=1e-4, atol=1e-6)


def test_keras2_layer_arguments_and_names_keras3_refuses_are_upgraded(legacy, tmp_path):
    # What tf.keras 2.x wrote and Keras 3 refuses (MobileNet, Xception, DenseNet as tf.keras
    # saved them): groups=1 and the unused kernel_* arguments on a separable convolution, '/'
    # in a layer name. Put into the fixture's architecture by text, so the weights are the oracle's.
    import h5py
    import keras

    import zfkeras

    original, path = legacy
    keras2 = shutil.copyfile(path, tmp_path / "keras2.h5")
    with h5py.File(keras2, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "SeparableConv2D":
                layer["config"].update(groups=1, kernel_regularizer=None, kernel_constraint=None,
                                       kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}})
        text = json.dumps(config)
        assert text.count('"conv2"') >= 3  # its name, its config's name, the next layer's input
        f.attrs["model_config"] = text.replace('"conv2"', '"block2/conv"')
    with pytest.raises(TypeError, match=r"Unrecognized keyword arguments passed to SeparableConv2D: \{'groups': 1"):
        keras.models.load_model(keras2, compile=False)
    model = zfkeras.load_model(keras2)
    assert "block2_conv" in [layer.name for layer in model.layers]
    images = _images(4, seed=2)
    np.testing.assert_allclose(model.predict(images, verbose=0), original.predict(images, verbose=0),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(zfkeras.Deconvnet(model).project(images, "block2_conv", 1, verbose=0),
                               zfkeras.Deconvnet(original).project(images, "conv2", 1, verbose=0), rtol=1e-4, atol=1e-6)
    assert keras2.read_bytes().count(b"block2/conv") > 0  # the user's file is left as it was


def test_upgrade_keras2_config_on_a_keras2_functional_config():
    from zfkeras.keras_objects.keras2_configs import upgrade_keras2_config

    def conv(class_name, name, inbound, **extra):
        return {"class_name": class_name, "name": name, "inbound_nodes": inbound,
                "config": {"name": name, "filters": 4, "kernel_size": [3, 3], **extra}}

    keras2 = {"class_name": "Functional", "config": {
        "name": "densenet", "layers": [
            {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
             "config": {"name": "input_1", "batch_input_shape": [None, 8, 8, 3]}},
            conv("Conv2D", "conv1/conv", [[["input_1", 0, 0, {}]]], groups=1),
            conv("DepthwiseConv2D", "dw", [[["conv1/conv", 0, 0, {}]]], groups=1),
            conv("SeparableConv2D", "sep", [[["dw", 0, 0, {}]]], groups=1, kernel_initializer="glorot_uniform",
                 kernel_regularizer=None, kernel_constraint=None, depthwise_initializer="glorot_uniform"),
            conv("Conv2DTranspose", "up", [[["sep", 0, 0, {}]]], groups=2),
            {"class_name": "Add", "name": "conv1_conv", "inbound_nodes": [[["up", 0, 0, {}], ["conv1/conv", 0, 0, {}]]],
             "config": {"name": "conv1_conv"}},
        ],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["conv1_conv", 0, 0]]}}
    before = json.dumps(keras2)
    upgraded, changes = upgrade_keras2_config(keras2)
    assert json.dumps(keras2) == before  # the argument is not changed
    layers = upgraded["config"]["layers"]
    # '/' goes; the name it would take is already used, so it takes the next free one
    assert [layer["name"] for layer in layers] == ["input_1", "conv1_conv_", "dw", "sep", "up", "conv1_conv"]
    assert layers[1]["config"] == {"name": "conv1_conv_", "filters": 4, "kernel_size": [3, 3], "groups": 1}
    assert layers[2]["inbound_nodes"] == [[["conv1_conv_", 0, 0, {}]]] and "groups" not in layers[2]["config"]
    assert layers[3]["config"] == {"name": "sep", "filters": 4, "kernel_size": [3, 3],
                                   "depthwise_initializer": "glorot_uniform"}
    assert layers[4]["config"]["groups"] == 2  # a value that changes the layer is left for Keras to refuse
    assert layers[5]["inbound_nodes"] == [[["up", 0, 0, {}], ["conv1_conv_", 0, 0, {}]]]
    assert upgraded["config"]["output_layers"] == [["conv1_conv", 0, 0]]
    assert sorted(changes) == ["dw: dropped groups=1", "renamed layer 'conv1/conv' to 'conv1_conv_'",
                               "sep: dropped groups=1", "sep: dropped unused kernel_constraint",
                               "sep: dropped unused kernel_initializer", "sep: dropped unused kernel_regularizer"]
    assert upgrade_keras2_config(upgraded) == (upgraded, [])


def test_zfkeras_explore_takes_an_h5_model(legacy, tmp_path):
    from zfkeras.explore.sources import EntrySource
    from zfkeras.keras_objects.model_files import KERAS, model_file_format

    original, path = legacy
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(10):
        (folder / f"{i}.png").write_bytes(png_bytes(rng.integers(0, 256, (30, 36, 3), dtype=np.uint8)))
    logdir = tmp_path / "logs"
    done = subprocess.run([sys.executable, "-m", "zfkeras", "explore", str(path), "--images", str(folder),
                           "--logdir", str(logdir), "--preprocess", "scale255"],
                          cwd=REPO, env=quiet_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "wrote" in done.stdout
    entry = logdir / "classifier"
    assert model_file_format(entry / "model.keras") == KERAS  # saved again as a .keras archive
    source = EntrySource("classifier", str(entry))
    assert source.meta["sources"]["model"] == str(path.resolve()) and source.meta["num_images"] == 10
    raw, _ = source.test_images()
    inputs = source.preprocess(raw)
    np.testing.assert_allclose(source.load_model().predict(inputs, verbose=0), original.predict(inputs, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_zfkeras_occlude_takes_an_h5_model(legacy, tmp_path):
    import csv

    from zfkeras.analysis.cli import occlude

    _, path = legacy
    image = tmp_path / "photo.png"
    image.write_bytes(png_bytes(np.random.default_rng(5).integers(0, 256, (30, 40, 3), dtype=np.uint8)))
    out = tmp_path / "occluded"
    assert occlude.main([str(path), str(image), "--out", str(out), "--layer", "conv2", "--size", "8",
                         "--stride", "4", "--rescale", "0.00392"]) == 0
    assert (out / "photo_occlusion.png").is_file()
    with open(out / "occlusion.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 1


def test_a_savedmodel_folder_is_refused_with_how_to_convert_it(legacy, tmp_path, capsys):
    import zfkeras
    from zfkeras.analysis.cli import occlude
    from zfkeras.explore.cli import main

    original, _ = legacy
    exported = tmp_path / "served"
    original.export(str(exported), verbose=False)
    assert (exported / "saved_model.pb").is_file()
    with pytest.raises(InputError, match=r"TensorFlow SavedModel folder.*TFSMLayer"):
        zfkeras.load_model(exported)
    assert main([str(exported), "--images", str(tmp_path), "--logdir", str(tmp_path / "logs")]) == 2
    assert "SavedModel folder" in capsys.readouterr().err
    image = tmp_path / "one.png"
    image.write_bytes(png_bytes(np.zeros((24, 24, 3), np.uint8)))
    assert occlude.main([str(exported), str(image), "--out", str(tmp_path / "occluded")]) == 2
    assert "SavedModel folder" in capsys.readouterr().err
    # a folder tf.keras saved with model.save (Keras 2 marks it with keras_metadata.pb): Keras 2 can convert it
    (exported / "keras_metadata.pb").write_bytes(b"")
    with pytest.raises(InputError, match=r"saved by Keras 2.*tf_keras.*\.save\('model\.h5'\)"):
        zfkeras.load_model(exported)


def test_what_load_model_refuses_and_why(legacy, tmp_path):
    import keras

    import zfkeras

    original, path = legacy
    data = path.read_bytes()
    cases = {}
    (tmp_path / "cut.h5").write_bytes(data[:len(data) // 2])
    cases["cut.h5"] = (InputError, r"is corrupt \(not a complete HDF5 file, truncated")
    original.save(tmp_path / "whole.keras")
    archive = (tmp_path / "whole.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(archive[:len(archive) - 100])
    cases["cut.keras"] = (InputError, r"is corrupt \(not a complete zip archive")
    (tmp_path / "renamed.keras").write_bytes(data)
    cases["renamed.keras"] = (InputError, r"is named \.keras but is an HDF5 .*rename it to end in \.h5")
    (tmp_path / "renamed.h5").write_bytes(archive)
    cases["renamed.h5"] = (InputError, r"is named \.h5 but is a \.keras \(zip\) archive.*\.keras")
    original.save_weights(tmp_path / "only.weights.h5")
    cases["only.weights.h5"] = (InputError, r"holds weights only.*load_weights")
    (tmp_path / "empty.h5").write_bytes(b"")
    cases["empty.h5"] = (InputError, r"is empty")
    (tmp_path / "text.keras").write_text("not a model\n")
    cases["text.keras"] = (InputError, r"neither a \.keras \(zip\) archive nor an HDF5 file")
    shutil.copyfile(path, tmp_path / "model.pkl")
    cases["model.pkl"] = (InputError, r"not a Keras model file: Keras reads \.keras, \.h5 or \.hdf5")
    (tmp_path / "folder.keras").mkdir()
    cases["folder.keras"] = (InputError, r"is a folder, not a model file")
    cases["missing.h5"] = (MissingInputError, r"does not exist")
    for name, (error, words) in cases.items():
        with pytest.raises(error, match=words):
            zfkeras.load_model(tmp_path / name)
    # the intact archive beside them loads, and its predictions are the original's
    images = _images(3)
    np.testing.assert_allclose(zfkeras.load_model(tmp_path / "whole.keras").predict(images, verbose=0),
                               original.predict(images, verbose=0), rtol=1e-5, atol=1e-6)
    assert keras.models.load_model(tmp_path / "whole.keras").compiled  # .keras loads as Keras loads it


_AS_ANOTHER_USER = """
import json, os, sys
from zfkeras.keras_objects.saving import load_model
if os.geteuid() == 0:  # root reads any file: check as the unprivileged 'nobody'
    os.setgid(65534)
    os.setuid(65534)
found = {}
for path in sys.argv[1:]:
    try:
        load_model(path)
        found[path] = "loaded"
    except Exception as e:
        found[path] = f"{type(e).__name__}: {e}"
print(json.dumps(found))
"""


def test_an_unreadable_model_file_is_named_unreadable_not_corrupt(legacy):
    # Permissions are real here: a child process opens the files as a user
    # they are closed to (as root, it drops to 'nobody' first).
    _, path = legacy
    top = tempfile.mkdtemp(prefix="zfkeras-unreadable-")
    try:
        os.chmod(top, 0o755)
        closed_file = os.path.join(top, "closed.h5")
        shutil.copyfile(path, closed_file)
        os.chmod(closed_file, 0o000)
        shut = os.path.join(top, "shut")
        os.mkdir(shut)
        behind = os.path.join(shut, "behind.h5")
        shutil.copyfile(path, behind)
        os.chmod(shut, 0o000)
        done = subprocess.run([sys.executable, "-c", _AS_ANOTHER_USER, closed_file, behind], cwd=REPO,
                              env=quiet_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        found = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        os.chmod(os.path.join(top, "shut"), 0o755)
        shutil.rmtree(top)
    assert found[closed_file] == f"InputError: cannot read model file {closed_file!r}: permission denied"
    assert found[behind] == (f"InputError: cannot read model file {behind!r}: permission denied "
                             "(on a folder above it)")


def test_a_fifo_named_like_a_model_is_refused_at_once(tmp_path):
    from zfkeras.keras_objects.model_files import model_file_format

    fifo = tmp_path / "model.keras"
    os.mkfifo(fifo)  # opening it would wait for a writer for ever
    with pytest.raises(InputError, match=r"'.*model.keras' is not a regular file \(a FIFO"):
        model_file_format(fifo)
