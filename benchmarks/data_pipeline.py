"""Is the input pipeline or the model the bottleneck of ImageNet-style training?

Writes ``--images`` JPEGs (500x375, the size of a typical ImageNet photo) in
class folders under a temporary folder, then measures

* images/s of zfkeras' class-folder training pipeline (read, decode, resize
  the shortest side to 256, centre square, minus the mean image, one of the
  ten 224 crops, batch) with a private one-thread pool (``--data-threads 1``,
  the 2-core default) and with tf.data autotuning over all cores (the
  default on more than two cores);
* images/s of the ten-crop evaluation pipeline (all ten crops per image);
* images/s of ``--model`` training steps at 224 px (SGD, batch ``--batch``),
  on in-memory batches, so the model alone is timed.

Whichever is smaller bounds training; the ratio says how far the other
could go. Each pipeline is timed on its second pass (the first warms the
file cache and traces).

    .venv/bin/python -m benchmarks.data_pipeline [--images 256] [--steps 4] [--model zfnet]
"""

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from analysis.output.machine import avx512, cpu_model
from zfkeras.data import labelled_files_dataset, pipeline
from zfkeras.data.transforms import ten_crops


def write_jpegs(folder, count, seed=0):
    """``count`` 500x375 JPEGs in two class folders; returns (paths, labels)."""
    rng = np.random.RandomState(seed)
    paths, labels = [], []
    base = rng.randint(0, 256, (47, 63, 3)).astype(np.uint8)
    for i in range(count):
        label = i % 2
        os.makedirs(os.path.join(folder, str(label)), exist_ok=True)
        image = tf.image.resize(np.roll(base, i, axis=1)[None], (375, 500))[0]
        image = tf.cast(tf.clip_by_value(image + rng.randn(375, 500, 3) * 20, 0, 255), tf.uint8)
        path = os.path.join(folder, str(label), f"{i:05d}.jpg")
        tf.io.write_file(path, tf.io.encode_jpeg(image, quality=90))
        paths.append(path)
        labels.append(label)
    return paths, labels


def images_per_second(dataset, count):
    for _ in dataset:  # warm-up pass
        pass
    start = time.perf_counter()
    for _ in dataset:
        pass
    return count / (time.perf_counter() - start)


def pipelines(paths, labels, threads, batch):
    """Training and ten-crop pipelines' images/s with `threads` (0: autotune
    over all cores, whatever the machine)."""
    pipeline.set_data_threads(threads)
    saved = pipeline.SMALL_MACHINE_CORES
    pipeline.SMALL_MACHINE_CORES = 0  # threads=0 means autotune here, even on 2 cores
    try:
        mean = np.zeros((256, 256, 3), np.float32)
        train = labelled_files_dataset(paths, labels, ["0", "1"], "benchmark", "train", mean_image=mean,
                                       batch_size=batch, shuffle=True, seed=0, validate=False)
        full = labelled_files_dataset(paths, labels, ["0", "1"], "benchmark", "full", mean_image=mean,
                                      batch_size=batch, shuffle=False, validate=False)
        crops = full.map(lambda x, y: (ten_crops(x, 224), y))
        return {"train_pipeline": images_per_second(train, len(paths)),
                "ten_crop_pipeline": images_per_second(crops, len(paths))}
    finally:
        pipeline.SMALL_MACHINE_CORES = saved
        pipeline.set_data_threads(0)


def training_steps(model_name, batch, steps):
    """Images/s of SGD steps of `model_name` at 224 px on one in-memory batch."""
    import keras

    from zfkeras import models

    model = getattr(models, model_name)(input_shape=(224, 224, 3), num_classes=1000, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=False,
                  loss="sparse_categorical_crossentropy")
    x = tf.random.normal((batch, 224, 224, 3))
    y = tf.zeros((batch,), tf.int64)
    model.train_on_batch(x, y)  # trace
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return batch * steps / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--model", default="zfnet", choices=("zfnet", "zfnet_small", "alexnet_dense"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        paths, labels = write_jpegs(folder, args.images)
        results = {"one_thread": pipelines(paths, labels, 1, args.batch),
                   "all_cores_autotune": pipelines(paths, labels, 0, args.batch)}
    results["training_step"] = {args.model: training_steps(args.model, args.batch, args.steps)}
    results["machine"] = {"cpu": cpu_model(), "avx512": avx512(),
                          "cores_available": pipeline.available_cores()}
    results["settings"] = vars(args)
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
