"""Feature evolution (Fig. 4) and filter images as training callbacks."""

import glob
import os
import time

import numpy as np
import pytest
import keras
import tensorflow as tf
from sklearn.datasets import load_digits

import zfkeras
from tests import oracle
from zfkeras.train.evolution import FeatureEvolution
from zfkeras.train.filters import FilterImages, filter_grid, normalize_each
from zfkeras.methods.unit import Unit

LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def _digits(n, size=28, seed=0):
    """Real handwritten digits (scikit-learn), upscaled to 24x24 and padded."""
    digits = load_digits()
    rng = np.random.RandomState(seed)
    pick = rng.choice(len(digits.images), n, replace=False)
    up = np.kron(digits.images[pick].astype("float32"), np.ones((3, 3), "float32"))
    pad = (size - 24) // 2
    out = np.zeros((n, size, size, 1), "float32")
    out[:, pad : pad + 24, pad : pad + 24, 0] = up / 16.0
    return out, digits.target[pick], pick


def _tiny_model():
    return zfkeras.zfnet_small((28, 28, 1), 10, conv_filters=(8, 8, 8, 8, 8), fc_units=16, seed=0)


def _events(log_dir):
    """{(tag, step): (height, width, channels)} of the image summaries in log_dir."""
    found = {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "images":
                    continue
                width, height, png = tf.make_ndarray(value.tensor)[:3]
                channels = tf.io.decode_png(png).shape[-1]
                found[(value.tag, event.step)] = (int(height), int(width), channels)
    return found


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One 3-epoch fit with three callbacks; the tests read what they wrote."""
    root = tmp_path_factory.mktemp("evolution")
    keras.utils.set_random_seed(0)
    x, y, pick = _digits(40)
    sample, sample_ids = x[:24], pick[:24] + 1000  # ids that are not 0..N-1
    model = _tiny_model()
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy",
                  jit_compile=False)
    given = FeatureEvolution(sample, root / "logs", root / "given", epochs=(1, 2), total_epochs=3,
                             maps_per_layer=5, image_ids=sample_ids, seed=3, batch_size=10)
    # total_epochs=None: the last epoch comes from fit; epoch 7 never happens.
    implied = FeatureEvolution(sample, root / "logs_implied", root / "implied", epochs=(2, 7),
                               layers=("conv1", "conv5"), maps_per_layer=20)
    filters = FilterImages(root / "filters", layer="conv1")
    start = time.perf_counter()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[given, implied, filters])
    return dict(root=root, model=model, sample=sample, ids=sample_ids,
                given=given, implied=implied, fit_seconds=time.perf_counter() - start)


def _saved(out_dir):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(out_dir, "*")))


def test_schedule(run):
    assert _saved(run["root"] / "given") == [f"evolution_epoch_00{e}.npz" for e in (1, 2, 3)]
    assert _saved(run["root"] / "implied") == [f"evolution_epoch_00{e}.npz" for e in (2, 3)]
    assert [h["epoch"] for h in run["given"].history] == [1, 2, 3]
    # each record's wall time is its own share of the fit: positive, and all of them within it
    seconds = [h["seconds"] for h in run["given"].history]
    assert min(seconds) > 0 and sum(seconds) < run["fit_seconds"], (seconds, run["fit_seconds"])
    assert run["given"].total_seconds == pytest.approx(sum(h["seconds"] for h in run["given"].history))
    assert not glob.glob(os.path.join(run["root"] / "given", ".tmp-*"))  # no leftovers


def test_channels_fixed_and_capped(run):
    first = np.load(run["root"] / "given" / "evolution_epoch_001.npz")
    last = np.load(run["root"] / "given" / "evolution_epoch_003.npz")
    assert int(last["epoch"]) == 3 and list(last["layers"]) == list(LAYERS)
    for layer in LAYERS:
        channels = last[f"{layer}_channels"]
        assert len(channels) == 5 and len(set(channels)) == 5 and channels.max() < 8
        np.testing.assert_array_equal(first[f"{layer}_channels"], channels)
        assert last[f"{layer}_projections"].shape == (5, 28, 28, 1)
        assert last[f"{layer}_projections"].dtype == np.float32
        assert last[f"{layer}_positions"].shape == (5, 2)
        assert set(last[f"{layer}_image_ids"]) <= set(run["ids"])
    implied = np.load(run["root"] / "implied" / "evolution_epoch_003.npz")
    np.testing.assert_array_equal(implied["conv5_channels"], np.arange(8))  # 20 capped at 8
    # Training moved the weights, and the (live) deconvnet saw it.
    assert any(not np.array_equal(first[f"{l}_projections"], last[f"{l}_projections"]) for l in LAYERS)


def test_values_are_the_sample_maximum(run):
    model, sample = run["model"], run["sample"]
    saved = np.load(run["root"] / "given" / "evolution_epoch_003.npz")
    row_of_id = {int(i): r for r, i in enumerate(run["ids"])}
    for layer in LAYERS:
        acts = keras.Model(model.inputs, model.get_layer(layer).output).predict(sample, verbose=0)
        for ch, image_id, (py, px), value in zip(saved[f"{layer}_channels"], saved[f"{layer}_image_ids"],
                                                 saved[f"{layer}_positions"], saved[f"{layer}_values"]):
            np.testing.assert_allclose(value, acts[..., ch].max(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(acts[row_of_id[int(image_id)], py, px, ch], value, rtol=1e-5, atol=1e-6)
    assert any(saved[f"{l}_values"].max() > 0 for l in LAYERS)  # not all dead


def test_projections_match_deconvnet_on_final_weights(run):
    model, sample = run["model"], run["sample"]
    saved = np.load(run["root"] / "given" / "evolution_epoch_003.npz")
    row_of_id = {int(i): r for r, i in enumerate(run["ids"])}
    deconv = zfkeras.Deconvnet(model)
    for layer in LAYERS:
        rows = np.array([row_of_id[int(i)] for i in saved[f"{layer}_image_ids"]])
        channels, positions = saved[f"{layer}_channels"], saved[f"{layer}_positions"]
        ours = saved[f"{layer}_projections"]
        np.testing.assert_allclose(ours, deconv.project(sample[rows], Unit(layer, channels, positions)),
                                   rtol=1e-5, atol=1e-6)
        if layer in ("conv1", "conv5"):  # and the gradient-based oracle, independent of Deconvnet
            ref, _ = oracle.project(model, sample[rows], layer, channels, positions)
            scale = np.abs(ref).max() + 1e-12
            assert np.abs(ours - ref).max() / scale < 1e-4


def test_summaries(run):
    found = _events(str(run["root"] / "logs"))
    width = 5 * 28 + 4  # five maps in a row, 1-pixel separators
    assert set(found) == {(f"evolution/{l}", e) for l in LAYERS for e in (1, 2, 3)}
    assert set(found.values()) == {(28, width, 3)}  # drawn as the report draws them: grey as RGB
    implied = _events(str(run["root"] / "logs_implied"))
    assert set(implied) == {(f"evolution/{l}", e) for l in ("conv1", "conv5") for e in (2, 3)}
    filters = _events(str(run["root"] / "filters"))
    assert set(filters) == {("filters/conv1", e) for e in (1, 2, 3)}
    assert set(filters.values()) == {(3 * 6 - 1, 3 * 6 - 1, 1)}  # 8 filters 5x5 in a 3x3 grid


def test_record_outside_fit_and_bad_layer(tmp_path):
    model = _tiny_model()
    sample = _digits(6)[0]
    callback = FeatureEvolution(sample, tmp_path / "logs", tmp_path / "out", layers=("pool1",))
    callback.set_model(model)
    saved = callback.record(0)  # the untrained model
    assert saved["pool1_projections"].shape == (8, 28, 28, 1)
    assert os.path.exists(tmp_path / "out" / "evolution_epoch_000.npz")
    bad = FeatureEvolution(sample, tmp_path / "logs", tmp_path / "out", layers=("conv1", "conv9"))
    bad.set_model(model)
    with pytest.raises(ValueError, match="conv9"):
        bad.on_train_begin()
    head = FeatureEvolution(sample, tmp_path / "logs", tmp_path / "out", layers=("fc6",))
    head.set_model(model)
    with pytest.raises(ValueError, match="fc6"):
        head.on_train_begin()
    wrong_size = FeatureEvolution(np.zeros((2, 32, 32, 1), "float32"), tmp_path / "l", tmp_path / "o")
    wrong_size.set_model(model)
    with pytest.raises(ValueError, match="expects"):
        wrong_size.on_train_begin()
    filters = FilterImages(tmp_path / "f", layer="conv7")
    filters.set_model(model)
    with pytest.raises(ValueError, match="conv7"):
        filters.on_train_begin()
    pool = FilterImages(tmp_path / "f", layer="pool1")
    pool.set_model(model)
    with pytest.raises(ValueError, match="pool1"):
        pool.on_train_begin()


@pytest.mark.parametrize("kwargs, match", [
    (dict(images=np.zeros((0, 28, 28, 1), "float32")), "empty"),
    (dict(images=np.zeros((28, 28, 1), "float32")), "shaped"),
    (dict(epochs=(0, 1)), "positive int"),
    (dict(epochs=(1.5,)), "positive int"),
    (dict(epochs=(True,)), "positive int"),
    (dict(epochs=5), "sequence"),
    (dict(total_epochs=0), "total_epochs"),
    (dict(maps_per_layer=0), "maps_per_layer"),
    (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
    (dict(total_epochs=2.5), "total_epochs"),
    (dict(layers=()), "layers"),
    (dict(image_ids=np.arange(3)), "image_ids"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    args = dict(images=np.zeros((4, 28, 28, 1), "float32"), log_dir=tmp_path, out_dir=tmp_path)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        FeatureEvolution(**args)


def test_filter_grid_grey_rgb_and_deep():
    rng = np.random.RandomState(0)
    kernel = rng.randn(5, 5, 1, 8).astype("float32") * np.arange(1, 9)  # very different scales
    kernel[..., 7] = 0.3  # a constant ("dead") filter
    grid = filter_grid(kernel)
    assert grid.shape == (1, 17, 17, 1) and grid.dtype == np.float32
    assert grid.min() >= 0 and grid.max() <= 1
    cells = [grid[0, r * 6 : r * 6 + 5, c * 6 : c * 6 + 5] for r in range(3) for c in range(3)]
    for i in range(7):
        assert cells[i].min() == 0 and cells[i].max() == pytest.approx(1)
        np.testing.assert_allclose(cells[i], normalize_each(kernel[None, :, :, :, i])[0], atol=1e-6)
    assert np.all(cells[7] == 0.5)
    assert np.all(grid[0, 5, :] == 1.0) and np.all(grid[0, :, 11] == 1.0)  # separators

    rgb = filter_grid(rng.randn(3, 3, 3, 4))
    assert rgb.shape == (1, 7, 7, 3)
    cell = rgb[0, :3, 4:7]  # filter 1: all colours normalised together
    assert cell.min() == 0 and cell.max() == pytest.approx(1)
    assert not np.allclose(cell[..., 0], cell[..., 1])

    deep_kernel = rng.randn(3, 3, 8, 2)
    deep = filter_grid(deep_kernel)
    assert deep.shape == (1, 3, 7, 1)
    np.testing.assert_allclose(deep[0, :, :3, 0], normalize_each(deep_kernel[None, ..., 0].mean(-1))[0],
                               atol=1e-6)

    with pytest.raises(ValueError, match="kh, kw, cin, cout"):
        filter_grid(np.zeros((3, 3, 8)))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(layer=""), ValueError, "layer must be a layer name"),
    (dict(layer=3), ValueError, "layer must be a layer name"),
    (dict(log_dir=None), TypeError, "log_dir must be a folder path"),
])
def test_filter_images_bad_arguments(tmp_path, kwargs, error, match):
    args = dict(log_dir=tmp_path, layer="conv1")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        FilterImages(**args)
