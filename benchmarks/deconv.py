"""Deconvnet projection cost vs one forward + backward pass of the gradient oracle (P1).

For K activations (one per image, the strongest activation of a random
channel of the chosen layer), times

* ``Deconvnet.project`` (up with switches, then unpool / rectify /
  transposed filtering and every other layer's mirror rule down to pixels),
* the oracle: one forward pass with every ReLU's (and relu6's) backward
  replaced by relu(signal), selection of the same activations in the graph,
  and one backward pass with them as output gradients -- the cheapest way to
  get the same projection from autodiff. Chains with LRN (ZFNet) use
  tests/oracle.py's plain-``tf.nn`` forward; graphs (keras.applications)
  use ``gradient_override_map`` on the model's own forward pass,

in the same process, same batch, calls interleaved, medians of several
repeats after warm-up.
P1 = projection time / oracle time (goal <= 1.2). The same run times the
other two backward rules of the engine (``method="guided_backprop"``,
``"gradient"``) against the same oracle; the default ``unpooling="auto"``
row records the path it chose.

    .venv/bin/python -m benchmarks.deconv [--repeats 5] [--models zfnet_small resnet50 ...]
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import keras
import tensorflow as tf

import zfkeras
from zfkeras.utils.atomic import write_json_atomic
from zfkeras.deconv.unpooling import timed
from tests import oracle
from zfkeras.analysis.output.machine import cpu_model
from zfkeras.methods.unit import Unit


def _chain_oracle_fn(model, layer):
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


def _graph_oracle_fn(model, layer):
    run = oracle.gradient_function(model, layer)
    return lambda images, channels: run(images, channels)[0]




# Median seconds of each function, calls interleaved so that load changes
# on a shared machine hit every function alike (the one timer unpooling="auto" uses).
_median_times = timed


METHODS = ("deconvnet", "guided_backprop", "gradient")


def measure(name, model, layer, k, batch, repeats, oracle_fn, seed=0, unpooling="auto"):
    """Times each method's projection and the oracle on the same K images,
    interleaved; returns a row (dict)."""
    rng = np.random.RandomState(seed)
    shape = model.input_shape[1:]
    images = (rng.rand(k, *shape).astype("float32") - 0.5) * 255
    deconv = zfkeras.Deconvnet(model, unpooling=unpooling)
    channels = rng.randint(0, deconv.layer_output_shape(layer)[-1], size=k).astype("int32")
    run_oracle = oracle_fn(model, layer)

    def ours(method):
        return lambda: deconv.project(images, Unit(layer, channels), batch_size=batch, method=method)

    def reference():
        for s in range(0, k, batch):
            run_oracle(tf.constant(images[s:s + batch]), tf.constant(channels[s:s + batch])).numpy()

    # check they agree before timing them
    a = deconv.project(images[:4], Unit(layer, channels[:4]))
    b = run_oracle(tf.constant(images[:4]), tf.constant(channels[:4])).numpy()
    err = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
    *t_methods, t_ref = _median_times([ours(m) for m in METHODS] + [reference], repeats)
    t_ours = t_methods[0]
    row = dict(model=name, unpooling=unpooling, resolved=deconv.resolved_unpooling, layer=layer, K=k,
               batch=batch, deconv_s=round(t_ours, 4), oracle_s=round(t_ref, 4), ratio=round(t_ours / t_ref, 3),
               rel_err=err, cpu=cpu_model())
    for method, spent in zip(METHODS[1:], t_methods[1:]):
        row[f"{method}_s"] = round(spent, 4)
        row[f"{method}_ratio"] = round(spent / t_ref, 3)
    print(json.dumps(row), flush=True)
    return row


def _zfnet_small(args):
    model = zfkeras.zfnet_small((28, 28, 1), 10, seed=0)
    return [measure("zfnet_small 28px", model, "conv5", k, k, args.repeats, _chain_oracle_fn, unpooling=u)
            for u in ("auto", "switches", "max_pool_grad") for k in (64, 256)]


def _zfnet(args):
    model = zfkeras.zfnet(seed=0)
    return [measure("zfnet 224px", model, "conv5", k, 64, args.repeats, _chain_oracle_fn, unpooling=u)
            for u in ("switches", "max_pool_grad") for k in (64, 256)]


def _resnet50(args):
    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    return [measure("ResNet50 224px", model, "conv5_block3_out", args.k, args.k, args.repeats,
                    _graph_oracle_fn, unpooling=u) for u in ("switches", "max_pool_grad")]


def _mobilenetv2(args):
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    return [measure("MobileNetV2 224px", model, "out_relu", args.k, args.k, args.repeats, _graph_oracle_fn)]


MODELS = {"zfnet_small": _zfnet_small, "zfnet": _zfnet, "resnet50": _resnet50, "mobilenetv2": _mobilenetv2}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--k", type=int, default=16, help="images (activations) for the 224 px applications")
    parser.add_argument("--quick", action="store_true", help="zfnet_small only")
    parser.add_argument("--out", default=None, help="write rows as JSON here")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    rows = []
    for name in (["zfnet_small"] if args.quick else args.models):
        rows.extend(MODELS[name](args))
    if args.out:
        write_json_atomic(args.out, rows)


if __name__ == "__main__":
    main()
