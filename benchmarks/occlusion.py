"""Occlusion speed: ours (incremental) vs batched full re-inference vs Xplique.

Same model, image, square, fill and stride, in one process, the methods
interleaved within every repeat (so that load from other processes on a
shared machine hits them alike):

* ``ours``: ``zfkeras.occlusion(..., method="auto")`` (the incremental
  path on ZFNet-family models);
* ``full``: ``zfkeras.occlusion(..., method="full")``: every occluded copy
  through the whole model in batches of 64;
* ``xplique_algo``: Xplique's algorithm reproduced: boolean masks for all
  positions of the image, occluded batches made by ``x * ~m + m * v``,
  full re-inference in batches of 64 (a traced model call);
* ``xplique``: ``xplique.attributions.Occlusion(...).explain`` itself, when
  ``import xplique`` works (run this script with a Python that has it, e.g.
  .xplique-venv made by benchmarks/xplique_env.sh).

Models: full ZFNet (224 px, 1000 classes, He-normal random init) with the
paper's square (50 px, fill 0 = grey in mean-subtracted input) at strides
10 (18x18 positions) and 8 (22x22); zfnet_small (28 px) with a 7 px square
at strides 2 and 1. Every call is timed after one warm-up call (tracing).

    .venv/bin/python -m benchmarks.occlusion [--repeats 3] [--quick] [--json PATH]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import zfkeras
from zfkeras.occlusion_engine import occlusion
from zfkeras.analysis.output.machine import cpu_model

BATCH = 64




def xplique_algorithm(model, size, stride):
    """Xplique 2.0.2's Occlusion loop, reproduced (full re-inference)."""
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def run(image, label, fill):
        h, w = image.shape[:2]
        masks = []
        for top in range(0, h - size + 1, stride):
            for left in range(0, w - size + 1, stride):
                mask = np.zeros((h, w), bool)
                mask[top:top + size, left:left + size] = True
                masks.append(mask)
        masks = tf.constant(np.stack(masks))[..., None]
        x = tf.constant(image)[None]
        scores = []
        for start in range(0, masks.shape[0], BATCH):
            m = tf.cast(masks[start:start + BATCH], tf.float32)
            occluded = x * (1.0 - m) + m * fill
            scores.append(forward(occluded)[:, label].numpy())
        return np.concatenate(scores)

    return run


def xplique_itself(model, size, stride):
    """``xplique.attributions.Occlusion`` or None when it is not importable."""
    try:
        from xplique.attributions import Occlusion
    except Exception:  # noqa: BLE001 -- any import failure means "not available"
        return None
    explainer = Occlusion(model, batch_size=BATCH, patch_size=size, patch_stride=stride,
                          occlusion_value=0.0)

    def run(image, label, fill):
        classes = model.output_shape[-1]
        return explainer.explain(image[None], tf.one_hot([label], classes)).numpy()

    return run


def bench_case(name, model, size, stride, repeats):
    rng = np.random.default_rng(0)
    image = rng.normal(size=model.input_shape[1:]).astype("float32")
    label = int(np.argmax(model(image[None], training=False)))
    methods = {
        "ours": lambda: occlusion(model, image[None], size, stride, fill=0.0, labels=[label],
                                  batch_size=BATCH, verbose=0),
        "full": lambda: occlusion(model, image[None], size, stride, fill=0.0, labels=[label],
                                  batch_size=BATCH, method="full", verbose=0),
    }
    algo = xplique_algorithm(model, size, stride)
    methods["xplique_algo"] = lambda: algo(image, label, 0.0)
    real = xplique_itself(model, size, stride)
    if real is not None:
        methods["xplique"] = lambda: real(image, label, 0.0)

    first, results = {}, {}
    for key, fn in methods.items():
        t = time.perf_counter()
        results[key] = fn()
        first[key] = time.perf_counter() - t
    ours, full = results["ours"], results["full"]
    p_full = full.class_probability.reshape(-1)
    agreement = {
        "ours_vs_full_max_rel": float(np.abs(ours.class_probability.reshape(-1) - p_full).max()
                                      / np.abs(p_full).max()),
        "xplique_algo_vs_full_max_rel": float(np.abs(results["xplique_algo"] - p_full).max()
                                              / np.abs(p_full).max()),
    }
    times = {key: [] for key in methods}
    keys = list(methods)
    for r in range(repeats):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:  # rotate the order
            t = time.perf_counter()
            methods[key]()
            times[key].append(time.perf_counter() - t)
    ratios = {}
    for other in keys[1:]:
        per_repeat = [o / u for o, u in zip(times[other], times["ours"])]
        ratios[f"{other}/ours"] = {"median": statistics.median(per_repeat),
                                   "min": min(per_repeat), "max": max(per_repeat)}
    rows, cols = ours.corners.shape[:2]
    return {
        "case": name, "square": size, "stride": stride, "positions": rows * cols,
        "ours_path": ours.method, "xplique_itself": real is not None,
        "first_call_s": first, "times_s": times,
        "median_s": {k: statistics.median(v) for k, v in times.items()},
        "speedup": ratios, "agreement": agreement,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="zfnet_small only")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    cases = []
    if not args.quick:
        big = zfkeras.zfnet(seed=0, kernel_initializer="he_normal")
        cases += [("zfnet 224px", big, 50, 10), ("zfnet 224px", big, 50, 8)]
    small = zfkeras.zfnet_small((28, 28, 1), 10, seed=0)
    cases += [("zfnet_small 28px", small, 7, 2), ("zfnet_small 28px", small, 7, 1)]
    report = {"cpu": cpu_model(), "cores": os.cpu_count(), "tensorflow": tf.__version__,
              "batch_size": BATCH, "repeats": args.repeats, "cases": []}
    for name, model, size, stride in cases:
        result = bench_case(name, model, size, stride, args.repeats)
        report["cases"].append(result)
        med = result["median_s"]
        print(f"{name} square {size} stride {stride} ({result['positions']} positions, ours={result['ours_path']}): "
              + ", ".join(f"{k} {v:.2f}s" for k, v in med.items())
              + " | " + ", ".join(f"{k} {v['median']:.2f}x [{v['min']:.2f}-{v['max']:.2f}]"
                                  for k, v in result["speedup"].items())
              + f" | agreement {result['agreement']}", flush=True)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(report, f, indent=1)
        os.replace(args.json + ".tmp", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
