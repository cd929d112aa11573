"""``zfkeras train --dataset folder`` on a small folder of real photos."""

import json
import subprocess
import sys

import numpy as np

from tests.images_helpers import LAYOUT, photos, small, write_corrupt_files, write_folder
from tests.subprocess_helpers import quiet_env


def _train(root, run_dir, *extra):
    return subprocess.run(
        [sys.executable, "-m", "zfkeras", "train", "--dataset", "folder", "--data-dir", str(root),
         "--image-size", "36", "--crop-size", "32", "--batch-size", "4", "--evolution-sample", "6",
         "--evolution-maps", "2", "--run-dir", str(run_dir), *extra],
        capture_output=True, text=True, env=quiet_env(), timeout=600,
    )


def test_folder_without_test_split_holds_validation_out_of_train(tmp_path):
    # 36x36 photos: the resize to image_size is the identity, so the raw
    # images RunFolder loads are exactly the trainer's before the mean.
    sources = {name: small(image, 36, 36) for name, image in photos().items()}
    root = tmp_path / "data"
    write_folder(root / "train", sources)
    write_folder(root / "train", sources, ext="jpg")
    write_folder(root / "val", sources)
    bad = write_corrupt_files(root / "train", sources)
    run_dir = tmp_path / "run"
    proc = _train(root, run_dir, "--epochs", "2", "--validation-size", "4")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert sorted(entry["path"] for entry in metrics["bad_files"]) == bad
    # 12 good training files and 3 bad ones; 4 of the 15 held out to anneal on
    assert metrics["train_examples"] + metrics["validation_examples"] == 12
    assert 1 <= metrics["validation_examples"] <= 4 and metrics["train_examples"] >= 8
    assert metrics["test_examples"] == 6 and metrics["test_split_independent"] is True
    assert "test: the 'val' split; validation: held out of 'train'" in metrics["test_split"]
    correct = metrics["test_ten_crop_accuracy"] * metrics["test_examples"]  # a whole count of the 6
    assert abs(correct - round(correct)) < 1e-6
    assert len(metrics["history"]["loss"]) == 2
    mean = np.load(run_dir / "mean_image.npy")
    assert mean.shape == (36, 36, 3)
    assert 20 < mean.mean() < 235 and mean.std() > 1  # three channels of real photos
    assert "cannot be decoded" in proc.stderr + proc.stdout
    for name in bad:
        assert name in proc.stderr + proc.stdout

    from zfkeras.runs.folder import RunFolder
    from zfkeras.train.config import TrainConfig
    from zfkeras.train.data import load_training_data

    run = RunFolder(run_dir)
    assert run.class_names == sorted(LAYOUT) and run.input_shape == (32, 32, 3)
    raw, labels = run.load_split("test")
    assert raw.shape == (6, 32, 32, 3) and raw.dtype == np.uint8
    # the test images are val/'s: the centre 32x32 of each 36x36 photo
    top = (36 - 32) // 2
    crops = {name: image[top:top + 32, top:top + 32] for name, image in sources.items()}
    for image, label in zip(raw, labels):
        name = next(n for n, c in crops.items() if np.array_equal(c, image))
        assert name in LAYOUT[sorted(LAYOUT)[label]]
    data = load_training_data(TrainConfig(**run.config))
    fed = np.concatenate([x for x, _ in data.test.as_numpy_iterator()])
    np.testing.assert_allclose(run.preprocess(raw), fed, atol=1e-4)
    layer_out = np.asarray(run.preprocessing_layer()(raw))
    np.testing.assert_allclose(layer_out, fed, atol=1e-4)
    # the full 36x36 square is accepted too (subtract, then centre crop)
    np.testing.assert_allclose(run.preprocess(np.stack([sources[n] for n in sorted(sources)])),
                               run.preprocess(np.stack([crops[n] for n in sorted(crops)])), atol=1e-4)


def test_folder_layout_error_is_clear(tmp_path):
    (tmp_path / "data" / "cats").mkdir(parents=True)
    proc = _train(tmp_path / "data", tmp_path / "run")
    assert proc.returncode == 2
    assert "needs a train/ sub-folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_validation_size_larger_than_the_data_is_a_clear_error(tmp_path):
    sources = {name: small(image, 36, 36) for name, image in photos().items()}
    write_folder(tmp_path / "data" / "train", sources)
    proc = _train(tmp_path / "data", tmp_path / "run", "--validation-size", "5")
    assert proc.returncode == 2
    # no val/ and no test/: both are held out of the 6 training files
    assert "holding out 5 examples for each of ['validation', 'test'] leaves no training examples" in proc.stderr
    assert "--validation-size" in proc.stderr and "Traceback" not in proc.stderr
