"""Feature visualisation: one optimisation step vs one forward+backward pass.

For K objectives on one model, in the same process, alternating the order
of the two sides in each repeat (the machine is shared):

* one step of ``zfkeras.feature_visualization`` (MaCo: K x crops views;
  Lucid's: K views), as ``(T(steps_2) - T(steps_1)) / (steps_2 - steps_1)``
  so that graph tracing and set-up cancel out;
* one forward and backward pass of the same batch (K x crops images of the
  model's input size) through the model up to the objectives' layer: the
  gradient of the layer's sum with respect to the images, the same traced
  `tf.function` repeated.

The ratio of the two is the goal (<= 1.5). Also the time of one whole
default run of the K objectives (256 MaCo steps, 512 Lucid's): measured
(``--full``), and always estimated from the timed calls as
``T(steps_1) + (default steps - steps_1) x step`` (set-up, tracing and the
first steps included, as a real run has them). ``--crops`` changes MaCo's
views per step (the estimate is then for those crops). The CPU (AVX-512
flag) and the load average (the machine may be shared) are recorded.
Random weights (cost does not depend on them).

    .venv/bin/python -m benchmarks.feature_visualization --model zfnet_small [--repeats 3]
        [--steps 4 12] [--full] [--out docs/feature_visualization_benchmark.json]
    .venv/bin/python -m benchmarks.feature_visualization --model resnet50 --units 16 --full
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
from zfkeras.analysis.output.machine import avx512, cpu_model, today
from zfkeras.methods.feature_visualization.optimize import DEFAULTS, DEFAULT_CROPS


def _model(name):
    """``(model, layer, channels, preprocess)`` of a benchmark model."""
    if name == "zfnet_small":
        model = zfkeras.zfnet_small(seed=0)
        return model, "conv5", 64, lambda p: p / 255.0
    if name == "resnet50":
        model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
        from keras.applications import imagenet_utils

        return model, "conv5_block3_out", 2048, (
            lambda p: imagenet_utils.preprocess_input(np.array(p, np.float32), mode="caffe"))
    raise SystemExit(f"unknown model {name!r}")


def _forward_backward(model, layer, images):
    reader = keras.Model(model.inputs, model.get_layer(layer).output)

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(reader(x, training=False))
        return tape.gradient(total, x)

    x = tf.constant(images)
    run(x).numpy()  # trace

    def once():
        run(x).numpy()

    return once


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _load():
    return round(os.getloadavg()[0], 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="zfnet_small", choices=["zfnet_small", "resnet50"])
    parser.add_argument("--units", type=int, default=None, help="objectives (default: every map of the layer)")
    parser.add_argument("--method", default="maco", choices=["maco", "fourier"])
    parser.add_argument("--steps", type=int, nargs=2, default=(2, 6))
    parser.add_argument("--crops", type=int, default=DEFAULT_CROPS, help="MaCo's crops per image and step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="also time one whole default run")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    model, layer, channels, preprocess = _model(args.model)
    units = [zfkeras.Unit(layer, c) for c in range(min(args.units or channels, channels))]
    h, w, c = model.inputs[0].shape[1:]
    rng = np.random.RandomState(0)
    data = preprocess(rng.uniform(0, 255, (32, h, w, c)).astype("float32"))
    views = len(units) * (args.crops if args.method == "maco" else 1)
    batch = preprocess(rng.uniform(0, 255, (views, h, w, c)).astype("float32"))
    forward_backward = _forward_backward(model, layer, batch)

    def run(steps):
        return lambda: zfkeras.feature_visualization(model, units, method=args.method, inputs=data,
                                                     preprocess=preprocess, steps=steps, crops=args.crops,
                                                     verbose=0)

    low, high = args.steps
    rows = []
    for repeat in range(args.repeats):
        sides = ["step", "pass"] if repeat % 2 == 0 else ["pass", "step"]
        row = {"load_before": _load()}
        for side in sides:
            if side == "step":
                wall_low, cpu_low = _timed(run(low))
                row["low_wall"], row["low_cpu"] = wall_low, cpu_low
                wall_high, cpu_high = _timed(run(high))
                row["step_wall"] = (wall_high - wall_low) / (high - low)
                row["step_cpu"] = (cpu_high - cpu_low) / (high - low)
            else:
                wall, cpu = _timed(forward_backward)
                row["pass_wall"], row["pass_cpu"] = wall, cpu
        row["load_after"] = _load()
        row["ratio_wall"] = row["step_wall"] / row["pass_wall"]
        row["ratio_cpu"] = row["step_cpu"] / row["pass_cpu"]
        rows.append(row)
        print({k: round(v, 4) for k, v in row.items()}, flush=True)
    result = {
        "model": args.model, "layer": layer, "objectives": len(units), "method": args.method,
        "views_per_step": views, "crops": args.crops if args.method == "maco" else None,
        "cpu": cpu_model(), "avx512": avx512(), "date": today(),
        "tensorflow": tf.__version__, "keras": keras.__version__, "repeats": rows,
        "ratio_cpu_median": statistics.median(r["ratio_cpu"] for r in rows),
        "ratio_wall_median": statistics.median(r["ratio_wall"] for r in rows),
    }
    default_steps = DEFAULTS[args.method]["steps"]
    result["full_run_estimate"] = {
        "steps": default_steps,
        "wall_s": statistics.median(r["low_wall"] + (default_steps - low) * r["step_wall"] for r in rows),
        "cpu_s": statistics.median(r["low_cpu"] + (default_steps - low) * r["step_cpu"] for r in rows)}
    if args.full:
        load = _load()
        wall, cpu = _timed(run(None))
        result["full_run"] = {"wall_s": wall, "cpu_s": cpu, "load_before": load, "load_after": _load()}
    print(json.dumps({k: v for k, v in result.items() if k != "repeats"}, indent=1))
    if args.out:
        from zfkeras.utils.atomic import write_json_atomic

        write_json_atomic(args.out, result)


if __name__ == "__main__":
    main()
