"""The paper's ImageNet preprocessing, for any folder or TFDS image data.

Zeiler & Fergus (Sec. 3): resize each image so that its shortest side is
256, crop the central 256x256 region, subtract the per-pixel mean image
(computed once over the training split), then use 224x224 sub-crops: the 4
corners and the centre, each with and without a horizontal flip. Training
takes one of those 10 crops at random per example; evaluation averages the
predictions over all 10 (`predict_ten_crop`).

Sources:

* a plain folder ``root/<class>/<image>`` (`image_folder_dataset`),
* `tfds.folder_dataset.ImageFolder`'s ``root/<split>/<class>/<image>``
  (`tfds_image_folder_dataset`),
* any prepared TFDS dataset, or one TFDS can prepare from archives the user
  has placed in a ``manual_dir`` (`tfds_dataset`, then `preprocess_dataset`).

Image files that cannot be decoded are found once, when a folder dataset is
built, and excluded; a `BadFileReport` names each of them with the reason
(also issued as a warning), so an epoch never stops on a broken file and no
file disappears without a word.
"""

import dataclasses
import functools
import os
import re
import warnings

import numpy as np
import tensorflow as tf

from zfkeras.data.pipeline import dataset_options
from zfkeras.data.pipeline import is_positive_int

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
MEAN_IMAGE_FILENAME = "mean_image.npy"
MODES = ("train", "center", "full")
NUM_CROPS = 10
# ZFNet takes RGB input; grey, palette and RGBA files are converted to it.
CHANNELS = 3


# ---------------------------------------------------------------------------
# Decoding and the per-image transforms.


def decode_image(contents):
    """Decodes JPEG, PNG, BMP or GIF bytes to an RGB image.

    Args:
        contents: scalar string tensor, the bytes of an image file.

    Returns:
        uint8 tensor ``(H, W, 3)``; for an animated GIF, its first frame.
    """
    image = tf.io.decode_image(contents, channels=CHANNELS, expand_animations=False)
    image.set_shape((None, None, CHANNELS))
    return image


def resize_shortest_side(image, size):
    """Resizes an image so that its shorter side is ``size`` pixels.

    The aspect ratio is kept (the longer side is rounded to the nearest
    pixel). An image whose shorter side already is ``size`` is returned
    unchanged.

    Args:
        image: ``(H, W, C)`` tensor.
        size: length of the shorter side after resizing.

    Returns:
        float32 tensor ``(H', W', C)`` with ``min(H', W') == size``.
    """
    image = tf.convert_to_tensor(image)
    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    shorter = tf.minimum(height, width)
    scale = tf.cast(size, tf.float64) / tf.cast(shorter, tf.float64)
    new_height = tf.where(
        height == shorter, size, tf.cast(tf.round(tf.cast(height, tf.float64) * scale), tf.int32)
    )
    new_width = tf.where(
        width == shorter, size, tf.cast(tf.round(tf.cast(width, tf.float64) * scale), tf.int32)
    )
    return tf.cond(
        shorter == size,
        lambda: image,
        # Antialiasing matters when large photos are shrunk to 256.
        lambda: tf.image.resize(image, tf.stack([new_height, new_width]), antialias=True),
    )


def center_crop(image, size):
    """Crops the central ``size x size`` square of an image.

    Args:
        image: ``(H, W, C)`` tensor with ``H, W >= size``.
        size: side of the square.

    Returns:
        ``(size, size, C)`` tensor.
    """
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return image[top : top + size, left : left + size, :]


def resize_and_center_crop(image, image_size=256):
    """The paper's first step: shortest side to ``image_size``, central square.

    Args:
        image: ``(H, W, C)`` image tensor of any size.
        image_size: side of the output square (256 in the paper).

    Returns:
        float32 tensor ``(image_size, image_size, C)``.
    """
    image = center_crop(resize_shortest_side(image, image_size), image_size)
    image.set_shape((image_size, image_size, image.shape[-1]))
    return image


def crop_offsets(height, width, crop_size):
    """Returns the (top, left) corners of the five crop positions.

    Args:
        height: image height.
        width: image width.
        crop_size: side of the square crop.

    Returns:
        List of five ``(top, left)`` pairs: top-left, top-right, bottom-left,
        bottom-right, centre.
    """
    bottom, right = height - crop_size, width - crop_size
    return [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]


def ten_crops(images, crop_size=224):
    """The paper's 10 crops: 4 corners and centre, each also flipped.

    Args:
        images: ``(H, W, C)`` image or ``(B, H, W, C)`` batch.
        crop_size: side of the square crops (224 in the paper).

    Returns:
        ``(10, crop_size, crop_size, C)`` (or ``(B, 10, ...)`` for a batch):
        crops 0-4 are top-left, top-right, bottom-left, bottom-right and
        centre; crops 5-9 are the same crops flipped left-right.
    """
    images = tf.convert_to_tensor(images)
    batched = images.shape.rank == 4
    if not batched:
        images = images[tf.newaxis]
    _check_crop_fits(images.shape[1], images.shape[2], crop_size)
    shape = tf.shape(images)
    crops = [
        images[:, top : top + crop_size, left : left + crop_size, :]
        for top, left in crop_offsets(shape[1], shape[2], crop_size)
    ]
    crops += [tf.reverse(crop, axis=[2]) for crop in crops]
    crops = tf.stack(crops, axis=1)
    return crops if batched else crops[0]


def crop_of_ten(image, crop_size, index):
    """Returns crop number ``index`` of `ten_crops` of one image.

    Args:
        image: ``(H, W, C)`` tensor.
        crop_size: side of the square crop.
        index: integer (or int tensor) in ``[0, 10)``, numbered as in
            `ten_crops`.

    Returns:
        ``(crop_size, crop_size, C)`` tensor.
    """
    index = tf.convert_to_tensor(index, tf.int64)
    shape = tf.shape(image, out_type=tf.int64)
    offsets = tf.convert_to_tensor(
        [
            tf.stack([tf.cast(top, tf.int64), tf.cast(left, tf.int64)])
            for top, left in crop_offsets(shape[0], shape[1], crop_size)
        ]
    )
    top_left = offsets[index % 5]
    begin = tf.concat([top_left, tf.zeros([1], tf.int64)], axis=0)
    crop = tf.slice(image, begin, tf.constant([crop_size, crop_size, -1], tf.int64))
    return tf.cond(index >= 5, lambda: tf.reverse(crop, axis=[1]), lambda: crop)


def _check_crop_fits(height, width, crop_size):
    if height is not None and width is not None and min(height, width) < crop_size:
        raise ValueError(
            f"crop_size {crop_size} is larger than the {height}x{width} images"
        )


def _check_sizes(image_size, crop_size, batch_size=1):
    for name, value in [("image_size", image_size), ("crop_size", crop_size)]:
        if not is_positive_int(value):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if batch_size is not None and not is_positive_int(batch_size):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    if crop_size > image_size:
        raise ValueError(
            f"crop_size ({crop_size}) must not exceed image_size ({image_size})"
        )


# ---------------------------------------------------------------------------
# Listing and checking image files.


@dataclasses.dataclass
class BadFileReport:
    """Image files that could not be decoded, and why.

    Attributes:
        num_checked: number of files checked.
        bad_files: list of ``(path, reason)`` pairs, in listing order.
    """

    num_checked: int = 0
    bad_files: list = dataclasses.field(default_factory=list)

    @property
    def paths(self):
        """The paths of the bad files."""
        return [path for path, _ in self.bad_files]

    @property
    def num_bad(self):
        return len(self.bad_files)

    def __str__(self):
        if not self.bad_files:
            return f"All {self.num_checked} image files decode."
        lines = [
            f"{self.num_bad} of {self.num_checked} image files cannot be decoded "
            "and are left out:"
        ]
        lines += [f"  {path}: {reason}" for path, reason in self.bad_files]
        return "\n".join(lines)


def list_image_files(root, class_names=None):
    """Lists the images of a ``root/<class>/.../<image>`` folder.

    Files are found recursively under each class folder, in sorted order;
    files and folders whose name starts with ``.`` and files without an image
    extension (`IMAGE_EXTENSIONS`, any case) are skipped.

    Args:
        root: folder holding one sub-folder per class.
        class_names: optional list of class names fixing the label order
            (e.g. the training split's, for a validation split that lacks a
            class). Default: the sub-folder names, sorted.

    Returns:
        ``(paths, labels, class_names)``: list of file paths, int64 numpy
        array of labels indexing ``class_names``, list of class names.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
        ValueError: no class sub-folders, a sub-folder missing from
            ``class_names``, or no image files at all.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Image folder {root!r} does not exist or is not a folder")
    folders = sorted(
        name
        for name in os.listdir(root)
        if not name.startswith(".") and os.path.isdir(os.path.join(root, name))
    )
    if not folders:
        raise ValueError(
            f"{root} has no class sub-folders; expected the layout "
            f"{os.path.join(root, '<class>', '<image>.jpg')}"
        )
    if class_names is None:
        class_names = folders
    else:
        class_names = [str(name) for name in class_names]
        unknown = [name for name in folders if name not in class_names]
        if unknown:
            raise ValueError(
                f"{root} has class folders {unknown} that are not in class_names"
            )
    paths, labels = [], []
    for label, name in enumerate(class_names):
        class_dir = os.path.join(root, name)
        if not os.path.isdir(class_dir):
            continue  # A split may lack a class; its label index stays reserved.
        for dirpath, dirnames, filenames in os.walk(class_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith("."):
                    continue
                if os.path.splitext(filename)[1].lower() in IMAGE_EXTENSIONS:
                    paths.append(os.path.join(dirpath, filename))
                    labels.append(label)
    if not paths:
        raise ValueError(
            f"No image files ({', '.join(IMAGE_EXTENSIONS)}) under the class folders of {root}"
        )
    return paths, np.asarray(labels, np.int64), list(class_names)


def _decode_error_message(error):
    # Eager TF errors carry the op's wrapper name and op name around the
    # message; keep only the sentence that says what is wrong with the file.
    message = getattr(error, "message", None) or str(error)
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    message = re.sub(r"\s*\[Op:\w+\].*$", "", message, flags=re.S)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__


def _decoded_shape(path):
    return path, tf.shape(decode_image(tf.io.read_file(path)))


def check_image_files(paths):
    """Decodes every file once and reports the ones that fail.

    The files are decoded with the same decoder the pipelines use, so a file
    that passes here does not stop an epoch later.

    Args:
        paths: list of image file paths.

    Returns:
        `BadFileReport` listing the files that cannot be read or decoded.
    """
    paths = [os.fspath(p) for p in paths]
    report = BadFileReport(num_checked=len(paths))
    if not paths:
        return report
    # Decode in parallel and let tf.data drop the failures; the files that
    # did not come out are the bad ones. Only those are decoded again,
    # eagerly, to get the reason.
    checked = (
        tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
        .map(_decoded_shape, num_parallel_calls=2, deterministic=False)
        .ignore_errors()
    )
    good = {os.fsdecode(path) for path, _ in checked.as_numpy_iterator()}
    for path in paths:
        if path in good:
            continue
        try:
            decode_image(tf.io.read_file(path))
            reason = "decoding failed during the check"
        except tf.errors.OpError as error:
            reason = _decode_error_message(error)
        report.bad_files.append((path, reason))
    return report


def _warn_bad_files(report, max_listed=20):
    if not report.bad_files:
        return
    listed = BadFileReport(report.num_checked, report.bad_files[:max_listed])
    message = str(listed)
    if report.num_bad > max_listed:
        message += f"\n  ... and {report.num_bad - max_listed} more (see the dataset's .report)"
    warnings.warn(message, stacklevel=3)


# ---------------------------------------------------------------------------
# Mean image.


def _as_image_dataset(source):
    """Turns a folder, a list of paths or a dataset into unbatched images."""
    if isinstance(source, tf.data.Dataset):
        spec = source.element_spec
        if isinstance(spec, dict):
            if "image" not in spec:
                raise ValueError(
                    f"dataset elements are dicts without an 'image' key: {list(spec)}"
                )
            images = source.map(lambda element: element["image"])
        elif isinstance(spec, (tuple, list)):
            images = source.map(lambda *element: element[0])
        else:
            images = source
        rank = images.element_spec.shape.rank
        if rank == 4:
            images = images.unbatch()
        elif rank != 3:
            raise ValueError(
                f"dataset images must be (H, W, C) or batches (B, H, W, C), "
                f"got shape {images.element_spec.shape}"
            )
        return images, None
    if isinstance(source, (str, os.PathLike)):
        paths, _, _ = list_image_files(source)
    else:
        paths = [os.fspath(p) for p in source]
        if not paths:
            raise ValueError("compute_mean_image got an empty list of paths")
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"Image files not found: {missing}")
    report = check_image_files(paths)
    _warn_bad_files(report)
    bad = set(report.paths)
    paths = [p for p in paths if p not in bad]
    if not paths:
        raise ValueError(f"None of the image files can be decoded.\n{report}")
    images = tf.data.Dataset.from_tensor_slices(paths).map(
        lambda path: decode_image(tf.io.read_file(path))
    )
    return images, report


def compute_mean_image(source, image_size=256, batch_size=32):
    """Computes the per-pixel mean image of a training split.

    Every image is resized (shortest side ``image_size``) and centre-cropped
    first, exactly as the pipelines do before subtracting the mean.

    Args:
        source: a folder ``root/<class>/<image>``, a list of image paths, or
            a `tf.data.Dataset` of images, ``(image, label)`` pairs or dicts
            with an ``"image"`` key (unbatched or batched).
        image_size: side of the centre crop (256 in the paper).
        batch_size: images processed per step.

    Returns:
        float32 numpy array ``(image_size, image_size, C)``; C is 3 for image
        files (decoded as RGB), the images' channels for a dataset.
    """
    _check_sizes(image_size, 1)
    if not is_positive_int(batch_size):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    images, _ = _as_image_dataset(source)
    images = (
        images.map(functools.partial(resize_and_center_crop, image_size=image_size))
        .batch(batch_size)
        .with_options(dataset_options())
        .prefetch(1)
    )
    total, count = None, 0
    for batch in images.as_numpy_iterator():
        batch_sum = batch.astype(np.float64).sum(axis=0)
        total = batch_sum if total is None else total + batch_sum
        count += len(batch)
    if count == 0:
        raise ValueError("compute_mean_image: the source holds no images")
    return (total / count).astype(np.float32)


def mean_image_path(run_dir):
    """Returns where a run folder keeps its mean image."""
    return os.path.join(os.fspath(run_dir), MEAN_IMAGE_FILENAME)


def save_mean_image(mean_image, run_dir):
    """Saves a mean image as ``<run_dir>/mean_image.npy``.

    Args:
        mean_image: ``(H, W, C)`` array.
        run_dir: run folder (created if missing).

    Returns:
        Path of the written file.
    """
    mean_image = np.asarray(mean_image, np.float32)
    if mean_image.ndim != 3:
        raise ValueError(f"mean image must be (H, W, C), got shape {mean_image.shape}")
    os.makedirs(os.fspath(run_dir), exist_ok=True)
    path = mean_image_path(run_dir)
    np.save(path, mean_image)
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
        raise FileNotFoundError(
            f"No mean image at {path}; compute it over the training split with "
            "compute_mean_image() and save it with save_mean_image()"
        )
    try:
        mean_image = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path} is not a readable .npy file ({error})") from None
    if mean_image.ndim != 3:
        raise ValueError(f"{path}: expected an (H, W, C) mean image, got shape {mean_image.shape}")
    if image_size is not None and mean_image.shape[:2] != (image_size, image_size):
        raise ValueError(
            f"{path} is a {mean_image.shape[0]}x{mean_image.shape[1]} mean image, "
            f"but image_size is {image_size}"
        )
    return mean_image.astype(np.float32)


def mean_image_for_run(run_dir, source, image_size=256):
    """Loads the run's mean image, computing and saving it the first time.

    Args:
        run_dir: run folder.
        source: the training split, as for `compute_mean_image`.
        image_size: side of the centre crop.

    Returns:
        float32 numpy array ``(image_size, image_size, 3)``.
    """
    if os.path.isfile(mean_image_path(run_dir)):
        return load_mean_image(run_dir, image_size)
    mean_image = compute_mean_image(source, image_size)
    save_mean_image(mean_image, run_dir)
    return mean_image


# ---------------------------------------------------------------------------
# Pipelines.


def _check_mode(mode):
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def _check_mean_image(mean_image, image_size, channels):
    if mean_image is None:
        return None
    mean_image = np.asarray(mean_image, np.float32)
    expected = (image_size, image_size, channels)
    if mean_image.ndim != 3 or mean_image.shape[:2] != expected[:2] or (
        channels is not None and mean_image.shape[2] != channels
    ):
        raise ValueError(
            f"mean_image has shape {mean_image.shape}, expected "
            f"{expected} (image_size={image_size})"
        )
    return tf.constant(mean_image)


def _paper_pipeline(
    examples,
    num_examples,
    to_image,
    mode,
    image_size,
    crop_size,
    mean_image,
    batch_size,
    shuffle,
    seed,
    channels=CHANNELS,
):
    """Shuffles, decodes, normalises, crops and batches ``(x, label)`` pairs."""
    _check_mode(mode)
    _check_sizes(image_size, crop_size, batch_size)
    mean = _check_mean_image(mean_image, image_size, channels)
    if shuffle is None:
        shuffle = mode == "train"
    if shuffle:
        # Shuffling before decoding keeps the buffer small (paths or bytes).
        examples = examples.shuffle(num_examples, seed=seed, reshuffle_each_iteration=True)

    def prepare(x, label):
        image = resize_and_center_crop(to_image(x), image_size)
        if mean is not None:
            image = image - mean
        return image, label

    if mode == "train":
        # One of the 10 crops per example, drawn from a seeded stream that
        # changes every epoch.
        crop_index = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        examples = tf.data.Dataset.zip((examples, crop_index))

        def transform(example, random_value):
            image, label = prepare(*example)
            return crop_of_ten(image, crop_size, random_value % NUM_CROPS), label

    elif mode == "center":

        def transform(x, label):
            image, label = prepare(x, label)
            return center_crop(image, crop_size), label

    else:
        transform = prepare
    data = examples.map(transform)
    if batch_size is not None:
        data = data.batch(int(batch_size))
    return data.with_options(dataset_options()).prefetch(1)


def _read_and_decode(path):
    return decode_image(tf.io.read_file(path))


def image_folder_dataset(
    root,
    mode="train",
    image_size=256,
    crop_size=224,
    mean_image=None,
    batch_size=32,
    shuffle=None,
    seed=None,
    class_names=None,
    validate=True,
):
    """Builds the paper's pipeline over a ``root/<class>/<image>`` folder.

    Args:
        root: folder with one sub-folder per class (labels follow the sorted
            folder names, or ``class_names``).
        mode: ``"train"``: one random crop of the 10 per example;
            ``"center"``: the centre crop; ``"full"``: the whole
            ``image_size`` square (the input of `predict_ten_crop`).
        image_size: side after resize and centre crop (256 in the paper).
        crop_size: side of the sub-crops (224 in the paper).
        mean_image: ``(image_size, image_size, 3)`` array (from
            `compute_mean_image` over the training split) subtracted from
            every image, or None to leave pixels in ``[0, 255]``.
        batch_size: examples per batch, or None for single examples.
        shuffle: reshuffle the files every epoch; default True in ``"train"``
            mode only.
        seed: seed for the shuffle and the crop choice.
        class_names: optional label order, see `list_image_files`.
        validate: decode every file once first and leave out the ones that
            fail (see `check_image_files`). With False a broken file stops
            iteration with a TensorFlow error. A `BadFileReport` from an
            earlier call over the same ``root`` is reused instead of
            decoding every file again.

    Returns:
        `tf.data.Dataset` of ``(images, labels)`` (float32, int64), with the
        attributes ``class_names``, ``file_paths`` (the files used, in
        listing order) and ``report`` (a `BadFileReport`; None when
        ``validate`` is False).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: bad arguments, no images, or no image that decodes.
    """
    _check_mode(mode)
    _check_sizes(image_size, crop_size, batch_size)
    paths, labels, class_names = list_image_files(root, class_names)
    report = None
    if isinstance(validate, BadFileReport):
        report = validate  # already checked (and warned about) once
    elif validate:
        report = check_image_files(paths)
        _warn_bad_files(report)
    if report is not None:
        if report.bad_files:
            bad = set(report.paths)
            keep = [i for i, path in enumerate(paths) if path not in bad]
            if not keep:
                raise ValueError(f"No image under {root} can be decoded.\n{report}")
            paths = [paths[i] for i in keep]
            labels = labels[keep]
    examples = tf.data.Dataset.from_tensor_slices((paths, labels))
    data = _paper_pipeline(
        examples,
        len(paths),
        _read_and_decode,
        mode,
        image_size,
        crop_size,
        mean_image,
        batch_size,
        shuffle,
        seed,
    )
    data.class_names = class_names
    data.file_paths = paths
    data.report = report
    return data


def preprocess_dataset(
    dataset,
    mode="train",
    image_size=256,
    crop_size=224,
    mean_image=None,
    batch_size=32,
    shuffle=None,
    seed=None,
    shuffle_buffer=1024,
):
    """Applies the paper's preprocessing to a dataset of decoded images.

    Args:
        dataset: unbatched `tf.data.Dataset` of ``(image, label)`` pairs
            (e.g. from `tfds_dataset`), images ``(H, W, C)`` of any size.
        mode, image_size, crop_size, mean_image, batch_size, shuffle, seed:
            as for `image_folder_dataset`.
        shuffle_buffer: examples held by the shuffle buffer (decoded images
            are large, so the buffer is bounded).

    Returns:
        `tf.data.Dataset` of ``(images, labels)`` batches.
    """
    spec = dataset.element_spec
    if not isinstance(spec, (tuple, list)) or len(spec) != 2:
        raise ValueError(
            "preprocess_dataset expects (image, label) pairs, e.g. "
            f"tfds as_supervised=True; got elements {spec}"
        )
    if spec[0].shape.rank != 3:
        raise ValueError(
            f"preprocess_dataset expects unbatched (H, W, C) images, got {spec[0].shape}"
        )
    return _paper_pipeline(
        dataset,
        shuffle_buffer,
        lambda image: image,
        mode,
        image_size,
        crop_size,
        mean_image,
        batch_size,
        shuffle,
        seed,
        channels=spec[0].shape[-1],
    )


# ---------------------------------------------------------------------------
# TFDS sources.


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            "tensorflow-datasets is needed for TFDS sources: "
            "pip install tensorflow-datasets importlib_resources"
        ) from None
    return tfds


def tfds_image_folder_dataset(
    root,
    split,
    mode="train",
    image_size=256,
    crop_size=224,
    mean_image=None,
    batch_size=32,
    shuffle=None,
    seed=None,
    validate=True,
):
    """The paper's pipeline over a `tfds.folder_dataset.ImageFolder`.

    TFDS lists ``root/<split>/<class>/<image>`` (``.jpg``, ``.jpeg``,
    ``.png``) and gives the labels (class names sorted over all splits);
    the images are decoded here, with the same checks as
    `image_folder_dataset`.

    Args:
        root: folder holding one sub-folder per split.
        split: split name, e.g. ``"train"``.
        mode, image_size, crop_size, mean_image, batch_size, seed, validate:
            as for `image_folder_dataset`.
        shuffle: reshuffle every epoch (TFDS' full file-level shuffle, which
            follows the global seed `tf.random.set_seed`, not ``seed``).

    Returns:
        `tf.data.Dataset` of ``(images, labels)`` with attributes
        ``class_names``, ``file_paths`` (None when ``validate`` is False)
        and ``report``.
    """
    _check_mode(mode)
    _check_sizes(image_size, crop_size, batch_size)
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Image folder {root!r} does not exist or is not a folder")
    tfds = _import_tfds()
    builder = tfds.folder_dataset.ImageFolder(root)
    splits = list(builder.info.splits.keys())
    if split not in splits:
        raise ValueError(
            f"{root} has no split {split!r} (found {splits}); expected the layout "
            f"{os.path.join(root, '<split>', '<class>', '<image>.jpg')}"
        )
    if shuffle is None:
        shuffle = mode == "train"
    raw = builder.as_dataset(
        split=split,
        shuffle_files=bool(shuffle),
        decoders={"image": tfds.decode.SkipDecoding()},
    )
    report, paths = None, None
    if validate:
        listing = builder.as_dataset(
            split=split, decoders={"image": tfds.decode.SkipDecoding()}
        ).map(lambda example: example["image/filename"])
        paths = sorted(os.fsdecode(p) for p in listing.as_numpy_iterator())
        report = check_image_files(paths)
        _warn_bad_files(report)
        if report.bad_files:
            if report.num_bad == len(paths):
                raise ValueError(f"No image of split {split!r} can be decoded.\n{report}")
            bad_paths = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(report.paths, tf.string),
                    tf.ones(report.num_bad, tf.int32),
                ),
                default_value=0,
            )
            raw = raw.filter(lambda example: bad_paths.lookup(example["image/filename"]) == 0)
            bad = set(report.paths)
            paths = [p for p in paths if p not in bad]
    examples = raw.map(lambda example: (example["image"], example["label"]))
    data = _paper_pipeline(
        examples,
        1,  # TFDS already shuffled the files, when asked to.
        decode_image,
        mode,
        image_size,
        crop_size,
        mean_image,
        batch_size,
        False,
        seed,
    )
    data.class_names = list(builder.info.features["label"].names)
    data.file_paths = paths
    data.report = report
    return data


def _archive_hint(builder, manual_dir=None):
    """Says which files to put where so TFDS can prepare ``builder`` offline."""
    place = manual_dir or "a folder"
    instructions = getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None)
    if instructions:
        return (
            f"To prepare it, put the archives in {place} and pass manual_dir= "
            f"(TFDS' instructions):\n  {instructions.strip()}"
        )
    names = sorted(
        {
            info.filename or os.path.basename(url.split("?")[0])
            for url, info in (builder.url_infos or {}).items()
        }
    )
    if names:
        return (
            f"To prepare it, download its archive elsewhere (TFDS knows it as: "
            f"{', '.join(names)}), put it in {place} and pass manual_dir="
        )
    return f"To prepare it, put its source files in {place} and pass manual_dir="


class DownloadRefusedError(FileNotFoundError):
    """TFDS wanted to download a file that is not in manual_dir."""


def _refuse_download(resource, *, name, manual_dir, url_infos):
    """Stands in for TFDS' downloader: no network access at run time."""
    url = resource.url
    info = url_infos.get(url)
    filename = (info.filename if info else None) or os.path.basename(url.split("?")[0])
    raise DownloadRefusedError(
        f"TFDS dataset {name!r} needs {url}, which is not in manual_dir and "
        f"will not be downloaded. Download it elsewhere and save it as "
        f"{os.path.join(os.fspath(manual_dir), filename)}"
    )


def tfds_dataset(name, split, data_dir=None, manual_dir=None):
    """Loads a TFDS dataset without touching the network.

    With ``manual_dir``, the dataset is first prepared from the archives
    placed there (e.g. ``imagenet2012``: ``ILSVRC2012_img_train.tar`` and
    ``ILSVRC2012_img_val.tar``; ``caltech101``: ``caltech-101.zip``);
    anything TFDS would download instead raises FileNotFoundError. Without
    it, the dataset must already be prepared in ``data_dir``.

    Args:
        name: TFDS name, e.g. ``"imagenet2012"`` or ``"caltech101"``.
        split: split, e.g. ``"train"`` or ``"validation"``.
        data_dir: TFDS data folder (default ``~/tensorflow_datasets``).
        manual_dir: folder holding the manually downloaded archives.

    Returns:
        `tf.data.Dataset` of ``(image, label)`` pairs (as_supervised), with
        the attribute ``class_names`` (None if the labels have no names).
        Feed it to `preprocess_dataset`.

    Raises:
        ValueError: unknown dataset name or split.
        FileNotFoundError: the data is neither prepared nor in manual_dir.
    """
    tfds = _import_tfds()
    try:
        builder = tfds.builder(name, data_dir=None if data_dir is None else os.fspath(data_dir))
    except tfds.core.registered.DatasetNotFoundError:
        raise ValueError(f"TFDS has no dataset named {name!r}") from None
    if manual_dir is not None and not builder.is_prepared():
        manual_dir = os.fspath(manual_dir)
        if not os.path.isdir(manual_dir):
            raise FileNotFoundError(
                f"manual_dir {manual_dir!r} does not exist. {_archive_hint(builder, manual_dir)}"
            )
        # The builder calls its download manager for every archive; a file
        # found in manual_dir (under the name TFDS registered for the URL)
        # or in the download cache is used, anything else would be fetched
        # from the network, which we refuse. Patched on this builder
        # instance only.
        make_manager = builder._make_download_manager

        def make_offline_manager(*args, **kwargs):
            manager = make_manager(*args, **kwargs)
            manager._download = functools.partial(
                _refuse_download,
                name=name,
                manual_dir=manual_dir,
                url_infos=builder.url_infos or {},
            )
            return manager

        builder._make_download_manager = make_offline_manager
        config = tfds.download.DownloadConfig(manual_dir=manual_dir, try_download_gcs=False)
        try:
            builder.download_and_prepare(download_config=config)
        except DownloadRefusedError:
            raise  # Its message already says which file to put where.
        except FileNotFoundError as error:
            raise FileNotFoundError(
                f"Cannot prepare {name!r} from {manual_dir}: {error}\n"
                f"{_archive_hint(builder, manual_dir)}"
            ) from None
        except AssertionError as error:
            # TFDS reports an empty or missing manual_dir this way.
            raise FileNotFoundError(
                f"Cannot prepare {name!r} from {manual_dir}: "
                f"{str(error).splitlines()[0]}\n{_archive_hint(builder, manual_dir)}"
            ) from None
    if not builder.is_prepared():
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir} and "
            "is never downloaded here. Pass the data_dir where it is prepared, or "
            f"prepare it from local files.\n{_archive_hint(builder)}"
        )
    splits = list(builder.info.splits.keys())
    base_split = re.split(r"[\[+]", split)[0]
    if base_split not in splits:
        raise ValueError(f"TFDS dataset {name!r} has no split {split!r} (splits: {splits})")
    data = builder.as_dataset(split=split, as_supervised=True)
    features = builder.info.features
    label = features["label"] if "label" in getattr(features, "keys", lambda: ())() else None
    data.class_names = list(label.names) if getattr(label, "names", None) else None
    return data


# ---------------------------------------------------------------------------
# Evaluation.


def predict_ten_crop(model, dataset, crop_size=224, from_logits=False):
    """Averages a model's class probabilities over the 10 crops of each image.

    Args:
        model: Keras model mapping ``(B, crop_size, crop_size, C)`` to
            ``(B, K)`` softmax probabilities (or logits, see ``from_logits``).
        dataset: batches of full-size images ``(B, H, W, C)`` (e.g.
            `image_folder_dataset(..., mode="full")`), optionally as
            ``(images, labels)`` pairs (labels are ignored), or a numpy array.
        crop_size: side of the crops.
        from_logits: apply softmax to the model's outputs before averaging.

    Returns:
        float32 numpy array ``(N, K)``: mean probabilities, in dataset order.
    """
    if isinstance(dataset, np.ndarray):
        dataset = [dataset]
    outputs = []
    for element in dataset:
        images = element[0] if isinstance(element, (tuple, list)) else element
        if isinstance(images, dict):
            images = images["image"]
        images = tf.convert_to_tensor(images, tf.float32)
        if images.shape.rank == 3:
            images = images[tf.newaxis]
        if images.shape.rank != 4:
            raise ValueError(f"predict_ten_crop expects (B, H, W, C) images, got {images.shape}")
        crops = ten_crops(images, crop_size)
        total = 0.0
        # One crop position per call keeps the batch, and so the memory, at
        # the dataset's batch size.
        for k in range(NUM_CROPS):
            predictions = model.predict_on_batch(crops[:, k])
            if not isinstance(predictions, np.ndarray):
                predictions = np.asarray(predictions)
            if predictions.ndim != 2:
                raise ValueError(
                    f"predict_ten_crop expects (B, K) model outputs, got shape {predictions.shape}"
                )
            if from_logits:
                predictions = tf.nn.softmax(predictions).numpy()
            total = total + predictions.astype(np.float64)
        outputs.append((total / NUM_CROPS).astype(np.float32))
    if not outputs:
        raise ValueError("predict_ten_crop: the dataset is empty")
    return np.concatenate(outputs)
