"""The per-pixel mean image of a training split, and its file in a run.

Zeiler & Fergus (Sec. 3) subtract "the per-pixel mean (across all images)"
from every resized, centre-cropped image. It is computed once over the
training split and kept in the run folder as ``mean_image.npy``.
"""

import functools
import os

import numpy as np
import tensorflow as tf

from zfkeras.utils.atomic import atomic_path
from zfkeras.data.files import decodable_files
from zfkeras.data.files import list_image_files
from zfkeras.data.pipeline import finish, parallel_calls
from zfkeras.data.transforms import read_image
from zfkeras.data.transforms import resize_and_center_crop
from zfkeras.utils.progress import progress_bar
from zfkeras.runs.layout import MEAN_IMAGE
from zfkeras.utils.validation import positive_int
from zfkeras.utils.errors import InputError, MissingInputError

# verbose="auto" shows a progress bar above this many images.
AUTO_PROGRESS_IMAGES = 2000


def _dataset_images(dataset):
    """The unbatched images of a dataset of images, pairs or dicts."""
    spec = dataset.element_spec
    if isinstance(spec, dict):
        if "image" not in spec:
            raise InputError(
                f"dataset elements are dicts without an 'image' key (keys: {list(spec)}); "
                "map them to images first"
            )
        images = dataset.map(lambda element: element["image"])
    elif isinstance(spec, (tuple, list)):
        images = dataset.map(lambda *element: element[0])
    else:
        images = dataset
    rank = images.element_spec.shape.rank
    if rank == 4:
        return images.unbatch()
    if rank != 3:
        raise InputError(
            f"dataset images must be (H, W, C) or batches (B, H, W, C), "
            f"got shape {images.element_spec.shape}"
        )
    return images


def _file_images(source, verbose):
    """The images of a folder or a list of paths, bad files left out."""
    if isinstance(source, (str, os.PathLike)):
        where = os.fspath(source)
        paths, _, _ = list_image_files(source)
    else:
        where = "the given image files"
        paths = [os.fspath(p) for p in source]
        if not paths:
            raise InputError("compute_mean_image got an empty list of paths; pass the training images")
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise MissingInputError(f"Image files not found: {missing}")
    paths, _, _ = decodable_files(paths, where=where, verbose=verbose)
    return tf.data.Dataset.from_tensor_slices(paths).map(read_image, num_parallel_calls=parallel_calls()), len(paths)


def compute_mean_image(source, image_size=256, batch_size=32, verbose="auto"):
    """Computes the per-pixel mean image of a training split.

    Every image is resized (shortest side ``image_size``) and centre-cropped
    first, exactly as the pipelines do before subtracting the mean.

    Args:
        source: a folder ``root/<class>/<image>``, a list of image paths, or
            a `tf.data.Dataset` of images, ``(image, label)`` pairs or dicts
            with an ``"image"`` key (unbatched or batched).
        image_size: side of the centre crop (256 in the paper).
        batch_size: images processed per step.
        verbose: 0, 1 (a progress bar) or "auto": a bar over more than
            2,000 images (and while more than 2,000 files are checked).

    Returns:
        float32 numpy array ``(image_size, image_size, C)``; C is 3 for image
        files (decoded as RGB), the images' channels for a dataset.

    Raises:
        TypeError, ValueError: bad sizes, an empty source or one without
            images; FileNotFoundError: missing files.
    """
    image_size = positive_int(image_size, "image_size")
    batch_size = positive_int(batch_size, "batch_size")
    if isinstance(source, tf.data.Dataset):
        images = _dataset_images(source)
        count = int(images.cardinality())
        total_images = count if count >= 0 else None
    else:
        images, total_images = _file_images(source, verbose)
    batches = finish(
        images.map(functools.partial(resize_and_center_crop, image_size=image_size),
                   num_parallel_calls=parallel_calls())
        .batch(batch_size)
    )
    progress = progress_bar(total_images, verbose, "image", AUTO_PROGRESS_IMAGES)
    total, count = None, 0
    for batch in batches.as_numpy_iterator():
        # float64 sums: a float32 running sum over a million images loses
        # the low bits of the mean.
        batch_sum = batch.astype(np.float64).sum(axis=0)
        total = batch_sum if total is None else total + batch_sum
        count += len(batch)
        if progress is not None:
            progress.add(len(batch))
    if count == 0:
        raise InputError("compute_mean_image: the source holds no images")
    return (total / count).astype(np.float32)


def mean_image_path(run_dir):
    """Returns where a run folder keeps its mean image."""
    return os.path.join(os.fspath(run_dir), MEAN_IMAGE)


def save_mean_image(mean_image, run_dir):
    """Saves a mean image as ``<run_dir>/mean_image.npy``, atomically.

    Args:
        mean_image: ``(H, W, C)`` array.
        run_dir: run folder (created if missing).

    Returns:
        Path of the written file.

    Raises:
        ValueError: ``mean_image`` is not ``(H, W, C)``.
    """
    mean_image = np.asarray(mean_image, np.float32)
    if mean_image.ndim != 3:
        raise InputError(f"mean image must be (H, W, C), got shape {mean_image.shape}")
    path = mean_image_path(run_dir)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, mean_image)
    return path


def load_mean_image(run_dir, image_size=None):
    """Loads ``<run_dir>/mean_image.npy``.

    Args:
        run_dir: run folder.
        image_size: if given, the side the mean image must have.

    Returns:
        float32 numpy array ``(H, W, C)``.

    Raises:
        FileNotFoundError: the run folder has no mean image.
        ValueError: the file is not a mean image of the expected size.
    """
    path = mean_image_path(run_dir)
    if not os.path.isfile(path):
        raise MissingInputError(
            f"No mean image at {path}; compute it over the training split with "
            "compute_mean_image() and save it with save_mean_image()"
        )
    try:
        mean_image = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"{path} is not a readable .npy file ({error}); delete it to recompute it") from None
    if mean_image.ndim != 3:
        raise InputError(f"{path}: expected an (H, W, C) mean image, got shape {mean_image.shape}")
    if image_size is not None and mean_image.shape[:2] != (image_size, image_size):
        raise InputError(
            f"{path} is a {mean_image.shape[0]}x{mean_image.shape[1]} mean image, "
            f"but image_size is {image_size}"
        )
    return mean_image.astype(np.float32)


def mean_image_for_run(run_dir, source, image_size=256, verbose="auto"):
    """Loads the run's mean image, computing and saving it the first time.

    Args:
        run_dir: run folder.
        source: the training split, as for `compute_mean_image`.
        image_size: side of the centre crop.
        verbose: as for `compute_mean_image`.

    Returns:
        float32 numpy array ``(image_size, image_size, C)``.
    """
    if os.path.isfile(mean_image_path(run_dir)):
        return load_mean_image(run_dir, image_size)
    mean_image = compute_mean_image(source, image_size, verbose=verbose)
    save_mean_image(mean_image, run_dir)
    return mean_image
