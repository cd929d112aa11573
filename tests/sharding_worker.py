"""One worker of the sharding test (run as ``python -m tests.sharding_worker OUT_DIR``
with ``TF_CONFIG`` set).

Two datasets of example ids, each shuffled with a seed and batched at the
global batch as the training pipeline does: one from arrays
(`zfkeras.data.pipeline.array_dataset`, the embedded datasets) and one read
from three TFRecord files (as file-backed datasets are). Each is sharded as
``zfkeras train`` shards it (`shard_by_examples`) and distributed by
MultiWorkerMirroredStrategy; the worker writes, per dataset, the ids it saw
step by step for two epochs, and the unsharded global batches of a fresh
copy, to ``OUT_DIR/<index>.json``.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from zfkeras.data.pipeline import array_dataset
from zfkeras.train.devices import make_strategy
from zfkeras.train.multiworker import shard_by_examples

EXAMPLES, GLOBAL_BATCH, SEED, FILES = 200, 16, 3, 3


def _arrays():
    ids = np.arange(EXAMPLES)
    return array_dataset(ids, ids % 10, GLOBAL_BATCH, shuffle=True, seed=SEED).map(lambda x, y: x)


def _files(folder):
    paths = [os.path.join(folder, f"ids-{k}.tfrecord") for k in range(FILES)]
    data = tf.data.TFRecordDataset(paths).map(lambda r: tf.io.parse_tensor(r, tf.int64))
    return data.shuffle(EXAMPLES, seed=SEED, reshuffle_each_iteration=True).batch(GLOBAL_BATCH)


def _write_files(folder):
    os.makedirs(folder, exist_ok=True)
    for k in range(FILES):
        with tf.io.TFRecordWriter(os.path.join(folder, f"ids-{k}.tfrecord")) as writer:
            for i in range(k, EXAMPLES, FILES):
                writer.write(tf.io.serialize_tensor(tf.constant(i, tf.int64)).numpy())


def _epochs(strategy, make):
    plain = make()
    unsharded = [[[int(v) for v in x] for x in plain.as_numpy_iterator()] for _ in range(2)]
    distributed = strategy.experimental_distribute_dataset(shard_by_examples(make()))
    seen = [[[int(v) for part in strategy.experimental_local_results(x) for v in np.ravel(part.numpy())]
             for x in distributed] for _ in range(2)]
    return {"seen": seen, "unsharded": unsharded}


def main(out_dir):
    strategy, _ = make_strategy(0, worker_timeout=60)
    assert isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy), strategy
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    folder = os.path.join(out_dir, f"files-{index}")  # each worker writes its own copy: no race
    _write_files(folder)
    result = {"arrays": _epochs(strategy, _arrays), "files": _epochs(strategy, lambda: _files(folder))}
    with open(os.path.join(out_dir, f"{index}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
