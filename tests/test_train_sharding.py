"""What ``zfkeras train`` does to its datasets on several workers
(`zfkeras.train.multiworker.shard_by_examples`), checked on a real
two-process MultiWorkerMirroredStrategy cluster on loopback ports: in every
epoch each example is seen by exactly one worker, and each step's global
batch is the unsharded dataset's batch, worker i holding its i-th part --
for a dataset built from arrays and for one read from three files (where
tf.data's default would shard by file, unevenly).
"""

import json
import sys

import pytest

from tests.cluster_helpers import run_workers
from tests.sharding_worker import EXAMPLES, GLOBAL_BATCH


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    out = tmp_path_factory.mktemp("sharding")
    results = run_workers([[sys.executable, "-m", "tests.sharding_worker", str(out)]] * 2, timeout=240)
    for code, _, err in results:
        assert code == 0, err[-3000:]
    return [json.loads((out / f"{index}.json").read_text()) for index in (0, 1)]


@pytest.mark.parametrize("source", ["arrays", "files"])
def test_each_example_once_per_epoch_and_each_global_batch_split_between_the_workers(seen, source):
    workers = [s[source] for s in seen]
    assert workers[0]["unsharded"] == workers[1]["unsharded"]  # the same seeded order on both
    unsharded = workers[0]["unsharded"]
    assert unsharded[0] != unsharded[1]  # reshuffled between epochs
    for epoch in range(2):
        parts = [w["seen"][epoch] for w in workers]
        ids = [sorted(v for step in p for v in step) for p in parts]
        assert not set(ids[0]) & set(ids[1])
        assert sorted(ids[0] + ids[1]) == list(range(EXAMPLES))
        assert len(parts[0]) == len(parts[1]) == len(unsharded[epoch]) == -(-EXAMPLES // GLOBAL_BATCH)
        for step, batch in enumerate(unsharded[epoch]):
            half = len(batch) // 2
            assert parts[0][step] == batch[:half] and parts[1][step] == batch[half:], (epoch, step)
