"""LRP and Integrated Gradients cost vs plain gradients of the same batch.

For K images and their predicted classes, in one process, calls
interleaved, medians of several repeats after warm-up, each call timed by
the wall clock and by the process's CPU time (all its threads; on a
machine shared with other jobs the CPU-time ratio moves less than the
wall-clock one, which counts the time the process waited for a core):

* one gradient: the class logit's gradient with respect to the images, one
  forward and one backward pass (`zfkeras.methods.attribution.class_gradient`);
* LRP: `zfkeras.methods.lrp.engine.LRP` with ``lrp_epsilon`` and the
  composite ``lrp_epsilon_plus_flat`` (its tf.function built once);
* Integrated Gradients at n steps (``batch_size=K``, so n model calls of K
  points) against n gradients of the batch.

Goals (issue 26): LRP / gradient <= 1.3; IG(n) <= 1.1 x n gradients.

    .venv/bin/python -m benchmarks.lrp [--repeats 5] [--models zfnet_small vgg16 resnet50 mobilenetv2]
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
from zfkeras.analysis.output.machine import avx512, cpu_model
from zfkeras.methods.attribution import class_gradient, integrated_gradients
from zfkeras.methods.lrp.engine import LRP
from zfkeras.utils.atomic import write_json_atomic


def timed(fns, repeats):
    """``(wall, cpu)`` median seconds per call of each function, calls interleaved after one warm-up call each."""
    for fn in fns:
        fn()  # tracing
    wall, cpu = [[] for _ in fns], [[] for _ in fns]
    for _ in range(repeats):
        for fn, w, c in zip(fns, wall, cpu):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            c.append(time.process_time() - start_cpu)
            w.append(time.perf_counter() - start)
    return [statistics.median(t) for t in wall], [statistics.median(t) for t in cpu]


def measure(name, model, k, repeats, steps=16, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.normal(size=(k,) + tuple(model.input_shape[1:])).astype("float32")
    classes = model.predict(images, verbose=0).argmax(axis=1).astype("int32")
    gradient = class_gradient(model)
    x, c = tf.constant(images), tf.constant(classes)
    engines = {m: LRP(model, m) for m in ("lrp_epsilon", "lrp_epsilon_plus_flat")}

    def one_gradient():
        gradient(images, classes)

    def lrp(method):
        return lambda: engines[method].function(x, c).numpy()

    def n_gradients():
        for _ in range(steps):
            gradient(images, classes)

    def ig():
        integrated_gradients(model, images, classes, steps=steps, batch_size=k)

    load_before = os.getloadavg()[0]
    wall, cpu = timed([one_gradient, lrp("lrp_epsilon"), lrp("lrp_epsilon_plus_flat"), n_gradients, ig], repeats)
    row = dict(model=name, K=k, steps=steps, repeats=repeats)
    for clock, (t_grad, t_eps, t_flat, t_n, t_ig) in (("", wall), ("cpu_", cpu)):
        row.update({f"{clock}gradient_s": round(t_grad, 4), f"{clock}lrp_epsilon_s": round(t_eps, 4),
                    f"{clock}lrp_epsilon_ratio": round(t_eps / t_grad, 3),
                    f"{clock}lrp_epsilon_plus_flat_s": round(t_flat, 4),
                    f"{clock}lrp_epsilon_plus_flat_ratio": round(t_flat / t_grad, 3),
                    f"{clock}n_gradients_s": round(t_n, 4), f"{clock}integrated_gradients_s": round(t_ig, 4),
                    f"{clock}integrated_gradients_ratio": round(t_ig / t_n, 3)})
    row.update(cpu=cpu_model(), avx512=avx512(), cores=os.cpu_count(),
               load_1min=[round(load_before, 2), round(os.getloadavg()[0], 2)],
               device=", ".join(d.name for d in tf.config.list_logical_devices()))
    print(json.dumps(row), flush=True)
    return row


MODELS = {
    "zfnet_small": lambda: ("zfnet_small 28px", zfkeras.zfnet_small((28, 28, 1), 10, seed=0), 64),
    "vgg16": lambda: ("VGG16 64px", keras.applications.VGG16(weights=None, input_shape=(64, 64, 3), classes=10), 16),
    "resnet50": lambda: ("ResNet50 64px", keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3),
                                                                      classes=10), 16),
    "mobilenetv2": lambda: ("MobileNetV2 64px", keras.applications.MobileNetV2(weights=None, input_shape=(64, 64, 3),
                                                                               classes=10), 16),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--out", default=None, help="write rows as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for name in args.models:
        label, model, k = MODELS[name]()
        rows.append(measure(label, model, k, args.repeats, args.steps))
        if args.out:  # after each model: a run cut short keeps what it measured
            write_json_atomic(args.out, rows)
    return rows


if __name__ == "__main__":
    main()
