"""``zfkeras mine RUN_DIR``: stores what top_activations returns, resumes a
killed pass to the same result, and runs across two worker processes."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.cluster_helpers import run_workers
from tests.subprocess_helpers import quiet_env

LAYERS = ["conv1", "conv3", "conv5"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A small untrained Fashion-MNIST run folder (read-only: copy it to mine into it)."""
    from tests.report_helpers import make_tiny_run

    return make_tiny_run(tmp_path_factory.mktemp("mine") / "run", fit=False, evolution=False)


def _copy(run_dir, tmp_path, name="run"):
    return shutil.copytree(run_dir, tmp_path / name)


def _mine_command(run_dir, *args):
    return [sys.executable, "-m", "zfkeras", "mine", str(run_dir), "--layers", *LAYERS, *args]


def _library_result(run_dir, max_images, k=9):
    """One top_activations pass over the images the verb mines."""
    from zfkeras.methods.top_activations import top_activations
    from zfkeras.runs.folder import RunFolder

    run = RunFolder(run_dir)
    raw, _ = run.load_split("test", max_examples=max_images, seed=0)
    return top_activations(run.load_model(compile=False), run.preprocess(raw), LAYERS, k=k, verbose=0)


def _assert_stored(run_dir, expected, **params):
    from zfkeras.runs import mined

    for layer in LAYERS:
        got = mined.load_top_activations(run_dir, layer, k=expected[layer].k, split="test", **params)
        assert got is not None, f"no fresh stored result for {layer}"
        np.testing.assert_allclose(got.values, expected[layer].values, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(got.image_ids, expected[layer].image_ids)
        np.testing.assert_array_equal(got.positions, expected[layer].positions)


def test_mine_stores_what_one_top_activations_pass_returns(tiny_run, tmp_path, capsys):
    from zfkeras.analysis.cli import mine
    from zfkeras.runs import mined

    run_dir = _copy(tiny_run, tmp_path)
    assert mine.main([str(run_dir), "--layers", *LAYERS, "--max-images", "300", "--chunk-size", "70",
                      "--k", "9", "--verbose", "1"]) == 0
    out = capsys.readouterr().out
    assert "chunk" in out and "Wrote" in out and str(run_dir / "mined" / "conv5.npz") in out
    _assert_stored(run_dir, _library_result(run_dir, 300), max_images=300, seed=0, num_images=300)
    assert mined.mined_layers(run_dir) == LAYERS
    assert not (run_dir / "mined" / "partial").exists(), "the progress of a finished pass is removed"
    params = mined.read_params(run_dir, "conv3")
    assert params["k"] == 9 and params["model_sha256"] == mined.model_digest(run_dir)


def test_bad_layer_and_k_are_user_errors(tiny_run, tmp_path, capsys):
    from zfkeras.analysis.cli import mine

    run_dir = _copy(tiny_run, tmp_path)
    assert mine.main([str(run_dir), "--layers", "fc6", "--max-images", "20"]) == 2
    assert "not a convolutional feature map" in capsys.readouterr().err
    assert mine.main([str(run_dir), "--layers", "conv1", "--max-images", "5", "--k", "9"]) == 2
    assert "--k 9 is larger than the number of images mined (5)" in capsys.readouterr().err
    assert not (run_dir / "mined").exists()


def test_a_killed_pass_resumes_from_its_last_chunk_to_the_same_result(tiny_run, tmp_path):
    from zfkeras.runs import mined
    from zfkeras.runs.layout import RunLayout

    run_dir = _copy(tiny_run, tmp_path)
    progress = RunLayout(run_dir).mined_progress
    args = ("--max-images", "1000", "--chunk-size", "40", "--verbose", "0")
    proc = subprocess.Popen(_mine_command(run_dir, *args), env=quiet_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not progress.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        output = proc.communicate()[0]
    assert proc.returncode == -signal.SIGKILL, output[-3000:]
    assert progress.exists() and mined.mined_layers(run_dir) == []
    saved = mined.load_progress(run_dir, split="test", max_images=1000, seed=0, num_images=1000)
    assert saved is not None and 40 <= saved[1] < 1000
    resumed = subprocess.run(_mine_command(run_dir, *args), env=quiet_env(), capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Resuming at image {saved[1]} of 1000" in resumed.stdout
    _assert_stored(run_dir, _library_result(run_dir, 1000), max_images=1000, num_images=1000)
    assert not progress.exists()


def test_two_workers_store_what_one_process_stores_and_only_the_chief_writes(tiny_run, tmp_path):
    # One copy of the run per worker, as on two hosts.
    copies = [_copy(tiny_run, tmp_path, f"host{i}") for i in range(2)]
    args = ("--max-images", "250", "--chunk-size", "100", "--verbose", "0")
    results = run_workers([_mine_command(copy, *args) for copy in copies], timeout=240)
    for i, (code, out, err) in enumerate(results):
        assert code == 0, f"worker {i} exited {code}:\n{out[-2000:]}\n{err[-4000:]}"
    assert "MultiWorkerMirroredStrategy (2 workers)" in results[0][1] and "Wrote" in results[0][1]
    assert "the chief wrote the result" in results[1][1]
    _assert_stored(copies[0], _library_result(copies[0], 250), max_images=250, num_images=250)
    assert not (copies[1] / "mined").exists(), "a non-chief worker wrote into its run folder"
