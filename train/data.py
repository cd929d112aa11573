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

import zfkeras
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
    # image datasets: full-size test images for the paper's 10-crop evaluation
    ten_crop_test: object = None
    crop_size: int = 0


def load_training_data(config):
    """Builds the pipelines for `config.dataset` (see `TrainConfig`)."""
    if config.dataset == "fashion_mnist":
        return _fashion_mnist(config)
    if config.dataset == "folder":
        return _image_folder(config)
    return _tfds(config)


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


def _first_dir(root, names):
    for name in names:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            return path
    return None


def _image_folder(config):
    """``data_dir/train/<class>/*``, ``data_dir/val/<class>/*`` (or
    ``validation/``) and optionally ``data_dir/test/<class>/*``."""
    root = config.data_dir
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--data-dir {root} does not exist")
    train_dir = _first_dir(root, ("train",))
    val_dir = _first_dir(root, ("val", "validation"))
    if train_dir is None or val_dir is None:
        raise FileNotFoundError(
            f"{root} needs a train/ and a val/ (or validation/) sub-folder, each holding one "
            "folder of images per class"
        )
    test_dir = _first_dir(root, ("test",)) or val_dir
    size, crop, bs, seed = config.image_size, config.crop_size, config.batch_size, config.seed
    mean = zfkeras.mean_image_for_run(config.run_dir, train_dir, size)
    train = zfkeras.image_folder_dataset(train_dir, "train", size, crop, mean, bs, seed=seed)
    names = train.class_names
    common = dict(image_size=size, crop_size=crop, mean_image=mean, class_names=names, batch_size=bs)
    validation = zfkeras.image_folder_dataset(val_dir, "center", **common)
    # Every folder's files are decoded once; later pipelines reuse its report.
    test = (validation if test_dir == val_dir
            else zfkeras.image_folder_dataset(test_dir, "center", **common))
    ten_crop = zfkeras.image_folder_dataset(test_dir, "full", validate=test.report, **common)
    centre = zfkeras.image_folder_dataset(train_dir, "center", shuffle=False, validate=train.report, **common)
    checked = (train, validation) if test is validation else (train, validation, test)
    bad = [
        {"path": path, "reason": reason}
        for ds in checked if ds.report is not None
        for path, reason in ds.report.bad_files
    ]
    probe = centre.take(max(1, PROBE_SIZE // bs))
    n_evo = min(config.evolution_sample, len(train.file_paths))
    evolution_images = np.concatenate([x for x, _ in centre.unbatch().take(n_evo).batch(bs).as_numpy_iterator()])
    return TrainingData(
        train=train, validation=validation, test=test, train_probe=probe,
        evolution_images=evolution_images, evolution_ids=np.arange(n_evo),
        input_shape=(crop, crop, 3), num_classes=len(names), class_names=list(names),
        num_train=len(train.file_paths), num_validation=len(validation.file_paths),
        num_test=len(test.file_paths), bad_files=bad,
        ten_crop_test=ten_crop, crop_size=crop,
    )


def _tfds(config):
    """A TFDS dataset (prepared in data_dir, or from archives in manual_dir)."""
    def load(split):
        return zfkeras.tfds_dataset(config.tfds_name, split, config.data_dir or None, config.manual_dir or None)

    train_raw = load("train")
    try:
        val_raw = load("validation")
    except ValueError:
        val_raw = load("test")
    size, crop, bs, seed = config.image_size, config.crop_size, config.batch_size, config.seed
    mean = zfkeras.mean_image_for_run(config.run_dir, train_raw, size)
    names = train_raw.class_names
    common = dict(image_size=size, crop_size=crop, mean_image=mean, batch_size=bs)
    train = zfkeras.preprocess_dataset(train_raw, "train", seed=seed, **common)
    validation = zfkeras.preprocess_dataset(val_raw, "center", **common)
    centre = zfkeras.preprocess_dataset(train_raw, "center", shuffle=False, **common)
    n_evo = config.evolution_sample
    evolution_images = np.concatenate([x for x, _ in centre.unbatch().take(n_evo).batch(bs).as_numpy_iterator()])
    count = lambda ds: int(ds.cardinality()) if int(ds.cardinality()) >= 0 else -1
    return TrainingData(
        train=train, validation=validation, test=validation,
        train_probe=centre.take(max(1, PROBE_SIZE // bs)),
        evolution_images=evolution_images, evolution_ids=np.arange(len(evolution_images)),
        input_shape=(crop, crop, 3), num_classes=len(names) if names else int(
            max(y for _, y in train_raw.as_numpy_iterator()) + 1),
        class_names=list(names or []), num_train=count(train_raw),
        num_validation=count(val_raw), num_test=count(val_raw), bad_files=[],
        ten_crop_test=zfkeras.preprocess_dataset(val_raw, "full", **common), crop_size=crop,
    )


def ten_crop_metrics(model, dataset, crop_size):
    """The paper's evaluation: class probabilities averaged over 10 crops.

    Returns:
        dict with ``ten_crop_accuracy`` and ``ten_crop_top5``.
    """
    probs = zfkeras.predict_ten_crop(model, dataset, crop_size)
    labels = np.concatenate([y for _, y in dataset.as_numpy_iterator()])
    top = np.argsort(-probs, axis=1)
    return {
        "ten_crop_accuracy": float((top[:, 0] == labels).mean()),
        "ten_crop_top5": float((top[:, :5] == labels[:, None]).any(axis=1).mean()),
    }
