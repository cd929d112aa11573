"""zfkeras.runs.mined: mined top-k results in a run folder, and their reuse by Fig. 2."""

import json
import shutil

import numpy as np
import pytest

from zfkeras.methods.top_activations import TopActivations
from zfkeras.runs import mined
from zfkeras.runs.layout import RunLayout

PARAMS = {"split": "test", "max_images": 100, "seed": 0, "num_images": 100}


@pytest.fixture
def run_dir(tmp_path):
    """A minimal run folder: config.json and a model.keras stand-in (only its bytes count here)."""
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "fashion_mnist"}))
    (tmp_path / "model.keras").write_bytes(b"weights-a")
    return tmp_path


def _result(seed=0, maps=3, k=5):
    rng = np.random.RandomState(seed)
    values = -np.sort(-rng.rand(maps, k).astype(np.float32), axis=1)
    return TopActivations(values, rng.randint(0, 100, (maps, k)).astype(np.int64),
                          rng.randint(0, 7, (maps, k, 2)).astype(np.int64))


def _same(a, b):
    return all(np.array_equal(getattr(a, n), getattr(b, n)) for n in ("values", "image_ids", "positions"))


def test_round_trip_with_parameters_and_digest(run_dir):
    result = _result()
    path = mined.save_top_activations(run_dir, "conv2", result, dict(PARAMS, k=99, model_sha256="forged"))
    assert path == run_dir / "mined" / "conv2.npz"
    got = mined.load_top_activations(run_dir, "conv2")
    assert _same(got, result) and got.values.dtype == np.float32 and got.positions.shape == (3, 5, 2)
    params = mined.read_params(run_dir, "conv2")
    # The module's own fields win over the caller's.
    assert params["k"] == 5 and params["layer"] == "conv2" and params["format"] == mined.FORMAT
    assert params["model_sha256"] == mined.model_digest(run_dir) != "forged" and params["zfkeras_version"]
    assert {key: params[key] for key in PARAMS} == PARAMS
    assert [p.name for p in (run_dir / "mined").iterdir()] == ["conv2.npz"], "no temporary left behind"


def test_first_k_entries_and_too_many(run_dir):
    result = _result()
    mined.save_top_activations(run_dir, "conv1", result, PARAMS)
    three = mined.load_top_activations(run_dir, "conv1", k=3)
    np.testing.assert_array_equal(three.image_ids, result.image_ids[:, :3])
    np.testing.assert_array_equal(three.positions, result.positions[:, :3])
    assert three.k == 3
    assert mined.load_top_activations(run_dir, "conv1", k=6) is None


def test_missing_stale_other_parameters_and_damaged_give_none(run_dir):
    assert mined.load_top_activations(run_dir, "conv1") is None
    mined.save_top_activations(run_dir, "conv1", _result(), PARAMS)
    mined.save_top_activations(run_dir, "conv3", _result(1), PARAMS)
    assert mined.load_top_activations(run_dir, "conv1", split="test", max_images=100, seed=0) is not None
    assert mined.load_top_activations(run_dir, "conv1", split="train") is None
    assert mined.load_top_activations(run_dir, "conv1", seed=1) is None
    assert mined.load_top_activations(run_dir, "conv1", unknown_parameter=1) is None
    (run_dir / "mined" / "conv3.npz").write_bytes(b"truncated")
    assert mined.load_top_activations(run_dir, "conv3") is None
    assert mined.mined_layers(run_dir) == ["conv1"]
    (run_dir / "model.keras").write_bytes(b"weights-b")  # another model: every result is stale
    assert mined.load_top_activations(run_dir, "conv1") is None and mined.mined_layers(run_dir) == []


def test_nested_layer_names_get_safe_files_and_do_not_collide(run_dir):
    mined.save_top_activations(run_dir, "block/conv", _result(0), PARAMS)
    assert (run_dir / "mined" / "block_conv.npz").is_file()
    assert mined.load_top_activations(run_dir, "block_conv") is None  # the file names another layer
    assert _same(mined.load_top_activations(run_dir, "block/conv"), _result(0))
    assert mined.mined_layers(run_dir) == ["block/conv"]


def test_progress_round_trip_and_clear(run_dir):
    layers = ["conv1", "conv2"]
    results = {"conv1": _result(0), "conv2": _result(1, maps=4)}
    mined.save_progress(run_dir, layers, results, dict(PARAMS, layers=layers, next_offset=40))
    saved = mined.load_progress(run_dir, **PARAMS, layers=layers)
    assert saved is not None and saved[1] == 40 and list(saved[0]) == layers
    assert all(_same(saved[0][layer], results[layer]) for layer in layers)
    assert mined.load_progress(run_dir, **dict(PARAMS, seed=3)) is None
    assert mined.mined_layers(run_dir) == [], "progress is not a result"
    mined.clear_progress(run_dir)
    assert not RunLayout(run_dir).mined_progress.exists() and mined.load_progress(run_dir) is None


# -- Fig. 2 reuses a stored result -------------------------------------------

@pytest.fixture(scope="module")
def mined_run(tmp_path_factory):
    """A tiny run whose every conv layer was mined by ``zfkeras mine`` over 120 test images."""
    from tests.report_helpers import make_tiny_run
    from zfkeras.analysis.cli import mine

    run_dir = make_tiny_run(tmp_path_factory.mktemp("reuse") / "run", fit=False, evolution=False)
    assert mine.main([str(run_dir), "--max-images", "120", "--verbose", "0"]) == 0
    return run_dir


def _fig2(run_dir, out_dir):
    from zfkeras.analysis.sections import fig2_top9
    from zfkeras.runs.folder import RunFolder

    out_dir.mkdir(parents=True, exist_ok=True)
    return fig2_top9.report_section(RunFolder(run_dir), out_dir, verbose=0, test_images=120, maps_per_layer=2)


def _csv_ids(out_dir, layer):
    import csv

    with open(out_dir / "fig2_top9.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["layer"] == layer]
    return np.array([int(r["image_id"]) for r in rows]).reshape(-1, 9)


def test_fig2_reuses_the_stored_result_and_says_so(mined_run, tmp_path, monkeypatch):
    import zfkeras.methods.top_activations

    def refuse(*args, **kwargs):
        raise AssertionError("Fig. 2 mined again although zfkeras mine stored the result")

    monkeypatch.setattr(zfkeras.methods.top_activations, "top_activations", refuse)
    section = _fig2(mined_run, tmp_path / "report")
    assert "reused from <code>mined/</code>" in section.caption_html and "of every layer" in section.caption_html
    stored = mined.load_top_activations(mined_run, "conv4", k=9)
    np.testing.assert_array_equal(_csv_ids(tmp_path / "report", "conv4"), stored.image_ids)


def test_fig2_mines_what_is_not_stored_or_stale(mined_run, tmp_path):
    from zfkeras.analysis.report import cache
    from zfkeras.analysis.sections import fig2_top9

    run_dir = shutil.copytree(mined_run, tmp_path / "run")
    before = cache.input_stamp(run_dir, fig2_top9.INPUTS)
    for path in (run_dir / "mined").glob("*.npz"):
        if path.name != "conv2.npz":
            path.unlink()
    assert cache.input_stamp(run_dir, fig2_top9.INPUTS) != before, "mined/ is an input of the section"
    caption = _fig2(run_dir, tmp_path / "a").caption_html
    assert "The top 9 of conv2 were reused" in caption
    # Another model.keras: the stored conv2 is stale, everything is mined again.
    from tests.report_helpers import tiny_model

    tiny_model(seed=7).save(run_dir / "model.keras")
    caption = _fig2(run_dir, tmp_path / "b").caption_html
    assert "mined for this report" in caption and "reused" not in caption
    assert not np.array_equal(_csv_ids(tmp_path / "b", "conv2"), mined.load_top_activations(mined_run, "conv2").image_ids)
