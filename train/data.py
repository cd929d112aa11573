"""The training data of a run, as tf.data pipelines.

Where the train, validation (watched by the annealer) and test examples come
from is decided once by `zfkeras.runs.splits.plan_splits` and saved with the
run (``splits.json``): test examples are never trained or annealed on. When
a source has no test split of its own, one is held out of its training
split.

Fashion-MNIST (the embedded default) is preprocessed the paper's way at its
own scale: pixels minus the per-pixel mean image of the training split,
divided by the pixel standard deviation (both saved with the run in
``normalization.npz``). Random horizontal flips are opt-in
(``--augment-flip``): in the 10-epoch budget they slowed training without
improving test accuracy. The division is ours: the paper fed raw pixel
units to N(0, 0.01) weights, which at zfnet_small's widths makes signals
vanish; unit-scale inputs suit its He-normal initialisation.

The paper's ten-crop test at this scale: each normalised 28x28 test image is zero-padded by
`FASHION_MNIST_PAD` pixels to 32x32 (a zero there is a black pixel minus
the padded images' mean at that pixel, black too), and the model's class
probabilities are averaged over its five 28x28 crops (4 corners, and the
centre: the image itself) and their mirror images.

Image folders and TFDS datasets use the paper's pipeline
(`zfkeras.data`): shortest side to ``image_size``, centre square, minus the
mean image (``mean_image.npy``), one of the ten ``crop_size`` crops at
random for training, the centre crop for validation and test, all ten
crops for the ten-crop test metrics.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from zfkeras.data import (
    array_dataset,
    labelled_files_dataset,
    load_fashion_mnist,
    mean_image_for_run,
    preprocess_dataset,
)
from zfkeras.data.fashion_mnist import FASHION_MNIST_CLASSES
from zfkeras.runs.folder import RunFolder
from zfkeras.runs.writer import RunWriter
from zfkeras.runs.sources import folder_files, tfds_split
from zfkeras.runs.splits import VALIDATION_NAMES, held_out_indices, plan_splits
from zfkeras.utils.errors import InputError, MissingInputError

PROBE_SIZE = 2048  # training examples evaluated before the first epoch
SPLITS = ("train", "validation", "test")
FASHION_MNIST_SIZE = 28
FASHION_MNIST_PAD = 2  # pixels of padding on each side for the ten-crop test
CROP_POSITIONS = "4 corners and the centre, each also mirrored left-right; class probabilities averaged"


def ten_crop_geometry(image_size, crop_size, pad=0, source=""):
    """How the ten-crop test cuts its crops (kept in ``metrics.json``).

    Args:
        image_size: side of the square test images before padding.
        crop_size: side of the crops (the model's input).
        pad: pixels of zero padding added on each side.
        source: how the images were made (resize, centre square).

    Returns:
        JSON-able dict: ``image_size``, ``pad``, ``padded_size``,
        ``crop_size``, ``crops`` (10), ``crop_offset`` (pixels between a
        corner crop and the centre one, each way), ``positions`` and a
        one-line ``description``.
    """
    padded = image_size + 2 * pad
    what = f"{crop_size}x{crop_size} crops of the {image_size}x{image_size} test images"
    if source:
        what += f" ({source})"
    if pad:
        what += f" zero-padded by {pad} to {padded}x{padded}"
    return {
        "image_size": image_size, "pad": pad, "padded_size": padded, "crop_size": crop_size, "crops": 10,
        "crop_offset": (padded - crop_size) // 2, "positions": CROP_POSITIONS,
        "description": f"{what}: {CROP_POSITIONS}",
    }


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
    splits: dict  # the plan from zfkeras.runs.splits.plan_splits
    # full-size (or padded) test images for the paper's 10-crop evaluation,
    # the side of its crops and how they are cut (`ten_crop_geometry`)
    ten_crop_test: object = None
    crop_size: int = 0
    ten_crop: dict = None


def config_ten_crop(config):
    """`ten_crop_geometry` of `config`'s dataset (`TrainConfig`)."""
    if config.dataset == "fashion_mnist":
        return ten_crop_geometry(FASHION_MNIST_SIZE, FASHION_MNIST_SIZE, FASHION_MNIST_PAD)
    source = f"shortest side resized to {config.image_size}, centre square"
    return ten_crop_geometry(config.image_size, config.crop_size, source=source)


def load_training_data(config):
    """Builds the pipelines for `config.dataset` (see `TrainConfig`)."""
    if config.dataset == "fashion_mnist":
        return _fashion_mnist(config)
    if config.dataset == "folder":
        return _image_folder(config)
    return _tfds(config)


def _normalization(run_dir, images):
    """Per-pixel mean image and pixel standard deviation of the training
    split, computed once and kept with the run (``normalization.npz``)."""
    writer = RunWriter(run_dir)
    if not writer.layout.normalization.exists():
        pixels = images.astype(np.float64)
        mean = pixels.mean(axis=0).astype(np.float32)
        writer.write_normalization(mean, float((pixels - mean).std()))
    return RunFolder(run_dir).normalization()


def _fashion_mnist(config):
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(config.data_dir or None)
    plan = plan_splits(["train", "test"], config.validation_size, config.seed)
    index = held_out_indices(len(x_train), plan, config.max_train_examples)
    train_idx, val_idx = index["train"], index["validation"]
    mean, std = _normalization(config.run_dir, x_train[train_idx])
    mean_t, std_t = tf.constant(mean), tf.constant(std, tf.float32)

    def center(x, y):
        # The same float32 arithmetic as RunFolder.preprocess.
        return (tf.cast(x, tf.float32) - mean_t) / std_t, y

    def center_pad(x, y):
        x, y = center(x, y)
        pad = FASHION_MNIST_PAD
        return tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), y

    def center_augment(x, y):
        if config.augment_translate:
            # shifted before centring, so the uncovered border is black, as
            # the images' own background
            x = random_translate(tf.cast(x, tf.float32), config.augment_translate)
        x, y = center(x, y)
        if config.augment_flip:
            x = tf.image.random_flip_left_right(x, seed=config.seed)
        if config.augment_cutout:
            x = random_cutout(x, config.augment_cutout)  # after centring: erased pixels are the mean
        return x, y

    bs = config.batch_size
    rng = np.random.RandomState(config.seed + 1)
    evolution_ids = np.sort(rng.choice(train_idx, min(config.evolution_sample, len(train_idx)), replace=False))
    probe_ids = train_idx[: min(PROBE_SIZE, len(train_idx))]
    return TrainingData(
        train=array_dataset(x_train[train_idx], y_train[train_idx], bs, shuffle=True,
                            seed=config.seed, preprocess=center_augment),
        validation=array_dataset(x_train[val_idx], y_train[val_idx], bs, preprocess=center),
        test=array_dataset(x_test, y_test, bs, preprocess=center),
        train_probe=array_dataset(x_train[probe_ids], y_train[probe_ids], bs, preprocess=center),
        evolution_images=(x_train[evolution_ids].astype(np.float32) - mean) / np.float32(std),
        evolution_ids=evolution_ids,
        input_shape=tuple(x_train.shape[1:]),
        num_classes=10,
        class_names=list(FASHION_MNIST_CLASSES),
        num_train=len(train_idx),
        num_validation=len(val_idx),
        num_test=len(x_test),
        bad_files=[],
        splits=plan,
        ten_crop_test=array_dataset(x_test, y_test, bs, preprocess=center_pad),
        crop_size=FASHION_MNIST_SIZE,
        ten_crop=config_ten_crop(config),
    )


def random_translate(images, pixels):
    """Shifts each image of a batch by its own random offset of up to
    ``pixels`` in each direction, filling the uncovered border with zeros.

    Args:
        images: float tensor ``(batch, height, width, channels)``.
        pixels: the largest shift, a non-negative int.

    Returns:
        A tensor of the same shape: image ``i`` is ``images[i]`` zero-padded by
        ``pixels`` and cropped back at a uniform random offset.
    """
    if not pixels:
        return images
    shape = tf.shape(images)
    n, h, w = shape[0], shape[1], shape[2]
    padded = tf.pad(images, [[0, 0], [pixels, pixels], [pixels, pixels], [0, 0]])
    offsets = tf.random.uniform((2, n), 0, 2 * pixels + 1, dtype=tf.int32)
    rows = offsets[0][:, None] + tf.range(h)[None, :]
    cols = offsets[1][:, None] + tf.range(w)[None, :]
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(shifted, cols, axis=2, batch_dims=1)


def random_cutout(images, size):
    """Sets a ``size`` x ``size`` square of each image of a batch to zero
    (Cutout, DeVries & Taylor 2017), each at its own random place.

    The square's centre is uniform over the image's pixels, so squares near
    the border are cut by it, as in Cutout: every pixel is erased equally
    often away from the border, and an image keeps part of its content.

    Args:
        images: float tensor ``(batch, height, width, channels)``.
        size: the square's side in pixels, a non-negative int (0: none).

    Returns:
        A tensor of the same shape: image ``i`` with rows ``[cy - size // 2,
        cy - size // 2 + size)`` x the same columns around its centre
        ``(cy, cx)``, clipped to the image, set to zero in every channel.
    """
    if not size:
        return images
    shape = tf.shape(images)
    n, h, w = shape[0], shape[1], shape[2]
    top = tf.random.uniform((n,), 0, h, dtype=tf.int32) - size // 2
    left = tf.random.uniform((n,), 0, w, dtype=tf.int32) - size // 2
    rows, cols = tf.range(h)[None, :], tf.range(w)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)     # (n, h)
    in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size)   # (n, w)
    erased = (in_rows[:, :, None] & in_cols[:, None, :])[..., None]     # (n, h, w, 1)
    return tf.where(erased, tf.zeros_like(images), images)


def _evolution_sample(centre, count, batch_size):
    """The first `count` centre-cropped training images (numpy)."""
    batches = centre.unbatch().take(count).batch(batch_size).as_numpy_iterator()
    return np.concatenate([x for x, _ in batches])


def _image_folder(config):
    """``data_dir/train/<class>/*``, optional ``val/`` (or ``validation/``)
    and ``test/`` beside it; missing ones are held out of ``train/``."""
    root = config.data_dir
    if os.path.lexists(root) and not os.path.isdir(root):
        raise InputError(f"--data-dir {root} is a file, not a folder; pass the folder holding train/")
    if not os.path.isdir(root):
        raise MissingInputError(f"--data-dir {root} does not exist")
    available = [name for name in ("train", *VALIDATION_NAMES, "test") if os.path.isdir(os.path.join(root, name))]
    if "train" not in available:
        raise MissingInputError(
            f"{root} needs a train/ sub-folder holding one folder of images per class "
            "(optionally val/ and test/ beside it; what is missing is held out of train/)"
        )
    plan = plan_splits(available, config.validation_size, config.seed)
    settings = dataclasses.asdict(config)
    files = {split: folder_files(settings, plan, split) for split in SPLITS}
    names = files["train"][2]
    size, crop, bs, seed = config.image_size, config.crop_size, config.batch_size, config.seed

    def pipeline(split, mode, mean=None, shuffle=None):
        paths, labels, _ = files[split]
        where = f"the {split} split of {root}"
        return labelled_files_dataset(paths, labels, names, where, mode, size, crop, mean, bs,
                                      shuffle, seed, True)

    # Over the training files that decode (zfkeras.data checks them once).
    mean = mean_image_for_run(config.run_dir, files["train"][0], size)
    train = pipeline("train", "train", mean)
    validation = pipeline("validation", "center", mean)
    test = pipeline("test", "center", mean)
    centre = pipeline("train", "center", mean, shuffle=False)
    bad = [{"path": path, "reason": reason}
           for ds in (train, validation, test) for path, reason in ds.report.bad_files]
    n_evo = min(config.evolution_sample, len(train.file_paths))
    return TrainingData(
        train=train, validation=validation, test=test,
        train_probe=centre.take(max(1, PROBE_SIZE // bs)),
        evolution_images=_evolution_sample(centre, n_evo, bs), evolution_ids=np.arange(n_evo),
        input_shape=(crop, crop, 3), num_classes=len(names), class_names=list(names),
        num_train=len(train.file_paths), num_validation=len(validation.file_paths),
        num_test=len(test.file_paths), bad_files=bad, splits=plan,
        ten_crop_test=pipeline("test", "full", mean), crop_size=crop,
        ten_crop=config_ten_crop(config),
    )


def _tfds_available_splits(config):
    from zfkeras.data import tfds_dataset

    available = ["train"]
    for name in ("validation", "test"):
        try:
            split = tfds_dataset(config.tfds_name, name, config.data_dir or None, config.manual_dir or None)
        except ValueError:
            continue  # the dataset has no such split
        # Unlabelled splits (imagenet2012's test: label -1) cannot be scored.
        if any(int(label) < 0 for _, label in split.take(1).as_numpy_iterator()):
            print(f"TFDS {config.tfds_name!r}: the {name!r} split has no labels; not used")
            continue
        available.append(name)
    return available


def _count(dataset):
    n = int(dataset.cardinality())
    return n if n >= 0 else -1


def _tfds(config):
    """A TFDS dataset (prepared in data_dir, or from archives in manual_dir)."""
    plan = plan_splits(_tfds_available_splits(config), config.validation_size, config.seed)
    settings = dataclasses.asdict(config)
    raw = {split: tfds_split(settings, plan, split) for split in SPLITS}
    size, crop, bs, seed = config.image_size, config.crop_size, config.batch_size, config.seed
    mean = mean_image_for_run(config.run_dir, raw["train"], size)
    names = raw["train"].class_names
    common = dict(image_size=size, crop_size=crop, mean_image=mean, batch_size=bs)
    centre = preprocess_dataset(raw["train"], "center", shuffle=False, **common)
    if not names:
        names = [str(k) for k in range(int(max(y for _, y in raw["train"].as_numpy_iterator()) + 1))]
    evolution_images = _evolution_sample(centre, config.evolution_sample, bs)
    return TrainingData(
        train=preprocess_dataset(raw["train"], "train", seed=seed, **common),
        validation=preprocess_dataset(raw["validation"], "center", **common),
        test=preprocess_dataset(raw["test"], "center", **common),
        train_probe=centre.take(max(1, PROBE_SIZE // bs)),
        evolution_images=evolution_images, evolution_ids=np.arange(len(evolution_images)),
        input_shape=(crop, crop, int(mean.shape[-1])), num_classes=len(names),
        class_names=list(names), num_train=_count(raw["train"]),
        num_validation=_count(raw["validation"]), num_test=_count(raw["test"]), bad_files=[],
        splits=plan, ten_crop_test=preprocess_dataset(raw["test"], "full", **common), crop_size=crop,
        ten_crop=config_ten_crop(config),
    )
