"""``zfkeras explore``: any Keras convnet and an image folder become a log-folder
entry the explorer shows as it shows a run (keras.applications MobileNetV2
with weights=None at 32 px; a small functional convnet with caffe
preprocessing and class names), and what it refuses."""

import json

import numpy as np
import pytest

from tests.explore_helpers import client, get, png_bytes, post, ready_unit
from zfkeras.explore.cli import main


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    from tests.images_helpers import photos, small

    folder = tmp_path_factory.mktemp("explore_images") / "photos"
    (folder / "sub").mkdir(parents=True)
    for i, (name, image) in enumerate(photos().items()):
        for j, (h, w) in enumerate(((40, 52), (61, 45))):
            (folder / ("sub" if j else "") / f"{name}_{j}.png").write_bytes(png_bytes(small(image, h, w)))
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture(scope="module")
def mobilenet_file(tmp_path_factory):
    import keras

    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=4)
    path = tmp_path_factory.mktemp("explore_models") / "mobilenet.keras"
    model.save(path)
    return path


def _small_convnet(path):
    import keras

    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    keras.Model(inputs, outputs).save(path)
    return path


def test_a_keras_applications_model_becomes_an_entry_the_explorer_shows(mobilenet_file, image_folder, tmp_path, capsys):
    import zfkeras
    from zfkeras.runs.sources import read_image_file

    logdir = tmp_path / "logs"
    assert main([str(mobilenet_file), "--images", str(image_folder), "--logdir", str(logdir),
                 "--preprocess", "tf"]) == 0
    assert "tensorboard --logdir" in capsys.readouterr().out
    meta = json.loads((logdir / "mobilenet" / "explore.json").read_text())
    assert meta["input_shape"] == [32, 32, 3] and meta["num_images"] == 12 and meta["preprocess"] == "tf"
    with np.load(logdir / "mobilenet" / "images.npz") as f:
        files = sorted(str(p.relative_to(image_folder)) for p in image_folder.rglob("*.png"))
        assert sorted(f["files"].tolist()) == files
        first = image_folder / f["files"][0]
        np.testing.assert_array_equal(f["images"][0], read_image_file(first, 32, 32, 3))
    http, plugin = client(logdir)
    assert plugin.is_active()
    status, runs = get(http, "runs")
    assert runs["runs"] == [{"id": "mobilenet", "kind": "entry"}]
    status, info = get(http, "info", run="mobilenet")
    assert status == 200 and info["test_images"] == 12 and info["class_names"] == [f"class {i}" for i in range(4)]
    layer = "block_3_project"
    unit, _ = ready_unit(http, run="mobilenet", layer=layer, map="3")
    model = zfkeras.load_model(mobilenet_file)
    with np.load(logdir / "mobilenet" / "images.npz") as f:
        images = f["images"].astype(np.float32) / 127.5 - 1.0
    top = zfkeras.top_activations(model, images, [layer], k=9, verbose=0)[layer]
    assert [p["image"] for p in unit["panels"]] == top.image_ids[3].tolist()
    status, up = post(http, "upload", (image_folder / "coffee_0.png").read_bytes(), run="mobilenet")
    assert status == 200
    status, analysis = get(http, "analyze", run="mobilenet", image=up["image"])
    assert status == 200 and len(analysis["top"]) == 4
    status, projection = get(http, "project", run="mobilenet", image=up["image"], layer=layer, map="3")
    assert status == 200 and projection["value"] >= 0


def test_a_functional_convnet_with_caffe_preprocessing_and_class_names(image_folder, tmp_path):
    from keras.applications import imagenet_utils

    from zfkeras.explore import entry
    from zfkeras.explore.sources import EntrySource

    model_path = _small_convnet(tmp_path / "small.keras")
    (tmp_path / "names.txt").write_text("cat\ndog\nbird\n")
    assert main([str(model_path), "--images", str(image_folder), "--logdir", str(tmp_path / "logs"), "--name", "mine",
                 "--preprocess", "caffe", "--class-names", str(tmp_path / "names.txt"), "--max-images", "10"]) == 0
    source = EntrySource("mine", str(tmp_path / "logs" / "mine"))
    raw, labels = source.test_images()
    assert raw.shape == (10, 24, 24, 3) and labels is None and source.class_names == ["cat", "dog", "bird"]
    expected = imagenet_utils.preprocess_input(raw.astype(np.float32), mode="caffe")
    np.testing.assert_allclose(source.preprocess(raw), expected, rtol=1e-6)
    assert entry.preprocess(raw, "scale255").max() <= 1.0
    http, _ = client(tmp_path / "logs")
    status, unit = get(http, "unit", run="mine", layer="c2", map="7")
    assert status == 200 and unit["status"] in ("mining", "ready")
    unit, _ = ready_unit(http, run="mine", layer="c2", map="7")
    assert len(unit["panels"]) == 9


def test_what_explore_refuses(image_folder, tmp_path, capsys):
    import keras

    def refused(argv, words):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("zfkeras explore: error:") and words in err, err

    model_path = _small_convnet(tmp_path / "ok.keras")
    logs = str(tmp_path / "logs")
    refused([str(tmp_path / "missing.keras"), "--images", str(image_folder), "--logdir", logs], "does not exist")
    refused([str(model_path), "--images", str(tmp_path / "nowhere"), "--logdir", logs], "is not a folder")
    few = tmp_path / "few"
    few.mkdir()
    for i in range(3):
        (few / f"{i}.png").write_bytes(png_bytes(np.full((30, 30, 3), i * 40, np.uint8)))
    refused([str(model_path), "--images", str(few), "--logdir", logs], "at least 9")
    refused([str(model_path), "--images", str(image_folder), "--logdir", logs, "--name", "../up"], "--name")
    (tmp_path / "two.txt").write_text("a\nb\n")
    refused([str(model_path), "--images", str(image_folder), "--logdir", logs, "--class-names",
             str(tmp_path / "two.txt")], "has 2 names")
    swish = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="swish"),
                              keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    swish.save(tmp_path / "swish.keras")
    refused([str(tmp_path / "swish.keras"), "--images", str(image_folder), "--logdir", logs], "cannot mirror")
    wide = keras.Sequential([keras.Input((16, 20, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    wide.save(tmp_path / "wide.keras")
    refused([str(tmp_path / "wide.keras"), "--images", str(image_folder), "--logdir", logs], "square")
    assert not (tmp_path / "logs").exists()


def test_a_model_with_a_nested_base_offers_the_bases_layers(image_folder, tmp_path):
    # the shape of a fine-tuned model: a convolutional base as one layer of the classifier
    import keras

    import zfkeras
    from zfkeras.explore.sources import EntrySource

    inner = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inner)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    base = keras.Model(inner, keras.layers.Conv2D(8, 3, activation="relu", name="c2")(x), name="base")
    inputs = keras.Input((24, 24, 3))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(base(inputs)))
    keras.Model(inputs, outputs).save(tmp_path / "tuned.keras")
    assert main([str(tmp_path / "tuned.keras"), "--images", str(image_folder), "--logdir", str(tmp_path / "logs"),
                 "--name", "tuned", "--preprocess", "scale255"]) == 0
    http, _ = client(tmp_path / "logs")
    status, info = get(http, "info", run="tuned")
    assert status == 200
    assert [(layer["name"], layer["conv"]) for layer in info["layers"]] == [
        ("base/c1", True), ("base/p1", False), ("base/c2", True)]
    unit, _ = ready_unit(http, run="tuned", layer="base/c2", map="5")
    source = EntrySource("tuned", str(tmp_path / "logs" / "tuned"))
    raw, _ = source.test_images()
    model = zfkeras.load_model(tmp_path / "tuned.keras")
    top = zfkeras.top_activations(model, source.preprocess(raw), ["base/c2"], k=9, verbose=0)["base/c2"]
    assert [p["image"] for p in unit["panels"]] == top.image_ids[5].tolist()
    status, occluded = get(http, "occlusion", run="tuned", image="test:0", size="8", stride="4")
    assert status == 200 and occluded["layer"] == "base/c2"
