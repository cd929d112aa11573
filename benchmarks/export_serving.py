"""The exported SavedModel vs the library, on the same images.

Exports a model (a run folder's, or zfnet_small with random weights), then
in one process, alternating the order of the two sides in each repeat:

* ``serving_default`` of the reloaded SavedModel (raw uint8 in, checks and
  preprocessing in the graph) vs ``model.predict`` on preprocessed images;
* ``features`` vs ``zfkeras.features(model, x, conv1..conv5 + fc7)``;
* ``project`` (one channel of conv5 per image) vs ``Deconvnet.project``.

Reports the export time, the SavedModel's size, median seconds per call
over ``--images`` images and the largest difference between the sides.

    .venv/bin/python -m benchmarks.export_serving [--run-dir RUN_DIR]
        [--images 256] [--repeats 5] [--out docs/export_benchmark.json]
"""

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

import zfkeras
from benchmarks.mining import cpu_model
from zfkeras.export import export_model
from zfkeras.methods.features import features
from zfkeras.methods.unit import Unit


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _folder_bytes(path):
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def _subject(run_dir):
    """``(model, class names, preprocessing layer, preprocess fn, raw images)``."""
    if run_dir:
        from zfkeras.runs.folder import RunFolder

        run = RunFolder(run_dir)
        raw, _ = run.load_split("test", max_examples=4096)
        return run.load_model(), run.class_names, run.preprocessing_layer(), run.preprocess, raw
    model = zfkeras.zfnet_small((28, 28, 1), 10, seed=0)
    raw = np.random.RandomState(0).randint(0, 256, (4096, 28, 28, 1)).astype(np.uint8)
    rescale = lambda x: np.asarray(x, np.float32) / 255.0
    return model, [str(i) for i in range(10)], keras.layers.Rescaling(1 / 255.0), rescale, raw


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default="", help="run folder (default: zfnet_small, random weights)")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)

    model, names, layer, preprocess, raw = _subject(args.run_dir)
    raw = raw[: args.images]
    x = preprocess(raw)
    with tempfile.TemporaryDirectory() as out_dir:
        export_seconds, path = _timed(lambda: export_model(model, out_dir, names, preprocessing=layer))
        size = _folder_bytes(path)
        loaded = tf.saved_model.load(str(path))
        deconv = zfkeras.Deconvnet(model)
        channels = np.random.RandomState(1).randint(0, deconv.layer_output_shape("conv5")[-1], len(raw))
        feature_names = [n for n in ["conv1", "conv2", "conv3", "conv4", "conv5", "fc7"]
                         if n in [l.name for l in model.layers]]
        images = tf.constant(raw)
        pairs = {
            "classify": (
                lambda: loaded.signatures["serving_default"](images=images)["probabilities"].numpy(),
                lambda: model.predict(x, batch_size=128, verbose=0),
            ),
            "features": (
                lambda: {k: v.numpy() for k, v in loaded.signatures["features"](images=images).items()},
                lambda: features(model, x, feature_names, verbose=0),
            ),
            "project_conv5": (
                lambda: loaded.signatures["project"](images=images, layer=tf.constant("conv5"),
                                                     channel=tf.constant(channels, tf.int32))["projection"].numpy(),
                lambda: deconv.project(x, Unit("conv5", channels)),
            ),
        }
        rows = {}
        for name, (served, library) in pairs.items():
            a, b = served(), library()  # warm-up: traces and caches
            if isinstance(a, dict):
                diff = max(float(np.abs(a[k] - b[k]).max()) for k in b)
            else:
                diff = float(np.abs(a - b).max())
            times = {"served": [], "library": []}
            for repeat in range(args.repeats):
                order = [("served", served), ("library", library)]
                for side, fn in (order if repeat % 2 == 0 else order[::-1]):
                    times[side].append(_timed(fn)[0])
            rows[name] = {
                "served_s": statistics.median(times["served"]),
                "library_s": statistics.median(times["library"]),
                "max_abs_difference": diff,
            }
    result = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "tensorflow": tf.__version__,
        "model": model.name, "run_dir": args.run_dir, "images": len(raw), "repeats": args.repeats,
        "export_s": export_seconds, "savedmodel_bytes": size, "rows": rows,
    }
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
