"""``zfkeras train`` with two real worker processes (MultiWorkerMirroredStrategy
over TF_CONFIG on free loopback ports): they train together, only the chief
writes the run folder, their final weights agree, a run killed mid-epoch
resumes, and a worker whose peers never come fails within its timeout.

The commands are the ones docs/TRAINING.md gives for several hosts.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.cluster_helpers import free_ports, run_workers, tf_config
from tests.subprocess_helpers import quiet_env
from tests.train_helpers import write_learnable_fashion_mnist

TINY = ["--max-train-examples", "512", "--batch-size", "64", "--validation-size", "128",
        "--evolution-sample", "32", "--evolution-maps", "2", "--seed", "3"]
# Everything a complete run folder holds after training (and nothing else).
RUN_FOLDER = {"config.json", "splits.json", "class_names.json", "normalization.npz", "checkpoints",
              "logs", "evolution", "model.keras", "metrics.json"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion_format")
    write_learnable_fashion_mnist(folder, n_train=700, n_test=100, seed=0)
    return folder


def _command(run_dir, data_dir, *extra):
    return [sys.executable, "-m", "zfkeras", "train", "--run-dir", str(run_dir), "--data-dir", str(data_dir),
            *TINY, *extra]


def _env(digests):
    return dict(quiet_env(), ZFKERAS_TEST_WEIGHT_DIGEST=str(digests))


def _digests(folder):
    return {name: json.loads((folder / name).read_text())["sha256"] for name in sorted(os.listdir(folder))}


def _worker_folder(stdout):
    found = re.search(r"worker-1 writes to (\S+)\)", stdout)
    assert found, stdout[-2000:]
    return found.group(1)


def test_two_workers_train_together_and_only_the_chief_writes(tmp_path, data_dir):
    run_dir, digests = tmp_path / "run", tmp_path / "digests"
    started = time.monotonic()
    results = run_workers([_command(run_dir, data_dir, "--epochs", "2")] * 2, timeout=240, env=_env(digests))
    for code, out, err in results:
        assert code == 0, out[-2000:] + err[-4000:]
    assert time.monotonic() - started < 240
    chief, other = results[0][1], results[1][1]
    assert "MultiWorkerMirroredStrategy (2 workers)" in chief
    # the run folder is complete and holds only the chief's files
    assert set(os.listdir(run_dir)) == RUN_FOLDER
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["epoch_0001", "epoch_0002"]
    assert not os.path.exists(_worker_folder(other))  # the other worker removed its folder
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["strategy"] == "MultiWorkerMirroredStrategy (2 workers)"
    assert metrics["num_replicas"] == 2 and metrics["epochs"] == 2
    assert metrics["history"]["loss"][-1] < metrics["initial_train_loss"]
    # 512 examples, global batch 64: 8 steps an epoch on each worker
    assert re.search(r"^8/8 ", chief, re.M) and re.search(r"^8/8 ", other, re.M)
    # the same final weights and the same (global) test metrics on both
    assert list(_digests(digests)) == ["worker-0.json", "worker-1.json"]
    assert len(set(_digests(digests).values())) == 1
    test_line = [re.search(r"Test accuracy .*", out).group(0) for _, out, _ in results]
    assert test_line[0] == test_line[1]


def _start(run_dir, data_dir, ports, env, *extra):
    return [subprocess.Popen(_command(run_dir, data_dir, *extra), env=dict(env, TF_CONFIG=tf_config(ports, i)),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]


def _kill(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


# Slower (about 45 s here: two clusters, one killed after its first
# checkpoint), kept apart from the test above so a failure says which part broke.
def test_both_workers_killed_mid_epoch_resume_from_the_last_checkpoint(tmp_path, data_dir):
    run_dir, digests = tmp_path / "run", tmp_path / "digests"
    env = _env(digests)
    extra = ("--epochs", "3", "--max-train-examples", "640")
    procs = _start(run_dir, data_dir, free_ports(2), env, *extra)
    try:
        deadline = time.monotonic() + 180
        while not (run_dir / "checkpoints" / "epoch_0001").is_dir():
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "no first checkpoint"
            time.sleep(0.2)
        time.sleep(0.5)  # into epoch 2
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
    finally:
        _kill(procs)
    assert not (run_dir / "metrics.json").exists()
    # a killed worker cannot remove its temporary folder: the test does
    shutil.rmtree(_worker_folder(procs[1].stdout.read()), ignore_errors=True)
    results = run_workers([_command(run_dir, data_dir, *extra)] * 2, timeout=240, env=env)
    for code, out, err in results:
        assert code == 0, out[-2000:] + err[-4000:]
    resumed = re.search(r"Resuming from \S+epoch_(\d{4}): (\d+) complete epochs", results[0][1])
    assert resumed and int(resumed.group(2)) >= 1, results[0][1][-2000:]
    assert f"Resuming from {run_dir}" in results[1][1]  # the other worker read the chief's checkpoint
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(metrics["history"]["loss"]) == 3 and len(metrics["epoch_seconds"]) == 3
    assert len(set(_digests(digests).values())) == 1


@pytest.mark.parametrize("index", [0, 1])
def test_a_worker_alone_fails_within_its_timeout_naming_the_address(tmp_path, data_dir, index):
    ports = free_ports(2)
    missing = f"127.0.0.1:{ports[1 - index]}"
    started = time.monotonic()
    proc = subprocess.run(_command(tmp_path / "run", data_dir, "--epochs", "1", "--worker-timeout", "5"),
                          env=dict(quiet_env(), TF_CONFIG=tf_config(ports, index)), capture_output=True,
                          text=True, timeout=120)
    elapsed = time.monotonic() - started
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert f"worker {index} waited 5 s (--worker-timeout)" in proc.stderr
    assert f"worker {1 - index} at {missing}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 90
    assert not (tmp_path / "run" / "model.keras").exists()
