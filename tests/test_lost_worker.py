"""A worker of a real two-worker run killed mid-training: the survivor names it, its address
and the command that resumes (one line, exit status 2), instead of "internal error: UnavailableError"."""

import signal
import subprocess
import sys
import time

import pytest

from tests.cluster_helpers import free_ports, tf_config
from tests.subprocess_helpers import quiet_env
from tests.train_helpers import write_learnable_fashion_mnist

TINY = ["--max-train-examples", "640", "--batch-size", "64", "--validation-size", "128", "--evolution-sample",
        "32", "--evolution-maps", "2", "--seed", "3", "--epochs", "4", "--worker-timeout", "60"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fashion_format")
    write_learnable_fashion_mnist(folder, n_train=800, n_test=100, seed=0)
    return folder


def test_the_survivor_names_the_lost_worker_and_how_to_resume(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    ports = free_ports(2)
    argv = ["train", "--run-dir", str(run_dir), "--data-dir", str(data_dir), *TINY]
    procs = [subprocess.Popen([sys.executable, "-m", "zfkeras", *argv], env=dict(quiet_env(), TF_CONFIG=tf_config(ports, i)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "checkpoints" / "epoch_0001").is_dir():
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "no first checkpoint"
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)
        _, err = procs[0].communicate(timeout=240)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert procs[0].returncode == 2, err[-4000:]
    assert "Traceback" not in err and "internal error" not in err, err[-4000:]
    line = [line for line in err.splitlines() if line.startswith("zfkeras train: error:")]
    assert len(line) == 1, err[-4000:]
    assert f"worker 1 at 127.0.0.1:{ports[1]} went away" in line[0]
    assert f"zfkeras train --run-dir {run_dir} --data-dir {data_dir}" in line[0]
    assert (run_dir / "checkpoints" / "epoch_0001").is_dir()  # what the resume starts from is kept
