"""End-to-end runs of ``zfkeras train`` in subprocesses (tiny budgets, on a
small learnable dataset in the Fashion-MNIST format written by the test)."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.subprocess_helpers import quiet_env
from tests.train_helpers import write_learnable_fashion_mnist

TRAIN_EXAMPLES, BATCH = 640, 64
TINY = [
    "--max-train-examples", str(TRAIN_EXAMPLES), "--batch-size", str(BATCH), "--validation-size", "128",
    "--evolution-sample", "64", "--evolution-maps", "2", "--seed", "1",
]
TEST_EXAMPLES = 150


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion_format")
    write_learnable_fashion_mnist(folder, n_train=800, n_test=TEST_EXAMPLES, seed=0)
    return folder


def _cmd(run_dir, data_dir, *extra):
    return [sys.executable, "-m", "zfkeras", "train", "--run-dir", str(run_dir), "--data-dir", str(data_dir),
            *TINY, *extra]


def _env():
    return quiet_env()


def _events(log_dir):
    """{tag: [steps]} over all event files under log_dir."""
    import tensorflow as tf

    tags = {}
    for root, _, files in os.walk(log_dir):
        for name in files:
            if "tfevents" not in name:
                continue
            for event in tf.compat.v1.train.summary_iterator(os.path.join(root, name)):
                for value in event.summary.value:
                    tags.setdefault(value.tag, []).append(event.step)
    return tags


def test_two_logical_cpus_train_in_sync(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    proc = subprocess.run(_cmd(run_dir, data_dir, "--devices", "2", "--epochs", "1", "--augment-flip"), capture_output=True,
                          text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "MirroredStrategy over 2 logical CPUs" in proc.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["num_replicas"] == 2
    assert metrics["replica_weight_max_abs_diff"] == 0.0
    assert metrics["history"]["loss"][0] < metrics["initial_train_loss"]
    # an accuracy over TEST_EXAMPLES images is a whole count of them (the
    # reloaded model's numpy accuracy is checked in test_run_folder.py)
    correct = metrics["test_accuracy"] * TEST_EXAMPLES
    assert metrics["test_examples"] == TEST_EXAMPLES and abs(correct - round(correct)) < 1e-3
    # the ten-crop test, its crops shared by the two replicas, equals one device's
    from zfkeras.measures.evaluation import predict_ten_crop
    from zfkeras.runs.folder import RunFolder

    run = RunFolder(run_dir)
    x, y = run.load_split("test")
    padded = np.pad(run.preprocess(x), [(0, 0), (2, 2), (2, 2), (0, 0)])
    one_device = predict_ten_crop(run.load_model(), padded, 28, verbose=0)
    assert metrics["test_ten_crop_accuracy"] == pytest.approx(np.mean(one_device.argmax(axis=1) == y), abs=1e-9)
    assert metrics["ten_crop"]["padded_size"] == 32 and metrics["ten_crop"]["crop_size"] == 28
    assert f"ten-crop test accuracy {metrics['test_ten_crop_accuracy']:.4f}" in proc.stdout
    for name in ("config.json", "model.keras", "normalization.npz", "class_names.json", "splits.json",
                 "metrics.json", "evolution/evolution_epoch_001.npz"):
        assert (run_dir / name).exists(), name
    tags = _events(run_dir / "logs")
    assert "epoch_loss" in tags and "epoch_accuracy" in tags and "epoch_top5" in tags
    assert "epoch_learning_rate" in tags
    assert tags["filters/conv1"] == [1]
    for layer in ("conv1", "conv2", "conv3", "conv4", "conv5"):
        assert tags[f"evolution/{layer}"] == [1], layer


def test_resume_after_sigkill_mid_epoch(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    cmd = _cmd(run_dir, data_dir, "--epochs", "3", "--evolution-epochs", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(), text=True)
    # Keras prints "Epoch 2/3" when epoch 2 begins, after epoch 1's
    # checkpoint is written: kill on that line, inside epoch 2 (no timing).
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("Epoch 2/3"):
            break
    else:
        raise AssertionError("training ended before epoch 2:\n" + "".join(seen[-30:]))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    done = sorted(p.name for p in (run_dir / "checkpoints").iterdir() if not p.name.startswith(".tmp"))
    assert done and done[-1] in ("epoch_0001", "epoch_0002"), done
    killed_at = int(done[-1][-4:])
    state = json.loads((run_dir / "checkpoints" / done[-1] / "state.json").read_text())
    assert not (run_dir / "metrics.json").exists()

    again = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-4000:]
    assert "Resuming from" in again.stdout and f"{killed_at} complete epochs" in again.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 3
    assert metrics["history"]["loss"][:killed_at] == state["history"]["loss"]
    assert len(metrics["epoch_seconds"]) == 3

    import zfkeras

    model = zfkeras.load_model(run_dir / "model.keras")
    steps = int(np.ceil(TRAIN_EXAMPLES / BATCH))
    # the optimizer's step counter carried on from the checkpoint
    assert int(model.optimizer.iterations) == 3 * steps
    # the learning rate continued from the checkpoint's: the default cosine
    # schedule reads the restored step counter
    lr_after = metrics["history"]["learning_rate"]
    assert lr_after[:killed_at] == state["history"]["learning_rate"]
    from zfkeras.train import recipes
    from zfkeras.train.config import TrainConfig

    config = TrainConfig.from_file(run_dir / "config.json").validate()
    schedule = recipes.learning_rate(config, TRAIN_EXAMPLES)
    np.testing.assert_allclose(lr_after, [float(schedule((e + 1) * steps)) for e in range(3)], rtol=1e-5)
    assert metrics["learning_rate_events"][: len(state["annealer"]["events"])] == state["annealer"]["events"]

    # a finished run is not retrained; a different configuration is refused
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)
    assert rerun.returncode == 0 and "already complete" in rerun.stdout
    other = subprocess.run(_cmd(run_dir, data_dir, "--epochs", "4", "--evolution-epochs", "1"),
                           capture_output=True, text=True, env=_env(), timeout=300)
    assert other.returncode == 2
    assert "different configuration (epochs: 3 -> 4)" in other.stderr
    assert "Traceback" not in other.stderr


def test_missing_dataset_names_the_install_command(tmp_path):
    proc = subprocess.run(
        _cmd(tmp_path / "run", tmp_path / "nowhere"), capture_output=True,
        text=True, env=_env(), timeout=300,
    )
    assert proc.returncode == 2
    assert "apt-get install dataset-fashion-mnist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tf_config_selects_multi_worker_strategy(tmp_path, data_dir):
    # One worker on loopback: the multi-host code path, run for real.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env()
    env["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}"]},
                                   "task": {"type": "worker", "index": 0}})
    run_dir = tmp_path / "run"
    proc = subprocess.run(_cmd(run_dir, data_dir, "--epochs", "1", "--max-train-examples", "256"),
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "MultiWorkerMirroredStrategy (1 workers)" in proc.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["strategy"].startswith("MultiWorkerMirroredStrategy")
    assert metrics["history"]["loss"][0] < metrics["initial_train_loss"]


_REFUSED_WITHOUT_TENSORFLOW = """
import sys
from zfkeras.train.cli import main
code = main(sys.argv[1:])
print("exit", code, "loaded", sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""


@pytest.mark.parametrize("config_text, message", [
    # a config.json without a recipe was written before recipes: the paper's
    ('{"epochs": 3}', "epochs: 3 -> 4, label_smoothing: 0.0 -> 0.1, learning_rate: 0.01 -> 0.05, recipe: 'paper' -> 'cosine'"),
    ("{not json", "unreadable config.json"),
])
def test_a_bad_run_folder_is_refused_before_tensorflow_loads(tmp_path, config_text, message):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(config_text)
    proc = subprocess.run(
        [sys.executable, "-c", _REFUSED_WITHOUT_TENSORFLOW, "--run-dir", str(run_dir), "--epochs", "4"],
        capture_output=True, text=True, env=_env(), timeout=120,
    )
    assert "exit 2 loaded []" in proc.stdout, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
