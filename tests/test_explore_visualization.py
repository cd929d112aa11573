"""The explorer's feature visualisations through TensorBoard's WSGI app: a
map's optimised image and every class's, computed in the background with
progress (the asked map's batch first), equal to `zfkeras.feature_visualization`
called as the explorer documents it, stored in the run folder and reused by
a new TensorBoard with no optimisation, for a grey trained run and a colour
``zfkeras explore`` entry with caffe preprocessing; bad requests get 400."""

import functools
import os
import time

import numpy as np
import pytest

from tests.explore_helpers import BASE, client, copy_run, decode, get, png_bytes

STEPS = "3"


@pytest.fixture(scope="module")
def logdir(trained_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("explore_fv")
    copy_run(trained_run, root)
    return root


@pytest.fixture(scope="module")
def run(logdir):
    from zfkeras.runs import RunFolder

    return RunFolder(logdir / "run")


def _explorer(plugin):
    return plugin._routes()


def _ready(http, route, timeout=900, **params):
    """Polls a visualisation route until ready: ``(answer, the answers before it)``."""
    answers, start = [], time.monotonic()
    while time.monotonic() - start < timeout:
        status, body = get(http, route, **params)
        assert status == 200, body
        if body["status"] == "ready":
            return body, answers
        assert body["status"] == "running" and 0.0 <= body["progress"] <= 1.0, body
        done, total = body["chunks"]
        assert 0 <= done <= total, body
        answers.append(body)
        time.sleep(0.2)
    raise AssertionError(f"{route} {params} not ready after {timeout} s")


def _library(model, objectives, inputs, preprocess, steps):
    """`zfkeras.feature_visualization` as the explorer documents its call."""
    import zfkeras
    from zfkeras.explore.visualization import CROPS

    return zfkeras.feature_visualization(model, objectives, method="maco", inputs=inputs, preprocess=preprocess,
                                         steps=steps, seed=0, crops=CROPS, verbose=0)


def _count_calls(monkeypatch):
    import zfkeras

    calls, real = [], zfkeras.feature_visualization

    def counted(*args, **kwargs):
        calls.append(kwargs.get("steps"))
        return real(*args, **kwargs)

    monkeypatch.setattr(zfkeras, "feature_visualization", counted)
    return calls


def test_a_maps_image_is_optimised_in_the_background_its_batch_first_stored_and_reused(logdir, run, monkeypatch):
    from zfkeras import Unit
    from zfkeras.explore.sources import SPECTRUM_IMAGES
    from zfkeras.runs.visualized import load_visualization

    calls = _count_calls(monkeypatch)
    http, plugin = client(logdir)
    status, first = get(http, "visualization", run="run", layer="conv1", map="20", steps=STEPS)
    assert status == 200 and first["status"] == "running" and first["chunks"] == [0, 2], first
    assert first["maps"] == 32 and first["method"] == "maco" and first["steps"] == 3 and first["seed"] == 0
    answer, _ = _ready(http, "visualization", run="run", layer="conv1", map="20", steps=STEPS)
    job = _explorer(plugin).visualizations._jobs[("run", ("layer:conv1", "maco", 3, 0))]
    assert list(job.partial)[0] == 1                     # map 20's batch (maps 16..31) was optimised first
    train, _ = run.load_split("train", max_examples=SPECTRUM_IMAGES, seed=0)
    model = run.load_model(compile=False)
    expected = _library(model, [Unit("conv1", c) for c in range(16, 32)], run.preprocess(train), run.preprocess, 3)
    [entry] = answer["entries"]
    assert entry["index"] == 20 and entry["value"] == pytest.approx(float(expected.values[4]), rel=1e-4, abs=1e-4)
    shown = decode(entry["image"])
    assert shown.shape == (28, 28, 3) and (shown == shown[..., :1]).all()      # grey, drawn as three equal channels
    np.testing.assert_allclose(shown[..., 0], expected.pixels[4, ..., 0], atol=1)
    faded = decode(entry["faded"])
    assert faded.shape == (28, 28, 4)
    np.testing.assert_allclose(faded[..., 3], np.round(expected.transparency[4] * 255), atol=1)
    assert 0.0 < expected.transparency[4].mean() < 1.0        # a real alpha: some pixels cared less

    deadline = time.monotonic() + 900                           # the rest of the layer, then stored
    path = run.path / "visualized" / "layer_conv1_maco_3steps_seed0.npz"
    while not path.exists():
        assert time.monotonic() < deadline, "the layer was not stored"
        time.sleep(0.2)
    assert sorted(calls) == [3, 3, 3]                           # two batches and the oracle
    stored, params = load_visualization(run, "layer:conv1", "maco", 3, 0, chunk=16, crops=8)
    assert stored["pixels"].shape == (32, 28, 28, 1) and params["spectrum"]["split"] == "train"
    assert params["spectrum"]["num_images"] == len(train) and params["objectives"] == 32
    np.testing.assert_allclose(stored["pixels"][16:], expected.pixels, atol=1)
    np.testing.assert_allclose(stored["transparency"][16:], expected.transparency, atol=1 / 255 + 1e-6)

    # a new TensorBoard reads the stored layer: ready at once, no optimisation, nothing rewritten
    mtime = path.stat().st_mtime_ns
    again, _ = client(logdir)
    status, reused = get(again, "visualization", run="run", layer="conv1", map="3", steps=STEPS)
    assert status == 200 and reused["status"] == "ready" and reused["chunks"] == [2, 2], reused
    np.testing.assert_array_equal(decode(reused["entries"][0]["image"])[..., 0], stored["pixels"][3, ..., 0])
    assert reused["entries"][0]["value"] == pytest.approx(float(stored["values"][3]), abs=1e-4)
    assert sorted(calls) == [3, 3, 3] and path.stat().st_mtime_ns == mtime


def test_every_class_gets_an_image_of_its_pre_softmax_score_stored_and_reused(logdir, run, monkeypatch):
    from zfkeras.explore.sources import SPECTRUM_IMAGES

    calls = _count_calls(monkeypatch)
    http, _ = client(logdir)
    status, info = get(http, "info", run="run")
    assert status == 200 and info["num_classes"] == 10 and info["visualization"]["method"] == "maco"
    answer, waits = _ready(http, "class_visualizations", run="run", steps=STEPS)
    assert waits and answer["classes"] == 10 and [e["index"] for e in answer["entries"]] == list(range(10))
    assert [e["label"] for e in answer["entries"]] == list(run.class_names)
    train, _ = run.load_split("train", max_examples=SPECTRUM_IMAGES, seed=0)
    expected = _library(run.load_model(compile=False), list(range(10)), run.preprocess(train), run.preprocess, 3)
    for entry, pixels, value in zip(answer["entries"], expected.pixels, expected.values):
        np.testing.assert_allclose(decode(entry["image"])[..., 0], pixels[..., 0], atol=1)
        assert entry["value"] == pytest.approx(float(value), rel=1e-4, abs=1e-4)
    path = run.path / "visualized" / "classes_maco_3steps_seed0.npz"
    deadline = time.monotonic() + 300
    while not path.exists():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    count = len(calls)
    again, _ = client(logdir)
    status, reused = get(again, "class_visualizations", run="run", steps=STEPS)
    assert status == 200 and reused["status"] == "ready" and len(calls) == count
    assert [e["image"] for e in reused["entries"]] == [e["image"] for e in answer["entries"]]
    status, page = get(again, "class_visualizations", run="run", steps=STEPS, offset="8", count="5")
    assert status == 200 and page["status"] == "ready" and [e["index"] for e in page["entries"]] == [8, 9]
    assert page["entries"] == answer["entries"][8:] and page["count"] == 2 and page["classes"] == 10
    status, body = get(again, "class_visualizations", run="run", steps=STEPS, offset="10")
    assert status == 400 and "'offset' must be in 0..9" in body["error"]


def test_bad_visualisation_requests_are_refused_with_a_message_and_start_nothing(logdir):
    http, plugin = client(logdir)
    for params, words in (
            ({"layer": "nope", "map": "0"}, "unknown layer"),
            ({"layer": "conv1", "map": "32"}, "'map' must be in 0..31"),
            ({"layer": "conv1", "map": "3_0"}, "must be an integer"),
            ({"layer": "conv1", "map": "-1"}, "must be in"),
            ({"layer": "conv1", "map": "0", "steps": "0"}, "'steps' must be in 1..512"),
            ({"layer": "conv1", "map": "0", "steps": "513"}, "'steps' must be in 1..512"),
            ({"layer": "conv1", "map": "0", "seed": "-2"}, "'seed'"),
            ({"layer": "conv1", "map": "0", "method": "deconvnet"}, "must be one of maco, fourier")):
        status, body = get(http, "visualization", run="run", **params)
        assert status == 400 and words in body["error"], (params, body)
    status, body = get(http, "class_visualizations", run="run", steps="x")
    assert status == 400 and "'steps'" in body["error"]
    status, body = get(http, "class_visualizations", run="../run")
    assert status == 400
    assert _explorer(plugin).visualizations._jobs == {}
    for name in ("classes.js", "units.js"):
        assert http.get(f"{BASE}/{name}").status_code == 200


def test_a_colour_entry_with_caffe_preprocessing_uses_its_own_images_and_keeps_nothing_outside(tmp_path):
    import keras

    from zfkeras import Unit
    from zfkeras.explore import entry
    from zfkeras.explore.cli import main
    from zfkeras.explore.sources import EntryFolder
    from zfkeras.runs.visualized import load_visualization
    from tests.images_helpers import photos, small

    folder = tmp_path / "photos"
    folder.mkdir()
    for name, image in photos().items():
        for j, (h, w) in enumerate(((30, 26), (25, 33))):
            (folder / f"{name}_{j}.png").write_bytes(png_bytes(small(image, h, w)))
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="p1")(x)
    x = keras.layers.Conv2D(5, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    model.save(tmp_path / "small.keras")
    assert main([str(tmp_path / "small.keras"), "--images", str(folder), "--logdir", str(tmp_path / "logs"),
                 "--name", "mine", "--preprocess", "caffe"]) == 0
    http, _ = client(tmp_path / "logs")
    answer, _ = _ready(http, "visualization", run="mine", layer="c2", map="4", steps="4")
    with np.load(tmp_path / "logs" / "mine" / entry.IMAGES_FILE) as f:
        raw = f["images"]
    caffe = functools.partial(entry.preprocess, mode="caffe")
    expected = _library(keras.models.load_model(tmp_path / "logs" / "mine" / "model.keras"),
                        [Unit("c2", c) for c in range(5)], caffe(raw), caffe, 4)
    shown = decode(answer["entries"][0]["image"])
    assert shown.shape == (24, 24, 3) and not (shown == shown[..., :1]).all()      # colour
    np.testing.assert_allclose(shown, expected.pixels[4], atol=1)
    folder = EntryFolder(str(tmp_path / "logs" / "mine"))
    deadline = time.monotonic() + 300
    while load_visualization(folder, "layer:c2", "maco", 4, 0) is None:
        assert time.monotonic() < deadline, "the entry's layer was not stored"
        time.sleep(0.1)
    stored, params = load_visualization(folder, "layer:c2", "maco", 4, 0)
    assert params["spectrum"] == {"split": entry.IMAGES_FILE, "max_images": len(raw), "seed": 0,
                                  "num_images": len(raw)}
    np.testing.assert_allclose(stored["pixels"], expected.pixels, atol=1)

    # visualized/ leading out of the entry: the images are shown but kept in memory only
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, tmp_path / "logs" / "mine" / "visualized_link")
    os.rename(tmp_path / "logs" / "mine" / "visualized", tmp_path / "kept")
    os.rename(tmp_path / "logs" / "mine" / "visualized_link", tmp_path / "logs" / "mine" / "visualized")
    fresh, _ = client(tmp_path / "logs")
    classes, _ = _ready(fresh, "class_visualizations", run="mine", steps="2")
    assert len(classes["entries"]) == 3 and [e["label"] for e in classes["entries"]] == ["class 0", "class 1",
                                                                                         "class 2"]
    time.sleep(0.5)
    assert list(outside.iterdir()) == []
