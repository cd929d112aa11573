"""Labelled image sets that probes and transfer are measured on.

A target is named by a string (the ``--target`` of ``zfkeras probe`` and
``zfkeras transfer``):

* ``test``: the run's own test split (images it never trained on);
* ``digits``: scikit-learn's bundled handwritten digits (1,797 images of
  8x8 pixels with values 0-16, 10 classes; offline). They are scaled to
  0-255 (x 255/16) and resized bilinearly to the model's input size, then
  repeated over the channels if the model takes colour;
* a folder path: ``FOLDER/<class>/<image>`` (listed by
  `zfkeras.data.list_image_files`); each image is resized so its shortest
  side is the model's input size and centre-cropped, as the paper does at
  256 pixels, and converted to grey or RGB as the model takes;
* ``tfds:NAME``: a TFDS dataset's ``train`` split, prepared already or from
  archives in a ``manual_dir`` (`zfkeras.data.tfds_dataset`; never
  downloaded), resized the same way.

Every loader returns raw pixels in [0, 255] at the model's input size; the
run's own preprocessing (`RunFolder.preprocess`) is applied afterwards.
"""

import dataclasses
import os

import numpy as np

from zfkeras.utils.validation import positive_int
from zfkeras.utils.errors import InputError

BUILTIN_TARGETS = ("test", "digits")


@dataclasses.dataclass
class Target:
    """Raw images of a target with their labels.

    Attributes:
        images: uint8 ``(N, H, W, C)`` at the model's input size.
        labels: int64 ``(N,)``.
        class_names: names of the labels, in label order.
        description: one line saying what the images are and how they were
            resized.
        skipped: ``(path, reason)`` of files that could not be read.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    description: str
    skipped: list = dataclasses.field(default_factory=list)


def check_target(spec):
    """Checks a ``--target`` string without loading anything.

    Returns:
        ``(kind, argument)``: ``("test", None)``, ``("digits", None)``,
        ``("tfds", NAME)`` or ``("folder", PATH)``.

    Raises:
        ValueError: an empty TFDS name or a folder that does not exist.
    """
    spec = str(spec)
    if spec in BUILTIN_TARGETS:
        return spec, None
    if spec.startswith("tfds:"):
        name = spec[len("tfds:"):]
        if not name:
            raise InputError(f"target {spec!r} names no TFDS dataset; write tfds:NAME, e.g. tfds:caltech101")
        return "tfds", name
    if not os.path.isdir(spec):
        raise InputError(
            f"target {spec!r} is neither 'test', 'digits', 'tfds:NAME' nor an existing folder of "
            "class sub-folders; check the path"
        )
    return "folder", spec


def cap_per_class(labels, max_per_class, seed=0):
    """Indices of at most ``max_per_class`` random examples of each class.

    Returns:
        Sorted int array.
    """
    labels = np.asarray(labels)
    if max_per_class is None:
        return np.arange(len(labels))
    max_per_class = positive_int(max_per_class, "max_per_class")
    rng = np.random.RandomState(seed)
    keep = [rng.permutation(np.flatnonzero(labels == c))[:max_per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep))


def resize_square(image, size, channels):
    """Shortest side to ``size``, centre ``size`` square, grey or RGB.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` array with values in [0, 255].
        size: ``(h, w)`` of the output.
        channels: 1 (grey, ITU-R 601 luma) or 3.

    Returns:
        uint8 ``(h, w, channels)``.
    """
    from PIL import Image

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    picture = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    picture = picture.convert("L" if channels == 1 else "RGB")
    h, w = size
    scale = max(h / picture.height, w / picture.width)
    new = (max(w, round(picture.width * scale)), max(h, round(picture.height * scale)))
    picture = picture.resize(new, Image.BILINEAR)
    left, top = (new[0] - w) // 2, (new[1] - h) // 2
    out = np.asarray(picture.crop((left, top, left + w, top + h)), np.uint8)
    return out[..., None] if channels == 1 else out


def load_digits_target(input_shape):
    """scikit-learn's digits at the model's input size (see module doc)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    h, w, c = input_shape
    raw = digits.images * (255.0 / 16.0)
    images = np.stack([resize_square(image, (h, w), c) for image in raw])
    return Target(
        images, digits.target.astype(np.int64), [str(d) for d in digits.target_names],
        f"scikit-learn digits (1,797 images, 8x8, values 0-16 scaled x255/16, bilinear resize to {h}x{w}"
        f"{', grey repeated to RGB' if c == 3 else ''})",
    )


def _read_file(path, input_shape):
    from PIL import Image

    with Image.open(path) as picture:
        picture.load()
        return resize_square(np.asarray(picture.convert("RGB")), input_shape[:2], input_shape[2])


def load_folder_target(root, input_shape, max_per_class=None, seed=0):
    """Class folders at the model's input size (at most N per class read)."""
    from zfkeras.data import list_image_files

    paths, labels, names = list_image_files(root)
    keep = cap_per_class(labels, max_per_class, seed)
    images, kept, skipped = [], [], []
    for i in keep:
        try:
            images.append(_read_file(paths[i], input_shape))
            kept.append(labels[i])
        except (OSError, ValueError) as error:
            skipped.append((paths[i], str(error).splitlines()[0]))
    if not images:
        raise InputError(f"no image in {root} could be read ({len(skipped)} files failed)")
    h, w, c = input_shape
    return Target(
        np.stack(images), np.asarray(kept, np.int64), names,
        f"class folders {root} ({len(names)} classes; shortest side to {h}, centre {h}x{w} crop, "
        f"{'grey' if c == 1 else 'RGB'})",
        skipped,
    )


def load_tfds_target(name, input_shape, max_per_class=None, seed=0, data_dir=None, manual_dir=None):
    """A TFDS dataset's train split at the model's input size (offline)."""
    from zfkeras.data import tfds_dataset

    data = tfds_dataset(name, "train", data_dir, manual_dir)
    images, labels = [], []
    for image, label in data.as_numpy_iterator():
        images.append(resize_square(image, input_shape[:2], input_shape[2]))
        labels.append(int(label))
    labels = np.asarray(labels, np.int64)
    keep = cap_per_class(labels, max_per_class, seed)
    names = data.class_names or [str(i) for i in range(int(labels.max()) + 1)]
    h, w, _ = input_shape
    return Target(
        np.stack(images)[keep], labels[keep], list(names),
        f"TFDS {name} train split (shortest side to {h}, centre {h}x{w} crop)",
    )


def load_target(spec, run, max_per_class=None, seed=0, data_dir=None, manual_dir=None):
    """Loads a target by its ``--target`` string (see the module doc).

    Args:
        spec: ``"test"``, ``"digits"``, a folder path or ``"tfds:NAME"``.
        run: the `RunFolder` (its input shape, test split).
        max_per_class: keep at most this many random images per class.
        seed: seed of that choice.
        data_dir, manual_dir: TFDS folders for ``tfds:NAME``.

    Returns:
        `Target`.
    """
    kind, argument = check_target(spec)
    input_shape = tuple(int(d) for d in run.input_shape)
    if kind == "test":
        images, labels = run.load_split("test")
        keep = cap_per_class(labels, max_per_class, seed)
        names = list(run.class_names)
        target = Target(np.asarray(images)[keep], np.asarray(labels, np.int64)[keep], names,
                        "the run's test split (never used for training)")
    elif kind == "digits":
        target = load_digits_target(input_shape)
        keep = cap_per_class(target.labels, max_per_class, seed)
        target = dataclasses.replace(target, images=target.images[keep], labels=target.labels[keep])
    elif kind == "folder":
        target = load_folder_target(argument, input_shape, max_per_class, seed)
    else:
        target = load_tfds_target(argument, input_shape, max_per_class, seed, data_dir, manual_dir)
    if len(np.unique(target.labels)) < 2:
        raise InputError(f"target {spec!r} has only one class; probes and transfer need at least 2 classes")
    return target
