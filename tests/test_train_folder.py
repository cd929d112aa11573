"""``zfkeras train --dataset folder`` on a small folder of real photos."""

import json
import subprocess
import sys

import numpy as np

from tests.test_data_images import photos, small, write_corrupt_files, write_folder
from tests.test_train_run import _env


def test_trains_on_an_image_folder_with_ten_crop_eval_and_bad_file_report(tmp_path):
    sources = {name: small(image, 40, 48) for name, image in photos().items()}
    root = tmp_path / "data"
    write_folder(root / "train", sources)
    write_folder(root / "val", sources)
    bad = write_corrupt_files(root / "train", sources)
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "zfkeras", "train", "--dataset", "folder", "--data-dir", str(root),
         "--image-size", "36", "--crop-size", "32", "--epochs", "2", "--batch-size", "4",
         "--evolution-sample", "6", "--evolution-maps", "2", "--run-dir", str(run_dir)],
        capture_output=True, text=True, env=_env(), timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert sorted(entry["path"] for entry in metrics["bad_files"]) == bad
    assert metrics["train_examples"] == 6 and metrics["validation_examples"] == 6
    assert 0.0 <= metrics["test_ten_crop_accuracy"] <= 1.0
    assert len(metrics["history"]["loss"]) == 2
    mean = np.load(run_dir / "mean_image.npy")
    assert mean.shape == (36, 36, 3)
    # the mean image is the training split's (three channels of real photos)
    assert 20 < mean.mean() < 235 and mean.std() > 1
    assert "cannot be decoded" in proc.stderr + proc.stdout
    for name in bad:
        assert name in proc.stderr + proc.stdout


def test_folder_layout_error_is_clear(tmp_path):
    (tmp_path / "data" / "cats").mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-m", "zfkeras", "train", "--dataset", "folder", "--data-dir",
         str(tmp_path / "data"), "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, env=_env(), timeout=300,
    )
    assert proc.returncode == 2
    assert "needs a train/ and a val/" in proc.stderr
    assert "Traceback" not in proc.stderr
