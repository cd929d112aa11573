"""Top-9 mining of every map of conv1-conv5 vs one plain ``model.predict``.

Over the same N images, in the same process, alternating the order of the
two sides in each repeat (the machine is shared, so drift hits both):

* ``zfkeras.top_activations(model, images, ["conv1", ..., "conv5"], k=9)``
  -- one pass, per-image max/argmax and the running top-9 of every map;
* ``model.predict(images)`` -- the plain forward pass through the whole
  model, the cost floor of any mining.

The first mining call of a process traces its graph (like predict's first
call); it is reported separately ("first call") and the repeats use the
cached graph, as predict's repeats do. Random weights (the cost does not
depend on them).

    .venv/bin/python -m benchmarks.mining [--images 10000] [--repeats 5]
        [--zfnet-images 512] [--out docs/mining_benchmark.json]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import keras
import tensorflow as tf

import zfkeras
from zfkeras.methods.top_activations import top_activations
from zfkeras.analysis.output.machine import cpu_model

LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5"]




def _timed(fn):
    """Wall-clock and process CPU seconds (all threads) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(name, model, images, repeats, batch_size):
    """Times mining and predict over ``images``; returns a result row."""
    mine = lambda: top_activations(model, images, LAYERS, k=9, batch_size=batch_size, verbose=0)
    predict = lambda: model.predict(images, batch_size=batch_size, verbose=0)
    predict_first = _timed(predict)[0]
    mine_first = _timed(mine)[0]
    mining, predicting = [], []
    for repeat in range(repeats):
        # Alternate which side goes first: a load change on the shared
        # machine then biases neither.
        if repeat % 2:
            mining.append(_timed(mine))
            predicting.append(_timed(predict))
        else:
            predicting.append(_timed(predict))
            mining.append(_timed(mine))
    # The machine is shared: wall time swings with other processes' load;
    # the process's CPU time (all threads) is far less sensitive to it.
    ratios = [m[0] / p[0] for m, p in zip(mining, predicting)]
    cpu_ratios = [m[1] / p[1] for m, p in zip(mining, predicting)]
    row = {
        "model": name,
        "images": len(images),
        "input": list(images.shape[1:]),
        "batch_size": batch_size,
        "repeats": repeats,
        "predict_wall_s": [p[0] for p in predicting],
        "mining_wall_s": [m[0] for m in mining],
        "predict_cpu_s": [p[1] for p in predicting],
        "mining_cpu_s": [m[1] for m in mining],
        "wall_ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "median_wall_ratio": statistics.median(ratios),
        "median_cpu_ratio": statistics.median(cpu_ratios),
        "first_call_wall_ratio": mine_first / predict_first,
    }
    print(
        f"{name}: N={len(images)} predict median {statistics.median(row['predict_wall_s']):.2f} s wall, "
        f"mining median {statistics.median(row['mining_wall_s']):.2f} s wall; ratio wall median "
        f"{row['median_wall_ratio']:.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}), CPU-time median "
        f"{row['median_cpu_ratio']:.3f} (min {min(cpu_ratios):.3f}, max {max(cpu_ratios):.3f}); "
        f"first calls (tracing included) wall {row['first_call_wall_ratio']:.3f}",
        flush=True,
    )
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="images for zfnet_small (28x28x1)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--zfnet-images", type=int, default=0, help="also full ZFNet at 224 px on this many images")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)

    rng = np.random.RandomState(0)
    keras.utils.set_random_seed(0)
    rows = []
    small = zfkeras.zfnet_small((28, 28, 1), 10, seed=0)
    rows.append(measure("zfnet_small 28x28x1", small, rng.rand(args.images, 28, 28, 1).astype("float32"),
                        args.repeats, args.batch_size))
    if args.zfnet_images:
        full = zfkeras.zfnet((224, 224, 3), 1000, seed=0)
        images = rng.rand(args.zfnet_images, 224, 224, 3).astype("float32")
        rows.append(measure("ZFNet 224x224x3", full, images, args.repeats, min(args.batch_size, 64)))
    result = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "load_average_at_end": os.getloadavg(),
        "rows": rows,
    }
    print(f"CPU: {result['cpu']}, load average at end {result['load_average_at_end']}")
    if args.out:
        from zfkeras.utils.atomic import write_json_atomic

        write_json_atomic(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
