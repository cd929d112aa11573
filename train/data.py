"""The training data of a run, as tf.data pipelines.

Fashion-MNIST (the embedded default) is preprocessed the paper's way at its
own scale: pixels minus the per-pixel mean image of the training split,
divided by the pixel standard deviation (both saved with the run in
``normalization.npz``), random horizontal flips for training. The division
is ours: the paper fed raw pixel units to N(0, 0.01) weights, which at
zfnet_small's widths makes signals vanish; unit-scale inputs suit its
He-normal initialisation.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from zfkeras import FASHION_MNIST_CLASSES, array_dataset, load_fashion_mnist

PROBE_SIZE = 2048  # training examples evaluated before the first epoch


@dataclasses.dataclass
class TrainingData:
    train: object
    validation: object
    test: object
    train_probe: object
    evolution_images: np.ndarray
    evolution_ids: np.ndarray
    input_shape: tuple
    num_classes: int
    class_names: list
    num_train: int
    num_validation: int
    num_test: int
    bad_files: list


def load_training_data(config):
    """Builds the pipelines for `config.dataset` (see `TrainConfig`)."""
    if config.dataset == "fashion_mnist":
        return _fashion_mnist(config)
    raise ValueError(f"dataset {config.dataset!r} is not supported by the trainer")


def _split(n, validation_size, max_train, seed):
    if validation_size >= n:
        raise ValueError(f"validation_size {validation_size} leaves no training examples out of {n}")
    order = np.random.RandomState(seed).permutation(n)
    validation, train = order[:validation_size], order[validation_size:]
    if max_train:
        train = train[:max_train]
    return np.sort(train), np.sort(validation)


def _normalization(run_dir, images):
    """Per-pixel mean image and pixel standard deviation of the training
    split, computed once and kept with the run (``normalization.npz``)."""
    path = os.path.join(run_dir, "normalization.npz")
    if os.path.exists(path):
        with np.load(path) as f:
            return f["mean_image"], float(f["pixel_std"])
    pixels = images.astype(np.float64)
    mean = pixels.mean(axis=0).astype(np.float32)
    std = float((pixels - mean).std())
    tmp = f"{path}.tmp-{os.getpid()}.npz"
    np.savez(tmp, mean_image=mean, pixel_std=np.float32(std))
    os.replace(tmp, path)
    return mean, std


def _fashion_mnist(config):
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(config.data_dir or None)
    train_idx, val_idx = _split(len(x_train), config.validation_size, config.max_train_examples, config.seed)
    mean, std = _normalization(config.run_dir, x_train[train_idx])
    mean_t = tf.constant(mean)

    def center(x, y):
        return (tf.cast(x, tf.float32) - mean_t) / std, y

    def center_flip(x, y):
        x, y = center(x, y)
        if config.augment_flip:
            x = tf.image.random_flip_left_right(x, seed=config.seed)
        return x, y

    bs = config.batch_size
    rng = np.random.RandomState(config.seed + 1)
    evolution_ids = np.sort(rng.choice(train_idx, min(config.evolution_sample, len(train_idx)), replace=False))
    probe_ids = train_idx[: min(PROBE_SIZE, len(train_idx))]
    validation = (
        array_dataset(x_train[val_idx], y_train[val_idx], bs, preprocess=center) if len(val_idx) else None
    )
    return TrainingData(
        train=array_dataset(x_train[train_idx], y_train[train_idx], bs, shuffle=True,
                            seed=config.seed, preprocess=center_flip),
        validation=validation,
        test=array_dataset(x_test, y_test, bs, preprocess=center),
        train_probe=array_dataset(x_train[probe_ids], y_train[probe_ids], bs, preprocess=center),
        evolution_images=(x_train[evolution_ids].astype(np.float32) - mean) / std,
        evolution_ids=evolution_ids,
        input_shape=tuple(x_train.shape[1:]),
        num_classes=10,
        class_names=list(FASHION_MNIST_CLASSES),
        num_train=len(train_idx),
        num_validation=len(val_idx),
        num_test=len(x_test),
        bad_files=[],
    )
