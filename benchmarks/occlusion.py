"""Occlusion speed at 224 px: full re-inference, Xplique, exact incremental, approximate.

One process, one image per model (random weights, He-normal ZFNet), the
methods interleaved within every repeat (rotating their order, so that load
from other processes hits them alike):

* ``full``: batched full re-inference (``method="full"``'s engine, batches of 64);
* ``xplique``: ``xplique.attributions.Occlusion(...).explain`` itself over
  the whole grid (run this script with .xplique-venv/bin/python, made by
  benchmarks/xplique_env.sh, and ``--xplique``), in the first
  ``--xplique-repeats`` repeats (warmed up first only on grids of at most
  1000 positions: a 53x53 warm-up takes minutes, the tracing it saves about
  a second);
* ``exact``: the exact incremental engine (``method="incremental"``);
* ``approx_defaults``: ``zfkeras.occlusion(..., method="approximate")`` at
  its defaults, the whole call over the whole grid (coarse pass,
  interpolation, drill-down);
* ``approx_tuned``: the same call at the setting that
  ``tune_approximate`` chose for the trained 224 px ZFNet-shaped model at
  this square and stride, where its held-out SSIM was measured
  (benchmarks/occlusion_ssim.py; ``--tuned`` reads its JSON).

Settings: Krypton's (16 px square, stride 4: 53x53 positions) and the
paper's (50 px, stride 10: 18x18). ``full`` and ``exact`` are timed on
``--positions K`` positions spread over the grid (their cost per position
does not depend on where the square is, up to border clamping; the whole
53x53 grid of VGG16 takes minutes per repeat); the others run their whole
grid. All are reported per position of the grid. The exact engine's output
is checked against full re-inference.

Models: ZFNet, VGG16, ResNet18 (the architecture of Krypton's ResNet
figures, built here: keras.applications has none), ResNet50, MobileNetV2.

    .venv/bin/python -m benchmarks.occlusion [--positions 64] [--repeats 2] [--models zfnet,vgg16]
        [--tuned /tmp/occl-ssim.json] [--json PATH]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import zfkeras
from zfkeras.utils.atomic import write_json_atomic
from zfkeras.analysis.output.machine import cpu_model
from zfkeras.methods.occlusion import approximate
from zfkeras.methods.occlusion.full import FullInference
from zfkeras.methods.occlusion.geometry import square_corners
from zfkeras.methods.occlusion.incremental import IncrementalOcclusion

BATCH = 64
SETTINGS = [(16, 4), (50, 10)]
GOALS = {("vgg16", "exact", 16): 5.0, ("resnet18", "exact", 16): 2.0, ("resnet50", "exact", 16): 2.0,
         ("vgg16", "approximate", 16): 15.0, ("zfnet", "approximate", 16): 15.0}
MODELS = "zfnet,vgg16,resnet18,resnet50,mobilenetv2"


def resnet18(input_shape=(224, 224, 3), classes=1000):
    """ResNet18 (He et al. 2016: basic blocks, 2-2-2-2), random weights."""
    layers = keras.layers
    x = inputs = keras.Input(input_shape)
    x = layers.ZeroPadding2D(3)(x)
    x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(64, 7, 2, use_bias=False)(x)))
    x = layers.MaxPooling2D(3, 2)(layers.ZeroPadding2D(1)(x))
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if block == 0 and stage > 0 else 1
            y = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False)(x)
            y = layers.ReLU()(layers.BatchNormalization()(y))
            y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(y))
            shortcut = x
            if stride != 1 or x.shape[-1] != filters:
                shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, stride, use_bias=False)(x))
            x = layers.ReLU()(layers.Add()([y, shortcut]))
    x = layers.Dense(classes, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, x, name="resnet18")


def build(name):
    """A 224 px model with random weights."""
    apps = keras.applications
    if name == "zfnet":
        return zfkeras.zfnet(seed=0, kernel_initializer="he_normal")
    if name == "resnet18":
        return resnet18()
    factory = {"vgg16": apps.VGG16, "resnet50": apps.ResNet50, "mobilenetv2": apps.MobileNetV2}[name]
    return factory(weights=None, input_shape=(224, 224, 3))


def tuned_settings(path):
    """``{(square, stride): {"settings", "held_out"}}``: the setting tuned on the trained 224 px model
    and its held-out SSIM record (benchmarks/occlusion_ssim.py)."""
    if path is None:
        return {}
    with open(path) as f:
        report = json.load(f)
    return {(c["square"], c["stride"]): {"settings": c["tuned_on_tuning_images"]["settings"],
                                         "held_out": c["held_out"]["tuned"]}
            for c in report["cases"] if c["model"].endswith("224px")}


def xplique_runner(model, size, stride):
    """``xplique.attributions.Occlusion`` over the whole grid, or None when not importable."""
    try:
        from xplique.attributions import Occlusion
    except Exception:  # noqa: BLE001 -- any import failure means "not available"
        return None
    explainer = Occlusion(model, batch_size=BATCH, patch_size=size, patch_stride=stride, occlusion_value=0.0)
    classes = model.output_shape[-1]
    return lambda image, label: explainer.explain(image[None], np.eye(classes, dtype="float32")[[label]])


def bench(name, model, size, stride, count, repeats, with_xplique, xplique_repeats, tuned):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(224, 224, 3)).astype("float32")
    fill = np.zeros(3, "float32")
    label = int(np.argmax(model(image[None], training=False)))
    corners = square_corners((224, 224), size, stride).reshape(-1, 2)
    sample = np.unique(np.linspace(0, len(corners) - 1, min(count, len(corners))).round().astype(int))
    full = FullInference(model)
    exact, _ = IncrementalOcclusion.plan(model, (224, 224, 3), size, corners)
    shares = {}

    def approximate_run(key, settings):
        def run():
            r = zfkeras.occlusion(model, image[None], size, stride, baseline=0.0, targets=[label], verbose=0, **settings)
            shares[key] = (r.approximation["positions_computed"][0] / r.approximation["positions"],
                           r.approximation["tau"], r.approximation["coarse_stride"], r.approximation["drill_down"])
            return r
        return run

    whole_grid = {"approx_defaults": approximate_run("approx_defaults", {"method": "approximate"})}
    if tuned is not None:
        whole_grid["approx_tuned"] = approximate_run("approx_tuned", tuned["settings"])
    methods = {
        "full": lambda: full.run(image, corners[sample], size, fill, BATCH)[0],
        "exact": lambda: exact.run(image, fill, BATCH, positions=sample)[0],
        **whole_grid,
    }
    xplique = xplique_runner(model, size, stride) if with_xplique else None
    if xplique is not None:
        methods["xplique"] = lambda: xplique(image, label)
        whole_grid["xplique"] = methods["xplique"]
    # warm-up (tracing); Xplique's only on small grids: on 53x53 it would take minutes,
    # against about a second of tracing left in its timed run (flagged in the result)
    xplique_warm = len(corners) <= 1000
    outputs = {key: fn() for key, fn in methods.items() if key != "xplique" or xplique_warm}
    agreement = float(np.abs(outputs["exact"] - outputs["full"]).max() / np.abs(outputs["full"]).max())
    times = {key: [] for key in methods}
    keys = list(methods)
    for r in range(repeats):
        for key in keys[r % len(keys):] + keys[:r % len(keys)]:
            if key == "xplique" and r >= xplique_repeats:
                continue
            t = time.perf_counter()
            methods[key]()
            positions = len(corners) if key in whole_grid else len(sample)
            times[key].append((time.perf_counter() - t) / positions)
    per_position = {k: statistics.median(v) for k, v in times.items()}
    speedup = {k: per_position["full"] / v for k, v in per_position.items() if k != "full"}
    cost = {"exact": exact.cost_ratio}
    for key, (share, tau, _, _) in shares.items():
        engine, _ = IncrementalOcclusion.plan(model, (224, 224, 3), size, corners, tau=tau)
        cost[key] = engine.cost_ratio * share
    return {
        "model": name, "square": size, "stride": stride, "positions": len(corners), "timed_positions": len(sample),
        "seconds_per_position": per_position, "times_s": times, "speedup": speedup,
        "estimated_cost_ratio": cost, "flop_ceiling": {k: 1.0 / v for k, v in cost.items()},
        "approximate_settings": {k: {"computed_share": s, "tau": t, "coarse_stride": c, "drill_down": d}
                                 for k, (s, t, c, d) in shares.items()},
        "tuned_held_out": None if tuned is None else tuned["held_out"],
        "exact_vs_full_max_rel": agreement,
        "xplique_warmed_up": xplique_warm if "xplique" in methods else None,
    }


def goals(result):
    """Each goal of this case: met, or by how much it is missed, beside the FLOP ceiling."""
    out = {}
    for method in ("exact", "approximate"):
        goal = GOALS.get((result["model"], method, result["square"]))
        if goal is None:
            continue
        key = method if method == "exact" else ("approx_tuned" if "approx_tuned" in result["speedup"]
                                                 else "approx_defaults")
        got = result["speedup"][key]
        out[method] = {"goal": goal, "measured": key, "speedup": got, "met": got >= goal,
                       "shortfall": max(1.0, goal / got), "flop_ceiling": result["flop_ceiling"][key]}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--positions", type=int, default=64, help="positions timed per case (full, exact)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--xplique", action="store_true", help="also time Xplique over the whole grid")
    parser.add_argument("--xplique-repeats", type=int, default=1, help="repeats that include Xplique")
    parser.add_argument("--tuned", default=None, help="benchmarks/occlusion_ssim.py's JSON: time its tuned settings")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    tuned = tuned_settings(args.tuned)
    report = {"cpu": cpu_model(), "cores": os.cpu_count(), "batch_size": BATCH, "repeats": args.repeats,
              "timed_positions": args.positions, "defaults": {
                  "tau": approximate.DEFAULT_TAU, "drill_down": approximate.DEFAULT_DRILL_DOWN,
                  "coarse_factor": approximate.DEFAULT_COARSE_FACTOR}, "cases": []}
    for name in args.models.split(","):
        model = build(name)
        for size, stride in SETTINGS:
            r = bench(name, model, size, stride, args.positions, args.repeats, args.xplique,
                      args.xplique_repeats, tuned.get((size, stride)))
            r["goals"] = goals(r)
            report["cases"].append(r)
            print(f"{name} {size}/{stride} ({r['positions']} positions, {r['timed_positions']} timed): "
                  + ", ".join(f"{k} {v * 1e3:.1f} ms/pos" for k, v in r["seconds_per_position"].items())
                  + " | " + ", ".join(f"{k} {v:.2f}x (ceiling {r['flop_ceiling'].get(k, float('nan')):.2f}x)"
                                      for k, v in r["speedup"].items())
                  + f" | exact vs full {r['exact_vs_full_max_rel']:.1e}", flush=True)
            for method, g in r["goals"].items():
                print(f"  goal {method} >= {g['goal']}x: {'met' if g['met'] else 'missed by %.2fx' % g['shortfall']}"
                      f" ({g['measured']} {g['speedup']:.2f}x)", flush=True)
        if args.json:  # after every model: a partial result survives an interruption
            write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
