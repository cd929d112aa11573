"""How far approximate occlusion is from the exact map, on trained models.

For each trained model and occlusion setting:

* ``zfkeras.methods.occlusion.tune_approximate`` picks, on 16 tuning images,
  the setting (``tau``, ``coarse_stride``, ``drill_down``) of lowest
  estimated arithmetic whose lowest per-image SSIM to the exact map is at
  least 0.9 + its default margin 0.05 (its whole table of candidates goes into the JSON);
* on 16 other (held-out) test images, the defaults of
  ``method="approximate"`` and the tuned setting are run for real and
  compared with the exact maps (``method="incremental"``, equal to full
  re-inference) by SSIM (``skimage.metrics.structural_similarity``, data
  range 1: probabilities): mean and lowest over the images, the share of
  positions computed and the estimated multiply-adds relative to full
  re-inference;
* the margin: for margins 0-0.05 above 0.9, the setting each would choose
  on the tuning images and its lowest SSIM on the held-out ones (replayed).

Models (Fashion-MNIST; the larger ones see it upscaled bilinearly):

* the default run's ``zfnet_small`` (28 px), from ``--run-dir`` (e.g.
  ``zfkeras train --epochs 2 --max-train-examples 10000 --run-dir
  /tmp/occl-run``), square 7 px (the paper's 50/224), stride 1;
* a ZFNet-shaped model (full ZFNet's layer geometry, maps 24-64, fc 128)
  at 112 px trained here for ``--steps-112`` steps of 64 (kept in
  ``--zf112``), square 25, stride 4;
* the same shape at 224 px, ``--steps-224`` steps (kept in ``--zf224``), at
  the speed benchmark's settings: Krypton's square 16 / stride 4 and the
  paper's 50 / 10. benchmarks/occlusion.py times approximate occlusion at
  the settings tuned here (``--tuned`` there reads this script's JSON).

    .venv/bin/python -m benchmarks.occlusion_ssim --run-dir /tmp/occl-run [--images 8] [--json PATH]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from skimage.metrics import structural_similarity

import zfkeras
from zfkeras.utils.atomic import write_json_atomic
from zfkeras.analysis.output.machine import cpu_model
from zfkeras.methods.occlusion import approximate
from zfkeras.methods.occlusion.geometry import square_corners
from zfkeras.methods.occlusion.incremental import IncrementalOcclusion
from zfkeras.methods.occlusion.tuning import cheapest, tune_approximate

TARGET_SSIM = 0.9
MARGINS = (0.0, 0.02, 0.03, 0.05)
DEFAULTS = {"method": "approximate"}


def upscaled(images, side):
    """uint8 Fashion-MNIST images, resized bilinearly to ``side`` and standardised."""
    x = tf.image.resize(tf.constant(images, tf.float32) / 255.0, (side, side), "bilinear")
    return (x.numpy() - 0.2860) / 0.3530


def zf_model(path, side, steps, seed=0):
    """A ZFNet-shaped model trained briefly on Fashion-MNIST at ``side`` px (cached at ``path``)."""
    from zfkeras.data.fashion_mnist import load_fashion_mnist

    (train_x, train_y), (test_x, test_y) = load_fashion_mnist()
    if os.path.exists(path):
        model = zfkeras.load_model(path)
    else:
        import keras

        model = zfkeras.zfnet((side, side, 1), 10, conv_filters=(24, 48, 64, 64, 48), fc_units=128,
                              kernel_initializer="he_normal", filter_rms_clip=None, seed=seed)
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
        rng = np.random.default_rng(seed)
        progbar = keras.utils.Progbar(steps, unit_name="step")
        for step in range(steps):
            pick = rng.integers(0, len(train_x), 64)
            loss = model.train_on_batch(upscaled(train_x[pick], side), train_y[pick])
            progbar.add(1, [("loss", float(np.ravel(loss)[0]))])
        model.save(path)
    test = upscaled(test_x[:500], side)
    accuracy = float((model.predict(test, verbose=0).argmax(1) == test_y[:500]).mean())
    return model, (test_x, test_y), accuracy


def held_out(model, images, labels, size, stride, settings):
    """SSIM (mean, lowest), computed share and estimated cost of ``settings`` on ``images``."""
    exact = zfkeras.occlusion(model, images, size, stride, targets=labels, method="incremental", verbose=0)
    t = time.perf_counter()
    approx = zfkeras.occlusion(model, images, size, stride, targets=labels, verbose=0, **settings)
    seconds = time.perf_counter() - t
    scores = [structural_similarity(a, e, data_range=1.0)
              for a, e in zip(approx.class_probability, exact.class_probability)]
    record = approx.approximation
    engine, _ = IncrementalOcclusion.plan(model, images.shape[1:], size, exact.corners.reshape(-1, 2),
                                          tau=record["tau"])
    share = float(np.mean(record["positions_computed"]) / record["positions"])
    return {"tau": 1.0 if record["tau"] is None else record["tau"], "coarse_stride": record["coarse_stride"],
            "drill_down": record["drill_down"] if record["coarse_stride"] > stride else None,
            "ssim_mean": float(np.mean(scores)), "ssim_min": float(np.min(scores)), "computed_share": share,
            "estimated_cost": engine.cost_ratio * share,
            "max_abs_error": float(np.abs(approx.class_probability - exact.class_probability).max()),
            "seconds": seconds}


def case(name, model, tuning, test, size, stride):
    """Tune on ``tuning`` images, check defaults and the tuned setting on ``test`` images."""
    print(f"{name}: square {size}, stride {stride}", flush=True)
    tuned = tune_approximate(model, tuning[0], size, stride, target_ssim=TARGET_SSIM, targets=tuning[1], verbose=0)
    corners = square_corners(test[0].shape[1:3], size, stride).reshape(-1, 2)
    exact_engine, _ = IncrementalOcclusion.plan(model, test[0].shape[1:], size, corners)
    rows = {"defaults": held_out(model, *test, size, stride, DEFAULTS),
            "tuned": held_out(model, *test, size, stride, tuned.settings)}
    # the margin: what each margin would have chosen on the tuning images, and that
    # choice's lowest SSIM on the held-out ones (their own table, replayed alike)
    other = tune_approximate(model, test[0], size, stride, target_ssim=TARGET_SSIM, targets=test[1], verbose=0)
    key = lambda c: (c["tau"], c["coarse_stride"], c["drill_down"])  # noqa: E731
    held = {key(c): c for c in other.candidates}
    margins = []
    for margin in MARGINS:
        pick = cheapest(tuned.candidates, TARGET_SSIM + margin)
        margins.append({"margin": margin, "tau": pick["tau"], "coarse_stride": pick["coarse_stride"],
                        "drill_down": pick["drill_down"], "tuning_ssim_min": pick["ssim_min"],
                        "held_out_ssim_min": held[key(pick)]["ssim_min"], "estimated_cost": pick["estimated_cost"]})
        print(f"  margin {margin}: tau {pick['tau']} coarse {pick['coarse_stride']} drill {pick['drill_down']}: "
              f"lowest SSIM tuning {pick['ssim_min']:.3f}, held-out {margins[-1]['held_out_ssim_min']:.3f}",
              flush=True)
    for key, row in rows.items():
        print(f"  {key}: tau {row['tau']} coarse {row['coarse_stride']} drill {row['drill_down']}: held-out SSIM "
              f"mean {row['ssim_mean']:.3f} min {row['ssim_min']:.3f}, computed {row['computed_share']:.2f}, "
              f"est. cost {row['estimated_cost']:.3f} (exact {exact_engine.cost_ratio:.3f})", flush=True)
    return {"model": name, "square": size, "stride": stride, "exact_cost": exact_engine.cost_ratio,
            "tuned_on_tuning_images": {"ssim_min": tuned.ssim_min, "ssim_mean": tuned.ssim_mean, "margin": tuned.margin,
                                       "settings": tuned.settings},
            "held_out": rows, "margins": margins, "candidates": tuned.candidates}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", default="/tmp/occl-run", help="a trained zfnet_small run folder")
    parser.add_argument("--zf112", default="/tmp/occl-zf112.keras", help="where the 112 px model is kept")
    parser.add_argument("--zf224", default="/tmp/occl-zf224.keras", help="where the 224 px model is kept")
    parser.add_argument("--steps-112", type=int, default=600, help="training steps of the 112 px model")
    parser.add_argument("--steps-224", type=int, default=1500, help="training steps of the 224 px model")
    parser.add_argument("--images", type=int, default=16, help="tuning images and held-out images per model")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    report = {"cpu": cpu_model(), "cores": os.cpu_count(), "images": args.images, "target_ssim": TARGET_SSIM,
              "defaults": {"tau": approximate.DEFAULT_TAU, "drill_down": approximate.DEFAULT_DRILL_DOWN,
                           "coarse_factor": approximate.DEFAULT_COARSE_FACTOR}, "cases": []}

    run = zfkeras.RunFolder(args.run_dir)
    raw, labels = run.load_split("test", max_examples=2 * args.images, seed=0)
    x = np.asarray(run.preprocess(raw), np.float32)
    n = args.images
    result = case("zfnet_small 28px", run.load_model(), (x[n:], labels[n:]), (x[:n], labels[:n]), 7, 1)
    result.update(run=args.run_dir, test_accuracy=run.metrics.get("test_accuracy"))
    report["cases"].append(result)

    for side, path, steps, settings in ((112, args.zf112, args.steps_112, [(25, 4)]),
                                        (224, args.zf224, args.steps_224, [(16, 4), (50, 10)])):
        model, (test_x, test_y), accuracy = zf_model(path, side, steps)
        pick = np.random.default_rng(0).choice(len(test_x), 2 * n, replace=False)
        images, labels = upscaled(test_x[pick], side), test_y[pick]
        print(f"ZFNet-shaped {side} px: test accuracy {accuracy:.3f} on 500", flush=True)
        for size, stride in settings:
            result = case(f"zfnet-shaped {side}px", model, (images[n:], labels[n:]), (images[:n], labels[:n]),
                          size, stride)
            result.update(test_accuracy_500=accuracy, train_steps=steps)
            report["cases"].append(result)
        if args.json:  # after every model: a partial result survives an interruption
            write_json_atomic(args.json, report)
    if args.json:
        write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
