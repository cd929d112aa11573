"""Class-folder datasets with the paper's preprocessing.

Like `keras.utils.image_dataset_from_directory`: ``root/<class>/<image>``,
labels from the sorted folder names, and the returned dataset carries
``class_names`` and ``file_paths``. Unlike it, every file is decoded once
first and the ones that fail are left out and reported (``.report``), and
the images go through the paper's resize, mean subtraction and crops.
"""

import os
import warnings

import numpy as np
import tensorflow as tf

from zfkeras.data.files import BadFileReport
from zfkeras.data.files import decodable_files
from zfkeras.data.files import list_image_files
from zfkeras.data.preprocessing import check_pipeline_args
from zfkeras.data.preprocessing import paper_pipeline
from zfkeras.data.transforms import read_image


def check_validate_flag(validate):
    """Returns ``validate`` as a bool; TypeError for anything else."""
    if isinstance(validate, BadFileReport):
        # Transitional: callers used to pass the report of an earlier check
        # to skip decoding again. Checks are remembered per process now, so
        # validate=True costs nothing the second time.
        warnings.warn(
            "validate= takes True or False; a BadFileReport is no longer needed "
            "(files checked before are not decoded again)",
            DeprecationWarning,
            stacklevel=3,
        )
        return True
    if not isinstance(validate, (bool, np.bool_)):
        raise TypeError(f"validate must be True or False, got {validate!r}")
    return bool(validate)


def labelled_files_dataset(
    paths,
    labels,
    class_names,
    where,
    mode,
    image_size,
    crop_size,
    mean_image,
    batch_size,
    shuffle,
    seed,
    validate,
    verbose=0,
):
    """The paper's pipeline over a list of image files and their labels.

    Shared by `image_folder_dataset` and
    `zfkeras.data.tfds.tfds_image_folder_dataset`; the arguments are theirs,
    ``where`` names the files' folder in messages.

    Returns:
        `tf.data.Dataset` of ``(images, labels)`` with the attributes
        ``class_names``, ``file_paths`` and ``report``.
    """
    mode, image_size, crop_size, batch_size = check_pipeline_args(
        mode, image_size, crop_size, batch_size
    )
    validate = check_validate_flag(validate)
    report = None
    if validate:
        paths, labels, report = decodable_files(paths, labels, where=where, verbose=verbose)
    examples = tf.data.Dataset.from_tensor_slices((list(paths), labels))
    data = paper_pipeline(
        examples,
        max(1, len(paths)),
        read_image,
        mode,
        image_size,
        crop_size,
        mean_image,
        batch_size,
        shuffle,
        seed,
    )
    data.class_names = list(class_names)
    data.file_paths = list(paths)
    data.report = report
    return data


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
    verbose=0,
):
    """Builds the paper's pipeline over a ``root/<class>/<image>`` folder.

    Args:
        root: folder with one sub-folder per class (labels follow the sorted
            folder names, or ``class_names``).
        mode: ``"train"``: one random crop of the 10 per example;
            ``"center"``: the centre crop; ``"full"``: the whole
            ``image_size`` square (the input of
            `zfkeras.evaluation.predict_ten_crop`).
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
        verbose: 1 shows a progress bar while files are checked.

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
    mode, image_size, crop_size, batch_size = check_pipeline_args(
        mode, image_size, crop_size, batch_size
    )
    validate = check_validate_flag(validate)
    paths, labels, class_names = list_image_files(root, class_names)
    return labelled_files_dataset(
        paths,
        labels,
        class_names,
        os.fspath(root),
        mode,
        image_size,
        crop_size,
        mean_image,
        batch_size,
        shuffle,
        seed,
        validate,
        verbose,
    )
