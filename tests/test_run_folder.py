"""RunFolder against a tiny real training run (one epoch, 256 examples)."""

import json
import shutil
import struct
import zipfile

import numpy as np
import pytest

from tests.train_helpers import write_learnable_fashion_mnist
from zfkeras.data import FASHION_MNIST_CLASSES
from zfkeras.runs.folder import CorruptRunError, IncompleteRunError, RunFolder


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished one-epoch run and the arrays of its dataset."""
    from zfkeras.train.config import TrainConfig
    from zfkeras.train.runner import run

    root = tmp_path_factory.mktemp("run_folder")
    arrays = write_learnable_fashion_mnist(root / "data", n_train=640, n_test=150, seed=3)
    config = TrainConfig(
        data_dir=str(root / "data"), max_train_examples=256, validation_size=128, epochs=1,
        batch_size=64, evolution_sample=32, evolution_maps=2, evolution_epochs=(1,), seed=2,
        run_dir=str(root / "run"),
    )
    run(config, verbose=0)
    return RunFolder(root / "run"), config, arrays


def _copy(run, tmp_path, drop=()):
    """A copy of the run folder without the named files or folders."""
    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy)
    for name in drop:
        target = copy / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return copy


def test_not_a_run_folder(tmp_path):
    with pytest.raises(ValueError, match="not a run folder: .*does not exist"):
        RunFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="not a run folder: .* has no config.json"):
        RunFolder(tmp_path)
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        RunFolder(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a zfkeras training configuration"):
        RunFolder(tmp_path)


def test_an_unfinished_run_says_how_to_finish_it(tiny_run, tmp_path):
    run, _, _ = tiny_run
    copy = _copy(run, tmp_path, drop=("model.keras", "metrics.json", "evolution"))
    partial = RunFolder(copy)
    assert not partial.is_complete
    expected = (f"run folder {copy} is incomplete: model.keras is missing (training did not finish); "
                f"run `zfkeras train --run-dir {copy}` to resume")
    with pytest.raises(IncompleteRunError) as error:
        partial.load_model()
    assert str(error.value) == expected
    with pytest.raises(ValueError, match="metrics.json is missing"):
        partial.metrics
    with pytest.raises(ValueError, match=r"evolution_epoch_\*.npz is missing"):
        partial.evolution()
    # the history of finished epochs is still there, in the checkpoint
    assert partial.history == run.history


def test_a_truncated_model_is_named_corrupt_not_missing(tiny_run, tmp_path):
    run, _, _ = tiny_run
    copy = _copy(run, tmp_path)
    data = (copy / "model.keras").read_bytes()
    (copy / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptRunError) as error:
        RunFolder(copy).load_model()
    message = str(error.value)
    assert f"{copy / 'model.keras'} is corrupt (not a complete zip archive" in message
    assert "not found" not in message.lower()
    assert f"`zfkeras train --run-dir {copy}`" in message
    # a flipped byte inside a stored member fails its checksum
    damaged = bytearray(data)
    with zipfile.ZipFile(run.model_path) as archive:
        member = next(info for info in archive.infolist() if info.filename.endswith(".h5"))
    name_length, extra_length = struct.unpack("<HH", damaged[member.header_offset + 26:member.header_offset + 30])
    damaged[member.header_offset + 30 + name_length + extra_length + member.compress_size // 2] ^= 0xFF
    (copy / "model.keras").write_bytes(bytes(damaged))
    with pytest.raises(CorruptRunError, match=r"member '.*\.h5' fails its checksum"):
        RunFolder(copy).load_model()


def test_config_metrics_history_and_class_names(tiny_run, tmp_path):
    run, config, _ = tiny_run
    assert run.is_complete and run.config == config.to_dict()
    assert run.class_names == list(FASHION_MNIST_CLASSES)
    assert json.loads((run.path / "class_names.json").read_text()) == list(FASHION_MNIST_CLASSES)
    assert run.input_shape == (28, 28, 1)
    assert run.report_dir == run.path / "report"
    metrics = run.metrics
    assert metrics["test_split_independent"] is True and "never trained or annealed on" in metrics["test_split"]
    assert len(run.history["loss"]) == 1 and run.history == metrics["history"]
    # a run from before class_names.json: Fashion-MNIST names by default
    older = RunFolder(_copy(run, tmp_path, drop=("class_names.json", "splits.json")))
    assert older.class_names == list(FASHION_MNIST_CLASSES)
    assert older.splits == run.splits


def test_splits_keep_test_apart_from_training_and_validation(tiny_run):
    run, config, arrays = tiny_run
    from zfkeras.runs.splits import held_out_indices

    plan = run.splits
    assert plan["test"] == "test" and plan["validation"] is None and plan["held_out"] == 128
    index = held_out_indices(640, plan, config.max_train_examples)
    assert len(index["train"]) == 256 and len(index["validation"]) == 128
    assert not set(index["train"]) & set(index["validation"])
    x, y = run.load_split("train")
    np.testing.assert_array_equal(x[..., 0], arrays["train_images"][index["train"]])
    np.testing.assert_array_equal(y, arrays["train_labels"][index["train"]])
    x, y = run.load_split("test")
    assert x.dtype == np.uint8 and x.shape == (150, 28, 28, 1)
    np.testing.assert_array_equal(x[..., 0], arrays["test_images"])
    np.testing.assert_array_equal(y, arrays["test_labels"])


def test_load_split_draws_a_seeded_sorted_subset(tiny_run):
    run, _, _ = tiny_run
    full_x, full_y = run.load_split("test")
    x, y = run.load_split("test", max_examples=20, seed=5)
    assert x.shape == (20, 28, 28, 1)
    again_x, _ = run.load_split("test", max_examples=20, seed=5)
    np.testing.assert_array_equal(x, again_x)
    other_x, _ = run.load_split("test", max_examples=20, seed=6)
    assert not np.array_equal(x, other_x)
    # each drawn example is one of the split's, in the split's order
    positions = [next(i for i in range(len(full_x)) if np.array_equal(full_x[i], image)) for image in x]
    assert positions == sorted(positions)
    np.testing.assert_array_equal(full_y[positions], y)
    for bad, error in (("validation", ValueError), ("val", ValueError)):
        with pytest.raises(error, match="split must be 'train' or 'test'"):
            run.load_split(bad)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_examples must be a positive int"):
            run.load_split("test", max_examples=bad)


def test_preprocess_is_what_the_trainer_fed_the_model(tiny_run):
    run, config, _ = tiny_run
    from zfkeras.train.data import load_training_data

    data = load_training_data(config)
    fed_test = np.concatenate([x for x, _ in data.test.as_numpy_iterator()])
    raw_test, _ = run.load_split("test")
    np.testing.assert_array_equal(run.preprocess(raw_test), fed_test)
    fed_train = np.concatenate([x for x, _ in data.train_probe.as_numpy_iterator()])
    np.testing.assert_array_equal(run.preprocess(run.load_split("train")[0]), fed_train)
    # the normalisation is the training split's (not the held-out ones'), by brute force
    mean, std = run.normalization()
    pixels = run.load_split("train")[0].astype(np.float64)
    np.testing.assert_allclose(mean, pixels.mean(axis=0), atol=1e-4)
    assert std == pytest.approx((pixels - pixels.mean(axis=0)).std(), rel=1e-5)
    # grey images may come without their channel axis; wrong sizes are refused
    np.testing.assert_array_equal(run.preprocess(raw_test[..., 0]), fed_test)
    with pytest.raises(ValueError, match=r"images must be \(N, 28, 28, 1\)"):
        run.preprocess(np.zeros((2, 32, 32, 1), np.uint8))


def test_model_reproduces_the_test_accuracy(tiny_run):
    run, _, _ = tiny_run
    model = run.load_model()
    x, y = run.load_split("test")
    predicted = np.argmax(model.predict(run.preprocess(x), verbose=0), axis=1)
    assert np.mean(predicted == y) == pytest.approx(run.metrics["test_accuracy"], abs=1e-6)


def numpy_padded_ten_crop_probabilities(model, images):
    """The paper's ten crops at Fashion-MNIST's scale, built by hand: each
    (normalised) 28x28 image zero-padded to 32x32, its four corner crops and
    centre crop (offsets 0, 4 and 2) and their mirror images; the softmax
    outputs averaged."""
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)])
    assert padded.shape[1:3] == (32, 32)
    crops = [padded[:, top:top + 28, left:left + 28] for top, left in ((0, 0), (0, 4), (4, 0), (4, 4), (2, 2))]
    np.testing.assert_array_equal(crops[4], images)  # the centre crop is the image itself
    crops += [crop[:, :, ::-1] for crop in crops]
    return np.mean([model.predict(crop, verbose=0).astype(np.float64) for crop in crops], axis=0)


def test_model_reproduces_the_ten_crop_test_accuracy(tiny_run):
    run, _, _ = tiny_run
    model = run.load_model()
    x, y = run.load_split("test")
    probabilities = numpy_padded_ten_crop_probabilities(model, run.preprocess(x))
    metrics = run.metrics
    assert metrics["test_examples"] == len(y) == 150
    assert np.mean(probabilities.argmax(axis=1) == y) == pytest.approx(metrics["test_ten_crop_accuracy"], abs=1e-6)
    top5 = np.argsort(-probabilities, axis=1)[:, :5]
    assert np.mean((top5 == y[:, None]).any(axis=1)) == pytest.approx(metrics["test_ten_crop_top5"], abs=1e-6)
    # not the single-crop prediction under another name
    single = model.predict(run.preprocess(x), verbose=0)
    assert np.abs(probabilities - single).max() > 1e-3
    geometry = metrics["ten_crop"]
    assert {k: geometry[k] for k in ("image_size", "pad", "padded_size", "crop_size", "crops", "crop_offset")} == {
        "image_size": 28, "pad": 2, "padded_size": 32, "crop_size": 28, "crops": 10, "crop_offset": 2}
    assert geometry["description"].startswith("28x28 crops of the 28x28 test images zero-padded by 2 to 32x32: ")


def test_a_finished_run_without_the_ten_crop_test_gets_it_without_training(tiny_run, tmp_path, capsys):
    import dataclasses

    from zfkeras.train.runner import run as train

    original, config, _ = tiny_run
    copy = _copy(original, tmp_path)
    old = {k: v for k, v in original.metrics.items()
           if k not in ("test_ten_crop_accuracy", "test_ten_crop_top5", "ten_crop")}  # as runs finished before
    (copy / "metrics.json").write_text(json.dumps(old))
    model_bytes = (copy / "model.keras").read_bytes()
    metrics = train(dataclasses.replace(config, run_dir=str(copy)), verbose=0)
    out = capsys.readouterr().out
    assert "finished without the ten-crop test; measuring it with the saved model" in out
    assert "Epoch" not in out and (copy / "model.keras").read_bytes() == model_bytes  # no training
    saved = json.loads((copy / "metrics.json").read_text())
    assert saved == metrics == original.metrics
    assert (f"is already complete (test accuracy {old['test_accuracy']:.4f}, top-5 {old['test_top5']:.4f}; "
            f"ten-crop test accuracy {saved['test_ten_crop_accuracy']:.4f}, top-5 "
            f"{saved['test_ten_crop_top5']:.4f})") in out
    # a run that has it is left as it is
    train(dataclasses.replace(config, run_dir=str(copy)), verbose=0)
    assert "measuring" not in capsys.readouterr().out


def test_preprocessing_layer_matches_and_saves_with_a_model(tiny_run, tmp_path):
    import keras

    run, _, _ = tiny_run
    x, _ = run.load_split("test", max_examples=8)
    layer = run.preprocessing_layer()
    expected = run.preprocess(x)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x.astype(np.float32))), expected, atol=1e-5)
    inputs = keras.Input((28, 28, 1), dtype="uint8")
    model = keras.Model(inputs, run.load_model()(run.preprocessing_layer()(inputs)))
    model.save(tmp_path / "with_preprocessing.keras")
    again = keras.models.load_model(tmp_path / "with_preprocessing.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(again.predict(x, verbose=0),
                               run.load_model().predict(expected, verbose=0), atol=1e-5)


def test_evolution_records_are_the_saved_projections(tiny_run):
    run, config, _ = tiny_run
    records = run.evolution()
    assert sorted(records) == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    with np.load(run.path / "evolution" / "evolution_epoch_001.npz") as saved:
        for layer, (record,) in records.items():
            assert record["epoch"] == 1
            np.testing.assert_array_equal(record["projections"], saved[f"{layer}_projections"])
            assert record["projections"].shape == (config.evolution_maps, 28, 28, 1)
            assert len(record["channels"]) == len(record["image_ids"]) == config.evolution_maps
            # image ids index the training split the run used
            assert set(record["image_ids"]) <= set(range(640))


def test_the_layout_is_listed_once_in_the_docs_and_the_docstring():
    import pathlib

    import zfkeras.runs.folder as folder_module
    from zfkeras.runs import layout

    listing = layout.describe()
    names = [name for name, _ in layout.ENTRIES]
    assert names[:3] == ["config.json", "splits.json", "class_names.json"] and "model.keras" in names
    assert listing in folder_module.__doc__
    training = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "TRAINING.md").read_text()
    assert listing in training, "docs/TRAINING.md's run-folder listing differs from zfkeras.runs.layout.describe()"
