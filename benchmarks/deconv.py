"""Deconvnet projection cost vs one backward pass of the gradient oracle.

For K activations (one per image, strongest activation of a random channel
of the chosen layer), times

* ``Deconvnet.project`` (forward with switches, unpool/rectify/transposed
  filtering down to pixels), with both unpooling modes, and
* the oracle: one forward pass under a GradientTape with every ReLU's
  backward replaced by relu(signal), selection of the same activations, and
  one ``tape.gradient`` with them as output gradients -- the cheapest way to
  get the same projection from autodiff,

in the same process, same batch, medians of several repeats after warm-up.

    .venv/bin/python -m benchmarks.deconv [--repeats 5] [--quick]
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
from tests import oracle


def _oracle_fn(model, layer):
    @tf.function(reduce_retracing=True, jit_compile=False)
    def run(images, channels):
        with tf.GradientTape() as tape:
            tape.watch(images)
            act = oracle.forward(model, images, layer)
        n = tf.shape(act)[0]
        maps = tf.gather(tf.transpose(act, [0, 3, 1, 2]), channels, axis=1, batch_dims=1)
        flat = tf.argmax(tf.reshape(maps, [n, -1]), axis=1, output_type=tf.int32)
        w = tf.shape(act)[2]
        idx = tf.stack([tf.range(n), flat // w, flat % w, channels], axis=1)
        seed = tf.scatter_nd(idx, tf.gather_nd(act, idx), tf.shape(act))
        return tape.gradient(act, images, output_gradients=seed)

    return run


def _median_time(fn, repeats):
    fn()  # warm-up: tracing
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(name, model, layer, k, batch, repeats, seed=0, unpooling="switches"):
    rng = np.random.RandomState(seed)
    shape = model.input_shape[1:]
    images = (rng.rand(k, *shape).astype("float32") - 0.5) * 255
    deconv = zfkeras.Deconvnet(model, unpooling=unpooling)
    channels = rng.randint(0, deconv.output_shape(layer)[-1], size=k).astype("int32")
    run_oracle = _oracle_fn(model, layer)

    def ours():
        deconv.project(images, layer, channels, batch_size=batch)

    def reference():
        for s in range(0, k, batch):
            run_oracle(tf.constant(images[s:s + batch]), tf.constant(channels[s:s + batch])).numpy()

    # check they agree before timing them
    a = deconv.project(images[:4], layer, channels[:4])
    b = run_oracle(tf.constant(images[:4]), tf.constant(channels[:4])).numpy()
    err = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
    t_ours = _median_time(ours, repeats)
    t_ref = _median_time(reference, repeats)
    row = dict(model=name, unpooling=unpooling, layer=layer, K=k, batch=batch, deconv_s=round(t_ours, 4),
               oracle_s=round(t_ref, 4), ratio=round(t_ours / t_ref, 3), rel_err=err)
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="ZFNet-small only")
    parser.add_argument("--out", default=None, help="write rows as JSON here")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    rows = []
    small = zfkeras.zfnet_small((28, 28, 1), 10, seed=0)
    for unpooling in ("switches", "max_pool_grad"):
        for k in (64, 256):
            rows.append(measure("zfnet_small 28px", small, "conv5", k, k, args.repeats, unpooling=unpooling))
    if not args.quick:
        full = zfkeras.zfnet(seed=0)
        for unpooling in ("switches", "max_pool_grad"):
            for k in (64, 256):
                rows.append(measure("zfnet 224px", full, "conv5", k, 64, args.repeats, unpooling=unpooling))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
