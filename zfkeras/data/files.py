"""Listing image files and leaving out the ones that do not decode.

Every file is decoded once, with the decoder the pipelines use, before a
pipeline over it is built; a file that fails is left out and named, with the
reason, in a `BadFileReport` (and a warning), so an epoch never stops on a
broken file and no file disappears without a word.

Results are remembered per process, keyed on each file's path, size and
modification time: the second pipeline over the same files (the centre-crop
pass over the training split, the mean image, the ten-crop test) decodes
nothing again, and a file replaced on disk is checked afresh.
"""

import dataclasses
import os
import re
import warnings

import numpy as np
import tensorflow as tf

from zfkeras.data.transforms import read_image
from zfkeras.data.pipeline import finish, parallel_calls
from zfkeras.utils.progress import progress_bar
from zfkeras.utils.errors import InputError, MissingInputError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
# verbose="auto" shows a progress bar above this many files to decode.
AUTO_PROGRESS_FILES = 2000

# hash((absolute path, size, mtime_ns)) -> None for a file that decodes,
# else the reason it does not. Hashes, not the tuples, keep an ImageNet-size
# cache (1.28M files) at 87 MB instead of 346 MB.
_CHECKED = {}


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
        """The number of bad files."""
        return len(self.bad_files)

    def describe(self, max_listed=None):
        """The report as text, listing at most ``max_listed`` files."""
        if not self.bad_files:
            return f"All {self.num_checked} image files decode."
        listed = self.bad_files if max_listed is None else self.bad_files[:max_listed]
        lines = [
            f"{self.num_bad} of {self.num_checked} image files cannot be decoded "
            "and are left out:"
        ]
        lines += [f"  {path}: {reason}" for path, reason in listed]
        if len(listed) < self.num_bad:
            lines.append(f"  ... and {self.num_bad - len(listed)} more (see the dataset's .report)")
        return "\n".join(lines)

    def __str__(self):
        return self.describe()


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
        raise MissingInputError(f"Image folder {root!r} does not exist or is not a folder")
    folders = sorted(
        name
        for name in os.listdir(root)
        if not name.startswith(".") and os.path.isdir(os.path.join(root, name))
    )
    if not folders:
        raise InputError(
            f"{root} has no class sub-folders; expected the layout "
            f"{os.path.join(root, '<class>', '<image>.jpg')}"
        )
    if class_names is None:
        class_names = folders
    else:
        class_names = [str(name) for name in class_names]
        unknown = [name for name in folders if name not in class_names]
        if unknown:
            raise InputError(
                f"{root} has class folders {unknown} that are not in class_names "
                f"{class_names}; add them to class_names"
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
        raise InputError(
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


def _cache_key(path):
    """The file's identity for `_CHECKED`, or the reason it cannot be read."""
    try:
        stat = os.stat(path)
    except OSError as error:
        return None, f"cannot be read ({error.strerror})"
    return hash((os.path.abspath(path), stat.st_size, stat.st_mtime_ns)), None


def _decode_all(paths, verbose):
    """Decodes ``paths``; returns ``{path: None or the reason it failed}``."""
    # Decode in parallel and let tf.data drop the failures; the files that
    # did not come out are the bad ones. Only those are decoded again,
    # eagerly, to get the reason.
    decoded = finish(
        tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
        .map(lambda path: (path, tf.shape(read_image(path))), num_parallel_calls=parallel_calls(),
             deterministic=False)
        .ignore_errors()
    )
    progress = progress_bar(len(paths), verbose, "file", AUTO_PROGRESS_FILES)
    good = set()
    for path, _ in decoded.as_numpy_iterator():
        good.add(os.fsdecode(path))
        if progress is not None:
            progress.add(1)
    results = {}
    for path in paths:
        if path in good:
            results[path] = None
            continue
        try:
            read_image(path)
            results[path] = "decoding failed during the check"
        except tf.errors.OpError as error:
            results[path] = _decode_error_message(error)
    if progress is not None:
        progress.update(len(paths), finalize=True)
    return results


def _check(paths, verbose):
    """Returns the `BadFileReport` of ``paths`` and the paths decoded now."""
    keys, reasons = {}, {}
    for path in paths:
        keys[path], reasons[path] = _cache_key(path)
    unchecked = [p for p in paths if keys[p] is not None and keys[p] not in _CHECKED]
    if unchecked:
        for path, reason in _decode_all(unchecked, verbose).items():
            _CHECKED[keys[path]] = reason
    for path in paths:
        if keys[path] is not None:
            reasons[path] = _CHECKED[keys[path]]
    report = BadFileReport(num_checked=len(paths))
    report.bad_files = [(path, reasons[path]) for path in paths if reasons[path] is not None]
    return report, set(unchecked)


def check_image_files(paths, verbose="auto"):
    """Decodes every file once and reports the ones that fail.

    The files are decoded with the same decoder the pipelines use, so a file
    that passes here does not stop an epoch later. Files checked before in
    this process, and unchanged since, are not decoded again.

    Args:
        paths: list of image file paths.
        verbose: 0, 1 (a progress bar while files are decoded) or "auto":
            a bar when more than 2,000 files are to be decoded.

    Returns:
        `BadFileReport` listing the files that cannot be read or decoded.
    """
    return _check([os.fspath(p) for p in paths], verbose)[0]


def decodable_files(paths, labels=None, where="the given files", verbose="auto"):
    """Leaves out the files that do not decode, naming them in a warning.

    The one place where bad files are filtered out: every folder pipeline
    and the mean image go through it.

    Args:
        paths: list of image file paths.
        labels: optional array of labels, one per path, filtered alike.
        where: what the files are (e.g. the folder), for the messages.
        verbose: as for `check_image_files`.

    Returns:
        ``(paths, labels, report)``: the files that decode, their labels
        (None if none were given) and the `BadFileReport`. The warning
        lists only files found bad by this call, so a second pipeline over
        the same files stays quiet.

    Raises:
        ValueError: no file decodes.
    """
    paths = [os.fspath(p) for p in paths]
    report, decoded_now = _check(paths, verbose)
    _warn_bad_files([(p, r) for p, r in report.bad_files if p in decoded_now], len(paths))
    if not report.bad_files:
        return paths, labels, report
    bad = set(report.paths)
    keep = [i for i, path in enumerate(paths) if path not in bad]
    if not keep:
        raise InputError(f"No image in {where} can be decoded.\n{report}")
    paths = [paths[i] for i in keep]
    if labels is not None:
        labels = np.asarray(labels)[keep]
    return paths, labels, report


def _warn_bad_files(bad_files, num_checked, max_listed=20):
    if bad_files:
        # stacklevel 5: the user's call of image_folder_dataset and its
        # siblings (warn <- here <- decodable_files <- files_dataset <- them).
        warnings.warn(BadFileReport(num_checked, bad_files).describe(max_listed), stacklevel=5)
