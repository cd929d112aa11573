"""Raw images of a run's training or test split, for `RunFolder.load_split`.

Each data source (Fashion-MNIST, an image folder, a TFDS dataset) is read
the way the trainer reads it, with the run's split plan (`zfkeras.runs.splits`),
and returned as uint8 pixels at the model's input size: image files are
resized (shortest side ``image_size``) and centre-cropped to ``crop_size``
exactly as the trainer's evaluation pipeline does before the mean image is
subtracted.
"""

import os
import warnings

import numpy as np

from zfkeras.runs.layout import CONFIG
from zfkeras.runs.splits import held_out_indices, stream_ranges
from zfkeras.utils.errors import InputError
from zfkeras.utils.images import apply_orientation, exif_orientation
from zfkeras.utils.paths import check_readable_file


def _choose(count, max_examples, seed):
    """Sorted positions of at most `max_examples` of `count` examples."""
    if max_examples is None or max_examples >= count:
        return np.arange(count)
    return np.sort(np.random.RandomState(seed).choice(count, max_examples, replace=False))


def load_raw_split(run, split, max_examples=None, seed=0):
    """See `RunFolder.load_split`."""
    loader = {"fashion_mnist": _fashion_mnist, "folder": _folder, "tfds": _tfds}.get(run.dataset)
    if loader is None:
        raise InputError(f"run folder {run.path}: unknown dataset {run.dataset!r} in {CONFIG}")
    return loader(run.config, run.splits, split, max_examples, seed)


def _fashion_mnist(config, plan, split, max_examples, seed):
    from zfkeras.data import load_fashion_mnist

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(config.get("data_dir") or None)
    if split == "test" and plan["test"] == "test":
        images, labels = x_test, y_test
    else:
        index = held_out_indices(len(x_train), plan, config.get("max_train_examples", 0))[split]
        images, labels = x_train[index], y_train[index]
    chosen = _choose(len(images), max_examples, seed)
    return np.ascontiguousarray(images[chosen]), labels[chosen].astype(np.int64)


def to_model_size(image, image_size, crop_size):
    """One decoded image -> uint8 ``(crop, crop, C)`` as the trainer crops it.

    Args:
        image: ``(H, W, C)`` image tensor of any size.
        image_size: side of the centre square (resize of the shortest side).
        crop_size: side of the centre crop the model takes.

    Returns:
        uint8 numpy array ``(crop_size, crop_size, C)``.
    """
    from zfkeras.data.transforms import center_crop, resize_and_center_crop

    square = resize_and_center_crop(image, image_size)
    crop = center_crop(square, crop_size).numpy()
    return np.clip(np.round(crop), 0, 255).astype(np.uint8)


def read_image_file(path, image_size, crop_size, channels=3, upright=True):
    """One image file -> uint8 ``(crop, crop, channels)``, as the trainer reads it.

    Decoded as RGB (`zfkeras.data.transforms.decode_image`; a phone's MPO
    file as its first picture), turned upright per its EXIF orientation
    (`zfkeras.utils.images`; a phone photo is not analysed sideways),
    converted to grey when ``channels`` is 1, then `to_model_size`: the shortest side
    resized to ``image_size``, the centre square, its centre ``crop_size``
    crop. Every photo a tool shows a run's model goes through here, as the
    run's own test images do (`RunFolder.read_image`).

    Args:
        path: a JPEG, PNG, BMP or GIF file.
        image_size: side of the centre square (resize of the shortest side).
        crop_size: side of the centre crop the model takes.
        channels: 3 (RGB) or 1 (grey).
        upright: apply the EXIF orientation; False reads the stored pixels
            as the trainer's pipeline does (a run's own split files).

    Returns:
        uint8 numpy array ``(crop_size, crop_size, channels)``.

    Raises:
        ValueError: the file cannot be read or decoded (names it and why).
    """
    import tensorflow as tf

    from zfkeras.data.transforms import decode_image

    if channels not in (1, 3):
        raise InputError(f"channels must be 1 or 3, got {channels!r}")
    check_readable_file(path, "image file")  # permission, FIFO: named before TensorFlow reads it
    try:
        contents = tf.io.read_file(os.fspath(path))
        image = decode_image(contents)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InputError(f"cannot read image file {os.fspath(path)!r}: {reason}") from None
    if upright:
        orientation = exif_orientation(contents.numpy())
        if orientation != 1:
            image = tf.convert_to_tensor(apply_orientation(image.numpy(), orientation))
    if channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    return to_model_size(image, image_size, crop_size)


def folder_files(config, plan, split):
    """``(paths, labels, class_names)`` of a folder run's split.

    Args:
        config: the run's configuration (dict).
        plan: its split plan.
        split: ``"train"``, ``"validation"`` or ``"test"``.
    """
    from zfkeras.data import list_image_files

    root = config["data_dir"]
    paths, labels, names = list_image_files(os.path.join(root, "train"))
    source = plan[split] if split != "train" else None
    if source is not None:
        paths, labels, _ = list_image_files(os.path.join(root, source), class_names=names)
        return paths, labels, names
    index = held_out_indices(len(paths), plan, config.get("max_train_examples", 0))[split]
    return [paths[i] for i in index], labels[index], names


def _folder(config, plan, split, max_examples, seed):
    paths, labels, _ = folder_files(config, plan, split)
    chosen = _choose(len(paths), max_examples, seed)
    images, kept = [], []
    for i in chosen:
        try:
            # the stored pixels, as the trainer's pipeline decodes them
            images.append(read_image_file(paths[i], config["image_size"], config["crop_size"], upright=False))
        except ValueError as e:
            warnings.warn(f"skipping {paths[i]}: it cannot be decoded ({e})")
            continue
        kept.append(labels[i])
    if not images:
        raise InputError(f"no image of the {split} split of {config['data_dir']} can be decoded")
    return np.stack(images), np.asarray(kept, np.int64)


def tfds_split(config, plan, split):
    """The unbatched ``(image, label)`` dataset of a TFDS run's split
    (``"train"``, ``"validation"`` or ``"test"``)."""
    from zfkeras.data import tfds_dataset

    def load(name):
        return tfds_dataset(config["tfds_name"], name, config.get("data_dir") or None,
                            config.get("manual_dir") or None)

    if split != "train" and plan[split] is not None:
        return load(plan[split])
    skip, take = stream_ranges(plan, config.get("max_train_examples", 0))[split]
    train = load("train")
    sliced = train.skip(skip).take(take)
    sliced.class_names = train.class_names
    return sliced


def _tfds(config, plan, split, max_examples, seed):
    data = tfds_split(config, plan, split)
    rng = np.random.RandomState(seed)
    # Reservoir sampling: a uniform draw without holding the whole split.
    kept = []
    for n, (image, label) in enumerate(data):
        slot = n if max_examples is None or n < max_examples else rng.randint(0, n + 1)
        if max_examples is not None and slot >= max_examples:
            continue
        item = (n, to_model_size(image, config["image_size"], config["crop_size"]), int(label))
        if slot < len(kept):
            kept[slot] = item
        else:
            kept.append(item)
    if not kept:
        raise InputError(f"the {split} split of TFDS {config['tfds_name']!r} is empty")
    kept.sort(key=lambda item: item[0])
    return np.stack([item[1] for item in kept]), np.asarray([item[2] for item in kept], np.int64)
