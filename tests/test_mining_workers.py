"""top_activations and features across two real worker processes
(MultiWorkerMirroredStrategy over 127.0.0.1) equal one process's result,
and each worker reads only its shard."""

import json
import sys
import textwrap

import numpy as np
import pytest

from tests.cluster_helpers import run_workers
from tests.mining_oracle import brute_force, integer_images, integer_model

N = 37  # odd: the shards differ in size, one replica gets an empty last batch
LAYERS = ["c1", "c2"]

_WORKER = textwrap.dedent(
    """
    import json, os, sys
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # from TF_CONFIG, before any op
    import numpy as np
    import zfkeras
    from zfkeras.methods.top_activations import top_activations

    folder = sys.argv[1]
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    model = zfkeras.load_model(os.path.join(folder, "model.keras"))
    images = np.load(os.path.join(folder, "images.npy"))
    out, counts = {}, {}
    inputs = {"array": images, "dataset": tf.data.Dataset.from_tensor_slices((images, np.zeros(len(images))))}
    for form, data in inputs.items():
        top = top_activations(model, data, %(layers)r, k=7, batch_size=8, strategy=strategy, verbose=0)
        counts[form] = [top.local_images, top.num_images]
        for layer, t in top.items():
            for name in ("values", "image_ids", "positions"):
                out[f"{form}_{layer}_{name}"] = getattr(t, name)
    for layer, rows in zfkeras.features(model, images, %(layers)r, batch_size=8, strategy=strategy, verbose=0).items():
        out[f"features_{layer}"] = rows
    np.savez(os.path.join(folder, f"worker{index}.npz"), **out)
    with open(os.path.join(folder, f"worker{index}.json"), "w") as f:
        json.dump({"counts": counts, "replicas": strategy.num_replicas_in_sync}, f)
    """
) % {"layers": LAYERS}


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """Runs the two workers once; returns (folder, model, images, per-worker arrays and records)."""
    folder = tmp_path_factory.mktemp("two_workers")
    model, images = integer_model(), integer_images(n=N)
    model.save(folder / "model.keras")
    np.save(folder / "images.npy", images)
    results = run_workers([[sys.executable, "-c", _WORKER, str(folder)]] * 2, timeout=150)
    for i, (code, out, err) in enumerate(results):
        assert code == 0, f"worker {i} exited {code}:\n{out[-2000:]}\n{err[-4000:]}"
    arrays = [dict(np.load(folder / f"worker{i}.npz")) for i in range(2)]
    records = [json.loads((folder / f"worker{i}.json").read_text()) for i in range(2)]
    import zfkeras

    return zfkeras.load_model(folder / "model.keras"), images, arrays, records


@pytest.mark.parametrize("form", ["array", "dataset"])
def test_two_workers_mine_what_one_process_mines(workers, form):
    from zfkeras.methods.top_activations import top_activations

    model, images, arrays, records = workers
    assert records[0]["replicas"] == 2
    single = top_activations(model, images, LAYERS, k=7, batch_size=8, verbose=0)
    for layer in LAYERS:
        for arrays_of_worker in arrays:  # every worker gets the whole result
            np.testing.assert_allclose(arrays_of_worker[f"{form}_{layer}_values"], single[layer].values, rtol=1e-6)
            np.testing.assert_array_equal(arrays_of_worker[f"{form}_{layer}_image_ids"], single[layer].image_ids)
            np.testing.assert_array_equal(arrays_of_worker[f"{form}_{layer}_positions"], single[layer].positions)
    # The model is full of exact ties: they are broken as in one process (smaller id first).
    expected = brute_force(model, images, "c2", 7)
    np.testing.assert_array_equal(arrays[1][f"{form}_c2_image_ids"], expected[1])
    assert (np.diff(single["c1"].values, axis=1) == 0).any()


@pytest.mark.parametrize("form", ["array", "dataset"])
def test_each_worker_runs_only_its_shard(workers, form):
    _, _, _, records = workers
    local = [r["counts"][form][0] for r in records]
    assert [r["counts"][form][1] for r in records] == [N, N]
    assert sorted(local) == [N // 2, N - N // 2] and sum(local) == N


def test_two_workers_give_the_features_of_one_process_in_input_order(workers):
    import zfkeras

    model, images, arrays, _ = workers
    single = zfkeras.features(model, images, LAYERS, batch_size=8, verbose=0)
    for layer in LAYERS:
        for arrays_of_worker in arrays:
            assert arrays_of_worker[f"features_{layer}"].shape == single[layer].shape == (N, single[layer].shape[1])
            np.testing.assert_allclose(arrays_of_worker[f"features_{layer}"], single[layer], rtol=1e-6)
