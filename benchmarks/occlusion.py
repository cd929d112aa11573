"""Occlusion speed at 224 px: full re-inference, Xplique, exact incremental, approximate.

One process, one image per model (random weights, He-normal ZFNet), the
methods interleaved within every repeat (rotating their order, so that load
from other processes on a shared machine hits them alike):

* ``full``: batched full re-inference (``method="full"``'s engine, batches of 64);
* ``xplique``: ``xplique.attributions.Occlusion(...).explain`` itself (run
  this script with .xplique-venv/bin/python, made by
  benchmarks/xplique_env.sh); it has no way to compute a subset of
  positions, so it runs the whole grid, and only with ``--xplique``;
* ``exact``: the exact incremental engine (``method="incremental"``);
* ``approximate``: the projective-field thresholded engine (``tau``, the
  default of ``method="approximate"``) times the share of positions
  adaptive drill-down computes (measured on the trained models by
  benchmarks/occlusion_ssim.py, where the SSIM to the exact map is
  measured too; drill-down itself costs nothing else).

Settings: Krypton's (16 px square, stride 4: 53x53 positions) and the
paper's (50 px, stride 10: 18x18). On a loaded 2-core machine the whole
grids take hours, so ``--positions K`` times every engine on the same K
positions spread over the grid (seconds per position are what the ratios
compare; the exact and approximate engines cost the same per position
wherever the square is, up to border clamping). The exact engine's output
is checked against full re-inference on those positions.

    .venv/bin/python -m benchmarks.occlusion [--positions 64] [--repeats 2] [--models zfnet,vgg16]
        [--json PATH]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import zfkeras
from zfkeras.atomic import write_json_atomic
from zfkeras.analysis.output.machine import cpu_model
from zfkeras.occlusion_engine import approximate
from zfkeras.occlusion_engine.full import FullInference
from zfkeras.occlusion_engine.geometry import square_corners
from zfkeras.occlusion_engine.incremental import IncrementalOcclusion

BATCH = 64
SETTINGS = [(16, 4), (50, 10)]
# share of positions adaptive drill-down computes at its defaults (coarse
# stride 2x, drill_down 0.5): 0.80 on both trained models
# (benchmarks/occlusion_ssim.py, docs/BENCHMARKS.md)
DRILL_SHARE = 0.80
GOALS = {("vgg16", "exact", 16): 5.0, ("resnet50", "exact", 16): 2.0,
         ("vgg16", "approximate", 16): 15.0, ("zfnet", "approximate", 16): 15.0}


def build(name):
    """A 224 px model with random weights."""
    apps = keras.applications
    if name == "zfnet":
        return zfkeras.zfnet(seed=0, kernel_initializer="he_normal")
    factory = {"vgg16": apps.VGG16, "resnet50": apps.ResNet50, "mobilenetv2": apps.MobileNetV2}[name]
    return factory(weights=None, input_shape=(224, 224, 3))


def xplique_runner(model, size, stride):
    """``xplique.attributions.Occlusion`` over the whole grid, or None when not importable."""
    try:
        from xplique.attributions import Occlusion
    except Exception:  # noqa: BLE001 -- any import failure means "not available"
        return None
    explainer = Occlusion(model, batch_size=BATCH, patch_size=size, patch_stride=stride, occlusion_value=0.0)
    classes = model.output_shape[-1]
    return lambda image, label: explainer.explain(image[None], np.eye(classes, dtype="float32")[[label]])


def bench(name, model, size, stride, count, repeats, with_xplique):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(224, 224, 3)).astype("float32")
    fill = np.zeros(3, "float32")
    label = int(np.argmax(model(image[None], training=False)))
    corners = square_corners((224, 224), size, stride).reshape(-1, 2)
    sample = np.unique(np.linspace(0, len(corners) - 1, min(count, len(corners))).round().astype(int))
    full = FullInference(model)
    exact, _ = IncrementalOcclusion.plan(model, (224, 224, 3), size, corners)
    approx, _ = IncrementalOcclusion.plan(model, (224, 224, 3), size, corners, tau=approximate.DEFAULT_TAU)
    methods = {
        "full": lambda: full.run(image, corners[sample], size, fill, BATCH)[0],
        "exact": lambda: exact.run(image, fill, BATCH, positions=sample)[0],
        "approximate": lambda: approx.run(image, fill, BATCH, positions=sample)[0],
    }
    outputs = {key: fn() for key, fn in methods.items()}  # warm-up: tracing
    agreement = float(np.abs(outputs["exact"] - outputs["full"]).max() / np.abs(outputs["full"]).max())
    times = {key: [] for key in methods}
    keys = list(methods)
    for r in range(repeats):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            t = time.perf_counter()
            methods[key]()
            times[key].append((time.perf_counter() - t) / len(sample))
    per_position = {k: statistics.median(v) for k, v in times.items()}
    per_position["approximate"] *= DRILL_SHARE  # drill-down computes this share of the grid
    result = {
        "model": name, "square": size, "stride": stride, "positions": len(corners), "timed_positions": len(sample),
        "seconds_per_position": per_position, "times_s": times,
        "speedup": {k: per_position["full"] / per_position[k] for k in ("exact", "approximate")},
        "estimated_cost_ratio": {"exact": exact.cost_ratio, "approximate": approx.cost_ratio * DRILL_SHARE},
        "exact_vs_full_max_rel": agreement,
    }
    result["flop_ceiling"] = {k: 1.0 / v for k, v in result["estimated_cost_ratio"].items()}
    if with_xplique:
        run = xplique_runner(model, size, stride)
        if run is not None:
            run(image, label)
            t = time.perf_counter()
            run(image, label)
            result["seconds_per_position"]["xplique"] = (time.perf_counter() - t) / len(corners)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--positions", type=int, default=64, help="positions timed per case")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="zfnet,vgg16,resnet50,mobilenetv2")
    parser.add_argument("--xplique", action="store_true", help="also time Xplique over the whole grid")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    report = {"cpu": cpu_model(), "cores": os.cpu_count(), "batch_size": BATCH, "repeats": args.repeats,
              "timed_positions": args.positions, "tau": approximate.DEFAULT_TAU, "drill_share": DRILL_SHARE,
              "cases": []}
    for name in args.models.split(","):
        model = build(name)
        for size, stride in SETTINGS:
            r = bench(name, model, size, stride, args.positions, args.repeats, args.xplique)
            for method in ("exact", "approximate"):
                goal = GOALS.get((name, method, size))
                if goal is not None:
                    r.setdefault("goals", {})[method] = {
                        "goal": goal, "met": r["speedup"][method] >= goal,
                        "shortfall": max(0.0, goal / r["speedup"][method]), "flop_ceiling": r["flop_ceiling"][method]}
            report["cases"].append(r)
            print(f"{name} {size}/{stride} ({r['positions']} positions, {r['timed_positions']} timed): "
                  + ", ".join(f"{k} {v * 1e3:.1f} ms/pos" for k, v in r["seconds_per_position"].items())
                  + f" | exact {r['speedup']['exact']:.2f}x (FLOP ceiling {r['flop_ceiling']['exact']:.2f}x), "
                  f"approximate {r['speedup']['approximate']:.2f}x (ceiling {r['flop_ceiling']['approximate']:.2f}x)"
                  f" | exact vs full {r['exact_vs_full_max_rel']:.1e}", flush=True)
        if args.json:  # after every model: a partial result survives an interruption
            write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
