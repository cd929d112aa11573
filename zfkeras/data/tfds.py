"""TensorFlow Datasets sources, never downloading anything.

* `tfds_image_folder_dataset`: a `tfds.folder_dataset.ImageFolder`
  (``root/<split>/<class>/<image>``) through the paper's pipeline.
* `tfds_dataset`: any TFDS dataset already prepared in ``data_dir``, or one
  TFDS can prepare from archives the user has placed in ``manual_dir``; a
  download TFDS would start instead is refused with a message naming the
  file and where to put it. Feed the result to `preprocess_dataset`.
"""

import functools
import os
import re

from zfkeras.data.folders import check_validate_flag
from zfkeras.data.folders import files_dataset
from zfkeras.data.preprocessing import pipeline_settings
from zfkeras.utils.errors import InputError, MissingInputError


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            "tensorflow-datasets is needed for TFDS sources: "
            "pip install tensorflow-datasets importlib_resources"
        ) from None
    return tfds


def tfds_image_folder_dataset(root, split, mode="train", image_size=256, crop_size=224,
                              mean_image=None, batch_size=32, shuffle=None, seed=None,
                              validate=True, verbose="auto"):
    """The paper's pipeline over a `tfds.folder_dataset.ImageFolder`.

    TFDS lists ``root/<split>/<class>/<image>`` (``.jpg``, ``.jpeg``,
    ``.png``) and gives the labels (class names sorted over all splits);
    the files then go through the same checks and pipeline as
    `image_folder_dataset`.

    Args:
        root: folder holding one sub-folder per split.
        split: split name, e.g. ``"train"``.
        mode, image_size, crop_size, mean_image, batch_size, shuffle, seed,
            validate, verbose: as for `image_folder_dataset`.

    Returns:
        `tf.data.Dataset` of ``(images, labels)`` with attributes
        ``class_names``, ``file_paths`` and ``report``.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        TypeError, ValueError: bad arguments, an unknown split, or no image
            that decodes.
    """
    settings = pipeline_settings(mode, image_size, crop_size, mean_image, batch_size, shuffle, seed)
    validate = check_validate_flag(validate)
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise MissingInputError(f"Image folder {root!r} does not exist or is not a folder")
    tfds = _import_tfds()
    builder = tfds.folder_dataset.ImageFolder(root)
    splits = list(builder.info.splits.keys())
    if split not in splits:
        raise InputError(
            f"{root} has no split {split!r} (found {splits}); expected the layout "
            f"{os.path.join(root, '<split>', '<class>', '<image>.jpg')}"
        )
    # Only TFDS' listing is used (file names and labels, in its fixed
    # order); decoding, checks and shuffling are the folder pipeline's.
    listing = builder.as_dataset(split=split, decoders={"image": tfds.decode.SkipDecoding()})
    pairs = [
        (os.fsdecode(filename), int(label))
        for filename, label in listing.map(
            lambda example: (example["image/filename"], example["label"])
        ).as_numpy_iterator()
    ]
    paths = [path for path, _ in pairs]
    labels = [label for _, label in pairs]
    class_names = builder.info.features["label"].names
    where = os.path.join(root, split)
    return files_dataset(paths, labels, class_names, where, settings, validate, verbose)


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


class DownloadRefusedError(MissingInputError):
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


def _prepare_offline(tfds, builder, name, manual_dir):
    """Prepares ``builder`` from ``manual_dir``, refusing every download."""
    # The builder calls its download manager for every archive; a file
    # found in manual_dir (under the name TFDS registered for the URL) or
    # in the download cache is used, anything else would be fetched from
    # the network, which we refuse. Patched on this builder instance only.
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
        raise MissingInputError(
            f"Cannot prepare {name!r} from {manual_dir}: {error}\n"
            f"{_archive_hint(builder, manual_dir)}"
        ) from None
    except AssertionError as error:
        # TFDS reports an empty or missing manual_dir this way.
        raise MissingInputError(
            f"Cannot prepare {name!r} from {manual_dir}: "
            f"{str(error).splitlines()[0]}\n{_archive_hint(builder, manual_dir)}"
        ) from None


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
        raise InputError(f"TFDS has no dataset named {name!r}") from None
    if manual_dir is not None and not builder.is_prepared():
        manual_dir = os.fspath(manual_dir)
        if not os.path.isdir(manual_dir):
            raise MissingInputError(
                f"manual_dir {manual_dir!r} does not exist. {_archive_hint(builder, manual_dir)}"
            )
        _prepare_offline(tfds, builder, name, manual_dir)
    if not builder.is_prepared():
        raise MissingInputError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir} and "
            "is never downloaded here. Pass the data_dir where it is prepared, or "
            f"prepare it from local files.\n{_archive_hint(builder)}"
        )
    splits = list(builder.info.splits.keys())
    base_split = re.split(r"[\[+]", split)[0]
    if base_split not in splits:
        raise InputError(f"TFDS dataset {name!r} has no split {split!r} (splits: {splits})")
    data = builder.as_dataset(split=split, as_supervised=True)
    features = builder.info.features
    label = features["label"] if "label" in getattr(features, "keys", lambda: ())() else None
    data.class_names = list(label.names) if getattr(label, "names", None) else None
    return data
