"""Training throughput: zfnet_small vs a plain keras.Sequential twin.

The twin has the same layers built only from Keras' own classes:
`MaxPooling2D`, `Conv2D`, and TensorFlow's `tf.nn.local_response_normalization`
in a `Lambda` for the contrast normalisation, and no kernel constraint. So
the ratio prices everything zfkeras adds to a training step (our LRN layer
and feature-scale clipping after every update). Same data pipeline
(`zfkeras.data.array_dataset` on Fashion-MNIST), same batch size and optimizer,
measured alternately in one process; medians over rounds.

    .venv/bin/python -m benchmarks.train_throughput [--examples 12800] [--rounds 3]
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

import zfkeras
from zfkeras.data import array_dataset, load_fashion_mnist


def plain_twin(model):
    """A Sequential of built-in layers with `model`'s architecture."""
    layers = [keras.Input(model.input_shape[1:])]
    for layer in model.layers[1:]:
        if isinstance(layer, zfkeras.LocalResponseNormalization):
            r, k, a, b = layer.size // 2, layer.k, layer.alpha, layer.beta
            layers.append(keras.layers.Lambda(
                lambda x, r=r, k=k, a=a, b=b: tf.nn.local_response_normalization(x, r, k, a, b),
                name=layer.name))
        else:
            config = layer.get_config()
            config.pop("kernel_constraint", None)
            layers.append(type(layer).from_config(config))
    twin = keras.Sequential(layers, name="plain_twin")
    twin.set_weights(model.get_weights())
    return twin


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=12800)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args(argv)

    (x, y), _ = load_fashion_mnist()
    x, y = x[: args.examples], y[: args.examples]
    mean = x.astype("float32").mean(0)

    def pre(a, b):
        return (tf.cast(a, tf.float32) - mean) / 90.0, b

    data = array_dataset(x, y, args.batch_size, shuffle=True, seed=0, preprocess=pre)
    ours = zfkeras.zfnet_small(seed=0)
    twin = plain_twin(ours)
    assert len(ours.layers) == len(twin.layers) + 1  # Sequential has no InputLayer entry
    rates = {"zfnet_small": [], "plain_sequential": []}
    for model in (ours, twin):
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
        model.fit(data.take(5), epochs=1, verbose=0)  # trace
    for _ in range(args.rounds):
        for name, model in (("zfnet_small", ours), ("plain_sequential", twin)):
            start = time.perf_counter()
            model.fit(data, epochs=1, verbose=0)
            rates[name].append(args.examples / (time.perf_counter() - start))
    result = {name: round(statistics.median(r), 1) for name, r in rates.items()}
    result["ratio"] = round(result["zfnet_small"] / result["plain_sequential"], 3)
    result["rounds"] = {name: [round(v, 1) for v in r] for name, r in rates.items()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
