"""The paper's preprocessing pipeline over a dataset of labelled images.

Zeiler & Fergus (Sec. 3): shortest side to 256, central 256x256 square,
minus the per-pixel mean image of the training split; training takes one of
the ten 224x224 crops at random per example, evaluation averages the
predictions over all ten (`zfkeras.measures.evaluation.predict_ten_crop`).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from zfkeras.data.pipeline import finish, parallel_calls
from zfkeras.data.transforms import CHANNELS
from zfkeras.data.transforms import NUM_CROPS
from zfkeras.data.transforms import center_crop
from zfkeras.data.transforms import check_crop_sizes
from zfkeras.data.transforms import resize_and_center_crop
from zfkeras.data.transforms import ten_crop_at
from zfkeras.utils.errors import InputError
from zfkeras.utils.validation import one_of
from zfkeras.utils.validation import positive_int

MODES = ("train", "center", "full")


@dataclasses.dataclass(frozen=True)
class PipelineSettings:
    """The checked arguments of the paper's pipeline (see `preprocess_dataset`).

    Made by `pipeline_settings`, so that every dataset function checks its
    arguments before it reads any file.
    """

    mode: str
    image_size: int
    crop_size: int
    mean_image: object  # float32 (image_size, image_size, C) array, or None
    batch_size: object  # int, or None for single examples
    shuffle: bool
    seed: object


def pipeline_settings(mode, image_size, crop_size, mean_image, batch_size, shuffle, seed):
    """Checks the arguments shared by the paper's pipelines.

    Args:
        mode, image_size, crop_size, mean_image, batch_size, shuffle, seed:
            as for `preprocess_dataset`.

    Returns:
        `PipelineSettings`, with ints normalised and ``shuffle`` resolved
        (None means True in ``"train"`` mode only).

    Raises:
        TypeError, ValueError: naming the argument and the value received.
    """
    mode = one_of(mode, "mode", MODES)
    image_size, crop_size = check_crop_sizes(image_size, crop_size)
    if batch_size is not None:
        batch_size = positive_int(batch_size, "batch_size")
    if mean_image is not None:
        mean_image = np.asarray(mean_image, np.float32)
        if mean_image.ndim != 3 or mean_image.shape[:2] != (image_size, image_size):
            raise InputError(
                f"mean_image has shape {mean_image.shape}, expected ({image_size}, {image_size}, C); "
                f"compute it with compute_mean_image(..., image_size={image_size})"
            )
    shuffle = mode == "train" if shuffle is None else bool(shuffle)
    return PipelineSettings(mode, image_size, crop_size, mean_image, batch_size, shuffle, seed)


def paper_pipeline(examples, shuffle_buffer, to_image, settings, channels=CHANNELS):
    """Shuffles, decodes, normalises, crops and batches ``(x, label)`` pairs.

    Args:
        examples: unbatched dataset of ``(x, label)``.
        shuffle_buffer: examples held by the shuffle buffer.
        to_image: maps ``x`` (a path, bytes or an image) to an image tensor.
        settings: `PipelineSettings`.
        channels: the images' channels (None if unknown).

    Returns:
        `tf.data.Dataset` of ``(images, labels)``.
    """
    mean = settings.mean_image
    if mean is not None and channels is not None and mean.shape[2] != channels:
        raise InputError(
            f"mean_image has {mean.shape[2]} channels but the images have {channels}; "
            "compute the mean image over the same images"
        )
    if settings.shuffle:
        # Shuffling before decoding keeps the buffer small (paths or bytes).
        examples = examples.shuffle(shuffle_buffer, seed=settings.seed, reshuffle_each_iteration=True)

    def prepare(x, label):
        image = resize_and_center_crop(to_image(x), settings.image_size)
        return (image if mean is None else image - mean), label

    if settings.mode == "train":
        # One of the 10 crops per example, drawn from a seeded stream that
        # changes every epoch.
        crop_index = tf.data.Dataset.random(seed=settings.seed, rerandomize_each_iteration=True)
        examples = tf.data.Dataset.zip((examples, crop_index))

        def transform(example, random_value):
            image, label = prepare(*example)
            return ten_crop_at(image, settings.crop_size, random_value % NUM_CROPS), label

    elif settings.mode == "center":

        def transform(x, label):
            image, label = prepare(x, label)
            return center_crop(image, settings.crop_size), label

    else:
        transform = prepare
    data = examples.map(transform, num_parallel_calls=parallel_calls())
    if settings.batch_size is not None:
        data = data.batch(settings.batch_size)
    return finish(data)


def preprocess_dataset(dataset, mode="train", image_size=256, crop_size=224, mean_image=None,
                       batch_size=32, shuffle=None, seed=None, shuffle_buffer=1024):
    """Applies the paper's preprocessing to a dataset of decoded images.

    Args:
        dataset: unbatched `tf.data.Dataset` of ``(image, label)`` pairs
            (e.g. from `tfds_dataset`), images ``(H, W, C)`` of any size.
        mode: ``"train"``: one random crop of the 10 per example;
            ``"center"``: the centre crop; ``"full"``: the whole
            ``image_size`` square (the input of `predict_ten_crop`).
        image_size: side after resize and centre crop (256 in the paper).
        crop_size: side of the sub-crops (224 in the paper).
        mean_image: ``(image_size, image_size, C)`` array (from
            `compute_mean_image` over the training split) subtracted from
            every image, or None to leave pixels in ``[0, 255]``.
        batch_size: examples per batch, or None for single examples.
        shuffle: reshuffle every epoch; default True in ``"train"`` mode only.
        seed: seed for the shuffle and the crop choice.
        shuffle_buffer: examples held by the shuffle buffer (decoded images
            are large, so the buffer is bounded).

    Returns:
        `tf.data.Dataset` of ``(images, labels)`` batches.

    Raises:
        TypeError, ValueError: bad arguments or elements that are not
            unbatched ``(image, label)`` pairs.
    """
    settings = pipeline_settings(mode, image_size, crop_size, mean_image, batch_size, shuffle, seed)
    shuffle_buffer = positive_int(shuffle_buffer, "shuffle_buffer")
    spec = getattr(dataset, "element_spec", None)
    if not isinstance(spec, (tuple, list)) or len(spec) != 2:
        raise InputError(
            "preprocess_dataset expects a tf.data.Dataset of (image, label) pairs, e.g. "
            f"tfds as_supervised=True; got elements {spec}"
        )
    if spec[0].shape.rank != 3:
        raise InputError(
            f"preprocess_dataset expects unbatched (H, W, C) images, got {spec[0].shape}; "
            "call .unbatch() first"
        )
    return paper_pipeline(dataset, shuffle_buffer, tf.identity, settings, channels=spec[0].shape[-1])
