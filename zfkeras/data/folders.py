"""Class-folder datasets with the paper's preprocessing.

Like `keras.utils.image_dataset_from_directory`: ``root/<class>/<image>``,
labels from the sorted folder names, and the returned dataset carries
``class_names`` and ``file_paths``. Unlike it, every file is decoded once
first and the ones that fail are left out and reported (``.report``), and
the images go through the paper's resize, mean subtraction and crops.
"""

import os

import numpy as np
import tensorflow as tf

from zfkeras.data.files import decodable_files
from zfkeras.data.files import list_image_files
from zfkeras.data.preprocessing import paper_pipeline
from zfkeras.data.preprocessing import pipeline_settings
from zfkeras.data.transforms import read_image
from zfkeras.utils.errors import InputError, InputTypeError


def check_validate_flag(validate):
    """Returns ``validate`` as a bool; TypeError for anything else."""
    if not isinstance(validate, (bool, np.bool_)):
        raise InputTypeError(f"validate must be True or False, got {validate!r}")
    return bool(validate)


def files_dataset(paths, labels, class_names, where, settings, validate, verbose="auto"):
    """The paper's pipeline over image files, given checked settings.

    Args:
        paths, labels, class_names, where, validate, verbose: as for
            `labelled_files_dataset` (``validate`` a bool).
        settings: `zfkeras.data.preprocessing.PipelineSettings`.

    Returns:
        As `labelled_files_dataset`.
    """
    report = None
    if validate:
        paths, labels, report = decodable_files(paths, labels, where=where, verbose=verbose)
    examples = tf.data.Dataset.from_tensor_slices((list(paths), np.asarray(labels, np.int64)))
    data = paper_pipeline(examples, max(1, len(paths)), read_image, settings)
    data.class_names = list(class_names)
    data.file_paths = list(paths)
    data.report = report
    return data


def labelled_files_dataset(paths, labels, class_names, where, mode="train", image_size=256,
                           crop_size=224, mean_image=None, batch_size=32, shuffle=None, seed=None,
                           validate=True, verbose="auto"):
    """The paper's pipeline over a list of image files and their labels.

    Args:
        paths: list of image file paths.
        labels: their int labels, indexing ``class_names``.
        class_names: list of class names.
        where: what the files are (e.g. their folder), for messages.
        mode, image_size, crop_size, mean_image, batch_size, shuffle, seed,
            validate, verbose: as for `image_folder_dataset`.

    Returns:
        `tf.data.Dataset` of ``(images, labels)`` with the attributes
        ``class_names``, ``file_paths`` (the files used, in the given
        order) and ``report`` (a `BadFileReport`, or None when ``validate``
        is False).

    Raises:
        TypeError, ValueError: bad arguments, or no file that decodes.
    """
    settings = pipeline_settings(mode, image_size, crop_size, mean_image, batch_size, shuffle, seed)
    validate = check_validate_flag(validate)
    if len(paths) == 0:
        raise InputError(f"labelled_files_dataset got no image files ({where}); pass at least one path")
    if len(labels) != len(paths):
        raise InputError(f"got {len(paths)} paths but {len(labels)} labels; pass one label per file")
    return files_dataset(paths, labels, class_names, where, settings, validate, verbose)


def image_folder_dataset(root, mode="train", image_size=256, crop_size=224, mean_image=None,
                         batch_size=32, shuffle=None, seed=None, class_names=None, validate=True,
                         verbose="auto"):
    """Builds the paper's pipeline over a ``root/<class>/<image>`` folder.

    Args:
        root: folder with one sub-folder per class (labels follow the sorted
            folder names, or ``class_names``).
        mode: ``"train"``: one random crop of the 10 per example;
            ``"center"``: the centre crop; ``"full"``: the whole
            ``image_size`` square (the input of
            `zfkeras.measures.evaluation.predict_ten_crop`).
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
        validate: True to decode every file once first and leave out the
            ones that fail (see `check_image_files`; files checked before in
            this process are not decoded again). False skips the check: a
            broken file then stops iteration with a TensorFlow error.
        verbose: 0, 1 (a progress bar while files are checked) or "auto":
            a bar when more than 2,000 files are to be decoded.

    Returns:
        `tf.data.Dataset` of ``(images, labels)`` (float32, int64), with the
        attributes ``class_names``, ``file_paths`` (the files used, in
        listing order) and ``report`` (a `BadFileReport`; None when
        ``validate`` is False).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        TypeError, ValueError: bad arguments, no images, or no image that
            decodes.
    """
    # Bad arguments fail before the folder is listed.
    settings = pipeline_settings(mode, image_size, crop_size, mean_image, batch_size, shuffle, seed)
    validate = check_validate_flag(validate)
    paths, labels, class_names = list_image_files(root, class_names)
    return files_dataset(paths, labels, class_names, os.fspath(root), settings, validate, verbose)
