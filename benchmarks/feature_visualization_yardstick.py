"""Feature visualisation's yardstick on a trained run: activation reached,
transferability, and the same for Xplique 2.0.2.

* **activation reached** (``activation``): for every map of the layers
  (default conv3, conv4, conv5), the optimised image's objective (the map's
  mean) divided by the map's strongest value over the run's test images
  (`objective_values`); goal >= 1 for at least 95% of the live maps (a map
  no test image drives above 0 has no ratio: counted apart). Each layer's
  maps are optimised in one call (its time / maps is the time per
  objective).
* **transferability** (``transfer``; Fel et al. 2023, section 4): one
  visualisation per class of the run's model and seed, classified by the
  model of ``--second-run`` (another training seed): the share classified
  as the intended class (and, as a check, by the model itself).
* **Xplique** (``xplique``, run in the Xplique venv): Xplique's ``optimize``
  (Lucid-style Fourier image, its standard transformations, Adam 0.05) and
  ``maco`` at the same steps as ours, on a twin of the run's model that
  Xplique can use: a flat Keras model of fresh layers with the model's
  weights, taking pixels in ``[0, 1]`` (the run's preprocessing as its first
  layers) and ending in the logits (fc8 without its softmax). Xplique's
  objectives (``Objective.channel``) are the same maps' and logits' means.
  Its MaCo refuses a grey model without a dataset (deel-ai/xplique#148):
  the refusal is recorded, then it is given our spectrum (the same average
  magnitude as ours) in place of its buffer. Failures are recorded, not
  raised.

The CPU (AVX-512 flag) and the load average (the machine is shared) are
recorded beside every timing.

    .venv/bin/python -m benchmarks.feature_visualization_yardstick --run RUN [--second-run RUN2]
        [--parts activation transfer] [--methods maco fourier] [--out docs/feature_visualization_yardstick.json]
    .xplique-venv/bin/python -m benchmarks.feature_visualization_yardstick --run RUN --second-run RUN2
        --parts xplique --xplique-maps 8 --out ...

``--out`` is updated (each part replaces its own key), so parts can be run
one after the other.
"""

import argparse
import json
import os
import statistics
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import keras
import tensorflow as tf

import zfkeras
from zfkeras import Unit
from zfkeras.analysis.output.machine import avx512, cpu_model, today
from zfkeras.methods.feature_visualization import objective_values
from zfkeras.methods.feature_visualization.optimize import DEFAULTS
from zfkeras.utils.atomic import write_json_atomic

GOAL_RATIO, GOAL_SHARE = 1.0, 0.95


def _timed(fn):
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, dict(wall_s=time.perf_counter() - wall, cpu_s=time.process_time() - cpu,
                     load_before=load, load_after=os.getloadavg()[0])


def _ratios(values, best):
    """Activation reached of live maps, and the count of dead ones (best <= 0)."""
    live = best > 0
    return values[live] / best[live], int((~live).sum())


def _summary(ratios, dead):
    ratios = np.asarray(ratios, np.float64)
    if not len(ratios):
        return dict(live=0, dead=dead)
    return dict(live=int(len(ratios)), dead=dead, median=float(np.median(ratios)),
                min=float(ratios.min()), max=float(ratios.max()),
                share_ge_1=float(np.mean(ratios >= GOAL_RATIO)),
                goal_met=bool(np.mean(ratios >= GOAL_RATIO) >= GOAL_SHARE))


class Data:
    """The run's model, training images (MaCo's spectrum) and test images."""

    def __init__(self, path, train_examples, test_examples):
        self.run = zfkeras.RunFolder(path)
        self.model = self.run.load_model()
        train, _ = self.run.load_split("train", max_examples=train_examples, seed=0)
        test, self.test_labels = self.run.load_split("test", max_examples=test_examples, seed=0)
        self.train_pixels = train
        self.train = self.run.preprocess(train)
        self.test = self.run.preprocess(test)

    def maps(self, layer):
        return int(self.model.get_layer(layer).output.shape[-1])


def _chosen(count, limit):
    """All maps, or ``limit`` of them every ``count // limit`` (for powers of
    two, a smaller selection is part of a larger one: Xplique's maps are
    some of ours)."""
    if not limit or limit >= count:
        return list(range(count))
    return list(range(0, count, count // limit))[:limit]


def activation(data, layers, methods, steps, seed, limit):
    out = {}
    for layer in layers:
        units = [Unit(layer, c) for c in _chosen(data.maps(layer), limit)]
        best = objective_values(data.model, units, data.test).max(axis=1)
        out[layer] = {"maps": [u.channel for u in units], "best_on_test": best.tolist()}
        for method in methods:
            result, timing = _timed(lambda: zfkeras.feature_visualization(
                data.model, units, method=method, inputs=data.train, preprocess=data.run.preprocess,
                steps=steps.get(method), seed=seed, verbose=0))
            ratios, dead = _ratios(result.values, best)
            timing["per_objective_wall_s"] = timing["wall_s"] / len(units)
            timing["per_objective_cpu_s"] = timing["cpu_s"] / len(units)
            out[layer][method] = dict(values=result.values.tolist(), steps=result.steps, timing=timing,
                                      **_summary(ratios, dead))
            print(layer, method, {k: v for k, v in out[layer][method].items() if k != "values"}, flush=True)
    for method in methods:
        ratios, dead = [], 0
        for layer in layers:
            r, d = _ratios(np.asarray(out[layer][method]["values"]), np.asarray(out[layer]["best_on_test"]))
            ratios.extend(r.tolist())
            dead += d
        out.setdefault("all_layers", {})[method] = _summary(ratios, dead)
    return out


def _classify(data, pixels):
    scores = data.model.predict(data.run.preprocess(np.asarray(pixels, np.float32)), verbose=0)
    return scores.argmax(axis=1)


def transfer(data, second, methods, steps, seeds):
    """``seeds``: method -> the seeds to draw (one image per class and seed)."""
    classes = list(range(int(data.model.outputs[0].shape[-1])))
    out = {"classes": classes, "seeds": {m: list(seeds[m]) for m in methods}}
    for method in methods:
        rows = []
        for seed in seeds[method]:
            result, timing = _timed(lambda: zfkeras.feature_visualization(
                data.model, classes, method=method, inputs=data.train, preprocess=data.run.preprocess,
                steps=steps.get(method), seed=seed, verbose=0))
            rows.append(dict(seed=seed, own=_classify(data, result.pixels).tolist(),
                             other=_classify(second, result.pixels).tolist(), timing=timing))
        out[method] = _transfer_summary(classes, rows)
        print("transfer", method, {k: v for k, v in out[method].items() if k != "rows"}, flush=True)
    return out


def _transfer_summary(classes, rows):
    own = np.array([r["own"] for r in rows]) == np.array(classes)
    other = np.array([r["other"] for r in rows]) == np.array(classes)
    return dict(rows=rows, own_share=float(own.mean()), transfer_share=float(other.mean()),
                images=int(other.size))


# -- Xplique -----------------------------------------------------------------

def twin(data):
    """A flat Keras model of fresh layers with the run's weights: pixels in
    [0, 1] -> the run's preprocessing -> the model's layers, fc8 linear."""
    run, model = data.run, data.model
    inputs = keras.Input(run.input_shape, name="pixels01")
    x = keras.layers.Rescaling(255.0, name="to_255")(inputs)
    x = run.preprocessing_layer()(x)
    for layer in model.layers[1:]:
        config = layer.get_config()
        config.pop("kernel_constraint", None)
        if layer.name == "fc8":
            config["activation"] = "linear"
        fresh = type(layer).from_config(config)
        x = fresh(x)
        fresh.set_weights(layer.get_weights())
    return keras.Model(inputs, x, name="twin")


def _xplique_ratios(data, units, images01, best):
    values = np.diagonal(objective_values(data.model, units, data.run.preprocess(images01 * 255.0)))
    ratios, dead = _ratios(values, best)
    return values, _summary(ratios, dead)


def xplique(data, second, layers, steps, limit, class_seeds, transfer_methods=("optimize", "maco")):
    """``class_seeds``: ``"maco"`` and ``"fourier"`` (Xplique's ``optimize``) -> seeds."""
    import xplique as xq
    from xplique.features_visualizations import Objective, maco, optimize
    import importlib

    maco_module = importlib.import_module("xplique.features_visualizations.maco")
    from zfkeras.methods.feature_visualization.fourier import average_magnitude

    model = twin(data)
    check = model.predict(data.test_pixels01, verbose=0)
    own = data.model.predict(data.test_pixels01_inputs, verbose=0)
    out = {"xplique": xq.__version__, "keras": keras.__version__, "tensorflow": tf.__version__,
           "twin_max_abs_logit_vs_model_softmax": float(np.abs(tf.nn.softmax(check).numpy() - own).max()),
           "steps": {"optimize": steps["fourier"], "maco": steps["maco"]}}
    h, w, c = data.run.input_shape
    magnitude = average_magnitude(data.train_pixels.astype(np.float32) / 255.0)  # ours, (C, H, W//2+1)
    maco_module_buffer = maco_module.init_maco_buffer

    try:  # the refusal (deel-ai/xplique#148)
        maco(Objective.channel(model, "conv5", 0), nb_steps=1, custom_shape=(h, w), values_range=(0, 1))
        out["maco_grey_without_dataset"] = "accepted"
    except Exception as error:
        out["maco_grey_without_dataset"] = f"{type(error).__name__}: {error}"

    def our_buffer(image_shape, dataset=None, std=1.0):
        phase = tf.random.normal((c, image_shape[0], image_shape[1] // 2 + 1), stddev=std)
        return tf.constant(magnitude), phase

    # Its check wants a dataset for grey models: it is given the training
    # images, and its buffer (the dataset's plain mean |FFT|) is replaced by ours.
    maco_module.init_maco_buffer = our_buffer
    dataset = tf.data.Dataset.from_tensor_slices(data.train_pixels.astype(np.float32) / 255.0).batch(256)

    def run_maco(objective):
        image, _ = maco(objective, nb_steps=steps["maco"], custom_shape=(h, w), values_range=(0, 1),
                        maco_dataset=dataset)
        return np.asarray(image)[None] if np.ndim(image) == 3 else np.asarray(image)

    def attempt(name, fn):
        try:
            return fn()
        except Exception as error:
            out.setdefault("errors", {})[name] = "".join(traceback.format_exception_only(error)).strip()
            out["errors"][name + "_traceback"] = traceback.format_exc()[-3000:]
            print("xplique", name, "failed:", out["errors"][name], flush=True)
            return None

    for layer in layers:
        units = [Unit(layer, ch) for ch in _chosen(data.maps(layer), limit)]
        best = objective_values(data.model, units, data.test).max(axis=1)
        row = {"maps": [u.channel for u in units]}
        channels = [u.channel for u in units]
        tf.random.set_seed(0)
        result = attempt(f"optimize_{layer}", lambda: _timed(lambda: optimize(
            Objective.channel(model, layer, channels), nb_steps=steps["fourier"], custom_shape=(h, w),
            values_range=(0, 1))))
        if result is not None:
            (images, _), timing = result
            images = np.asarray(images[-1])
            values, summary = _xplique_ratios(data, units, images, best)
            timing["per_objective_wall_s"] = timing["wall_s"] / len(units)
            timing["per_objective_cpu_s"] = timing["cpu_s"] / len(units)
            row["optimize"] = dict(values=values.tolist(), timing=timing, **summary)
        images, timings = [], []
        for channel in channels:
            tf.random.set_seed(channel)
            result = attempt(f"maco_{layer}", lambda: _timed(lambda: run_maco(Objective.channel(model, layer,
                                                                                                   channel))))
            if result is None:
                break
            images.append(result[0])
            timings.append(result[1])
        if len(images) == len(channels):
            values, summary = _xplique_ratios(data, units, np.concatenate(images), best)
            timing = {k: sum(t[k] for t in timings) for k in ("wall_s", "cpu_s")}
            timing.update(per_objective_wall_s=timing["wall_s"] / len(units),
                          per_objective_cpu_s=timing["cpu_s"] / len(units),
                          load_before=timings[0]["load_before"], load_after=timings[-1]["load_after"])
            row["maco"] = dict(values=values.tolist(), timing=timing, **summary)
        out[layer] = row
        print("xplique", layer, {m: {k: v for k, v in row[m].items() if k != "values"}
                                 for m in ("optimize", "maco") if m in row}, flush=True)

    if second is not None:
        classes = list(range(int(data.model.outputs[0].shape[-1])))
        for name in transfer_methods:
            rows = []
            for seed in class_seeds["fourier" if name == "optimize" else "maco"]:
                tf.random.set_seed(seed)
                if name == "optimize":
                    result = attempt("optimize_classes", lambda: _timed(lambda: optimize(
                        Objective.channel(model, "fc8", classes), nb_steps=steps["fourier"],
                        custom_shape=(h, w), values_range=(0, 1))))
                    if result is None:
                        break
                    (images, _), timing = result
                    pixels = np.asarray(images[-1]) * 255.0
                else:
                    parts = []
                    for k in classes:
                        result = attempt("maco_classes", lambda: _timed(lambda: run_maco(
                            Objective.channel(model, "fc8", k))))
                        if result is None:
                            break
                        parts.append(result)
                    if len(parts) < len(classes):
                        break
                    pixels = np.concatenate([p[0] for p in parts]) * 255.0
                    timing = {k: sum(p[1][k] for p in parts) for k in ("wall_s", "cpu_s")}
                rows.append(dict(seed=seed, own=_classify(data, pixels).tolist(),
                                 other=_classify(second, pixels).tolist(), timing=timing))
            if rows:
                out[f"transfer_{name}"] = _transfer_summary(classes, rows)
                print("xplique transfer", name, {k: v for k, v in out[f"transfer_{name}"].items() if k != "rows"},
                      flush=True)
    maco_module.init_maco_buffer = maco_module_buffer
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="the run folder whose model is visualised")
    parser.add_argument("--second-run", default=None, help="another run of the same data (transferability)")
    parser.add_argument("--parts", nargs="+", default=["activation", "transfer"],
                        choices=["activation", "transfer", "xplique"])
    parser.add_argument("--methods", nargs="+", default=["maco", "fourier"], choices=["maco", "fourier"])
    parser.add_argument("--layers", nargs="*", default=["conv3", "conv4", "conv5"],
                        help="none with --parts xplique: its transferability only")
    parser.add_argument("--steps", type=int, default=None, help="steps of every method (default: each one's)")
    parser.add_argument("--maps", type=int, default=None, help="at most this many maps per layer (default: all)")
    parser.add_argument("--xplique-maps", type=int, default=8, help="maps per layer for Xplique's MaCo and optimize")
    parser.add_argument("--xplique-transfer", nargs="*", default=["optimize", "maco"], choices=["optimize", "maco"],
                        help="Xplique's methods whose transferability is measured")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--class-seeds", type=int, default=3, help="seeds per class (transferability), Lucid's")
    parser.add_argument("--maco-class-seeds", type=int, default=None, help="the same for MaCo (default: as Lucid's)")
    parser.add_argument("--train-examples", type=int, default=2000, help="MaCo's spectrum")
    parser.add_argument("--test-examples", type=int, default=None, help="the denominator's images (default: all)")
    parser.add_argument("--out", default=None, help="JSON file to update")
    args = parser.parse_args(argv)

    steps = {m: args.steps or DEFAULTS[m]["steps"] for m in ("maco", "fourier")}
    data = Data(args.run, args.train_examples, args.test_examples)
    data.test_pixels01 = np.clip(data.run.load_split("test", max_examples=256, seed=0)[0] / 255.0, 0, 1
                                 ).astype(np.float32)
    data.test_pixels01_inputs = data.run.preprocess(data.test_pixels01 * 255.0)
    second = Data(args.second_run, 1, 1) if args.second_run else None
    class_seeds = {"fourier": range(args.class_seeds),
                   "maco": range(args.class_seeds if args.maco_class_seeds is None else args.maco_class_seeds)}
    header = dict(cpu=cpu_model(), avx512=avx512(), date=today(), tensorflow=tf.__version__,
                  keras=keras.__version__, run=args.run, second_run=args.second_run,
                  test_images=int(len(data.test)), train_images_for_spectrum=int(len(data.train)),
                  load_at_start=list(os.getloadavg()))
    results = {}
    if os.path.exists(args.out or ""):
        with open(args.out) as f:
            results = json.load(f)
    for part in args.parts:
        if part == "activation":
            body = activation(data, args.layers, args.methods, steps, args.seed, args.maps)
        elif part == "transfer":
            if second is None:
                raise SystemExit("--parts transfer needs --second-run")
            body = transfer(data, second, args.methods, steps, class_seeds)
        else:
            body = xplique(data, second, args.layers, steps, args.xplique_maps, class_seeds, args.xplique_transfer)
        body.update(header, command="python -m benchmarks.feature_visualization_yardstick " + " ".join(argv or []),
                    load_at_end=list(os.getloadavg()))
        results[part] = body
        if args.out:
            write_json_atomic(args.out, results)
    return results


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
