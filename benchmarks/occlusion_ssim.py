"""How far approximate occlusion is from the exact map, on trained models.

For each trained model and each setting of ``tau`` (projective-field
threshold) and ``drill_down`` (share of positions computed after a coarse
pass at twice the stride), the p(true class) maps of
``zfkeras.occlusion(..., method="approximate")`` are compared with the
exact ones (``method="incremental"``, equal to full re-inference) by SSIM
(``skimage.metrics.structural_similarity``, data range 1: probabilities),
per image; the table gives the mean and the minimum over the images, the
share of positions the network computed and the estimated multiply-adds of
the thresholded windows relative to full re-inference.

Models:

* the default run's ``zfnet_small`` (28 px Fashion-MNIST), from
  ``--run-dir`` (e.g. ``zfkeras train --epochs 2 --max-train-examples 10000
  --run-dir /tmp/occl-run``), square 7 px (the paper's 50/224), stride 1;
* a ZFNet-shaped model (full ZFNet's layer geometry, fewer maps) at 112 px,
  trained here for ``--steps`` steps on Fashion-MNIST upscaled to 112 px
  (kept in ``--zf112`` for reruns), square 25 px, stride 4.

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
from zfkeras.atomic import write_json_atomic
from zfkeras.analysis.output.machine import cpu_model
from zfkeras.occlusion_engine.incremental import IncrementalOcclusion
from zfkeras.occlusion_engine.geometry import square_corners

SETTINGS = [(tau, drill) for tau in (1.0, 0.8, 0.7, 0.6, 0.5) for drill in (None, 0.5, 0.25)]


def _upscaled(images, side):
    x = tf.image.resize(tf.constant(images, tf.float32) / 255.0, (side, side), "bilinear")
    return (x.numpy() - 0.2860) / 0.3530


def zf112(path, steps, seed=0):
    """A ZFNet-shaped model trained briefly on Fashion-MNIST at 112 px (cached at ``path``)."""
    from zfkeras.data.fashion_mnist import load_fashion_mnist

    (train_x, train_y), (test_x, test_y) = load_fashion_mnist()
    if os.path.exists(path):
        model = zfkeras.load_model(path)
    else:
        model = zfkeras.zfnet((112, 112, 1), 10, conv_filters=(24, 48, 64, 64, 48), fc_units=128,
                              kernel_initializer="he_normal", filter_rms_clip=None, seed=seed)
        model.compile(keras_optimizer(), "sparse_categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(seed)
        for step in range(steps):
            pick = rng.integers(0, len(train_x), 64)
            model.train_on_batch(_upscaled(train_x[pick], 112), train_y[pick])
        model.save(path)
    test = _upscaled(test_x[:500], 112)
    accuracy = float((model.predict(test, verbose=0).argmax(1) == test_y[:500]).mean())
    return model, _upscaled, (test_x, test_y), accuracy


def keras_optimizer():
    import keras

    return keras.optimizers.SGD(0.01, momentum=0.9)


def measure(model, images, labels, size, stride, layer=None):
    """Rows of SSIM (mean, min), computed share and estimated cost per setting."""
    exact = zfkeras.occlusion(model, images, size, stride, labels=labels, method="incremental", verbose=0)
    corners = square_corners(images.shape[1:3], size, stride).reshape(-1, 2)
    rows = []
    for tau, drill in SETTINGS:
        kwargs = {"tau": tau}
        if drill is None:
            kwargs["coarse_stride"] = stride
        else:
            kwargs["drill_down"] = drill
        t = time.perf_counter()
        approx = zfkeras.occlusion(model, images, size, stride, labels=labels, method="approximate",
                                   verbose=0, **kwargs)
        seconds = time.perf_counter() - t
        scores = [structural_similarity(a, e, data_range=1.0)
                  for a, e in zip(approx.class_probability, exact.class_probability)]
        engine, _ = IncrementalOcclusion.plan(model, images.shape[1:], size, corners,
                                              tau=None if tau == 1.0 else tau)
        share = float(np.mean(approx.approximation["positions_computed"]) / approx.approximation["positions"])
        rows.append({"tau": tau, "drill_down": drill, "ssim_mean": float(np.mean(scores)),
                     "ssim_min": float(np.min(scores)), "computed_share": share,
                     "window_cost_ratio": engine.cost_ratio, "cost_ratio": engine.cost_ratio * share,
                     "max_abs_error": float(np.abs(approx.class_probability - exact.class_probability).max()),
                     "seconds": seconds})
        print(f"  tau {tau} drill {drill}: SSIM mean {rows[-1]['ssim_mean']:.3f} min {rows[-1]['ssim_min']:.3f}, "
              f"computed {share:.2f}, est. cost {rows[-1]['cost_ratio']:.3f}, max |dp| "
              f"{rows[-1]['max_abs_error']:.3f}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", default="/tmp/occl-run", help="a trained zfnet_small run folder")
    parser.add_argument("--zf112", default="/tmp/occl-zf112.keras", help="where the 112 px model is kept")
    parser.add_argument("--steps", type=int, default=600, help="training steps of the 112 px model")
    parser.add_argument("--images", type=int, default=8, help="test images per model")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    report = {"cpu": cpu_model(), "cores": os.cpu_count(), "images": args.images, "models": []}

    run = zfkeras.RunFolder(args.run_dir)
    raw, labels = run.load_split("test", max_examples=args.images, seed=0)
    small = run.load_model()
    print(f"zfnet_small ({args.run_dir}), 28 px, square 7 stride 1", flush=True)
    rows = measure(small, np.asarray(run.preprocess(raw), np.float32), labels, 7, 1)
    report["models"].append({"model": "zfnet_small 28px", "run": args.run_dir, "square": 7, "stride": 1,
                             "test_accuracy": run.metrics.get("test_accuracy"),
                             "rows": rows})

    model, prep, (test_x, test_y), accuracy = zf112(args.zf112, args.steps)
    pick = np.random.default_rng(0).choice(len(test_x), args.images, replace=False)
    print(f"ZFNet-shaped 112 px (test accuracy {accuracy:.3f} on 500), square 25 stride 4", flush=True)
    rows = measure(model, prep(test_x[pick], 112), test_y[pick], 25, 4)
    report["models"].append({"model": "zfnet-shaped 112px", "square": 25, "stride": 4,
                             "test_accuracy_500": accuracy, "train_steps": args.steps, "rows": rows})
    if args.json:
        write_json_atomic(args.json, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
