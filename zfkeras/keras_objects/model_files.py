"""What a model path holds, checked before Keras reads it.

Keras 3 loads two single-file formats: the ``.keras`` zip archive and the
legacy HDF5 file (``.h5`` / ``.hdf5``) that Keras 2 and tf.keras wrote,
which is how most trained Keras classifiers were shared before Keras 3.
`model_file_format` tells them apart by their first bytes (a renamed or
damaged file is named as such) and turns every other path (missing, a
folder, a TensorFlow SavedModel, unreadable, truncated, weights only)
into an `InputError` that says what it is and what to do. Plain Python
(h5py, for HDF5 files only): no TensorFlow import, so the commands check
their MODEL argument before loading TensorFlow.
"""

import os
import stat
import zipfile

from zfkeras.utils.errors import InputError, MissingInputError

KERAS = "keras"
HDF5 = "hdf5"
SUFFIXES = {".keras": KERAS, ".h5": HDF5, ".hdf5": HDF5}
FORMAT_NAMES = {KERAS: "a .keras (zip) archive", HDF5: "an HDF5 (legacy .h5) file"}
ACCEPTED = ".keras, .h5 or .hdf5"

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a member first; the empty archive
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
# HDF5 allows a user block before the superblock: the signature may sit at
# 0, 512, 1024, 2048, ... bytes.
_HDF5_OFFSETS = (0,) + tuple(512 << i for i in range(12))
_KERAS_CONFIG = "config.json"  # what every .keras archive holds (keras.saving)


def model_file_format(path):
    """Checks that ``path`` is a Keras model file Keras 3 can open.

    Args:
        path: a ``.keras``, ``.h5`` or ``.hdf5`` file.

    Returns:
        `KERAS` for a ``.keras`` archive, `HDF5` for a legacy HDF5 model.

    Raises:
        MissingInputError: nothing is at ``path``.
        InputError: ``path`` is a folder (a TensorFlow SavedModel gets how
            to convert it), cannot be read (permission), has another
            suffix, holds another format than its suffix says, is
            truncated or damaged, or holds weights without a model.
    """
    shown = os.fspath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise MissingInputError(f"model file {shown!r} does not exist") from None
    except PermissionError:
        raise InputError(f"cannot read model file {shown!r}: permission denied (on a folder above it)") from None
    except OSError as e:
        raise InputError(f"cannot read model file {shown!r}: {e.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise InputError(saved_model_advice(shown))
        raise InputError(f"{shown!r} is a folder, not a model file ({ACCEPTED})")
    if not stat.S_ISREG(info.st_mode):  # reading a FIFO would wait forever
        raise InputError(f"model file {shown!r} is not a regular file (a FIFO, device or socket); pass a file")
    suffix = os.path.splitext(shown)[1]
    expected = SUFFIXES.get(suffix)
    if expected is None:
        raise InputError(f"{shown!r} is not a Keras model file: Keras reads {ACCEPTED} files (lower case)")
    found = _format_of_contents(path, shown, info.st_size)
    if found != expected:
        rename = ".keras" if found == KERAS else ".h5"
        raise InputError(f"{shown!r} is named {suffix} but is {FORMAT_NAMES[found]}: rename it to end in {rename}")
    if found == KERAS:
        _check_archive(path, shown)
    else:
        _check_hdf5(path, shown)
    return found


def saved_model_advice(shown):
    """The message for a TensorFlow SavedModel folder: how to make a model file of it."""
    keras2 = os.path.isfile(os.path.join(shown, "keras_metadata.pb"))
    if keras2:
        how = (f"it was saved by Keras 2 (tf.keras), which can still read it: with TensorFlow <= 2.15, or with the "
               f"tf_keras package (`pip install tf_keras`), run `tf_keras.models.load_model({shown!r})"
               f".save('model.h5')` and pass model.h5 (or save 'model.keras' from TensorFlow >= 2.13)")
    else:
        how = ("it holds a serving graph (tf.saved_model.save or model.export), not a Keras model: pass the .keras "
               "or .h5 file it was exported from; `keras.layers.TFSMLayer(path, call_endpoint='serving_default')` "
               "can run it for inference only, which has no layers for zfkeras to look inside")
    return f"{shown!r} is a TensorFlow SavedModel folder, which Keras 3 cannot load as a model: {how}"


def zip_damage(path):
    """Why ``path`` is not a complete zip archive, or None when every member checks out.

    A file that cannot be opened (permission) is not damaged: None too.
    Reads the whole file (`zipfile.ZipFile.testzip`): meant for after a
    load failed.
    """
    try:
        with open(path, "rb"):
            pass
    except OSError:
        return None
    if not zipfile.is_zipfile(path):
        return "not a complete zip archive: truncated or overwritten"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        return f"unreadable zip archive ({e})"
    return None if bad is None else f"member {bad!r} fails its checksum"


def _read_at(handle, offset, count):
    handle.seek(offset)
    return handle.read(count)


def _format_of_contents(path, shown, size):
    """`KERAS` or `HDF5` from the file's signature; `InputError` for neither."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_HDF5_MAGIC))
            if head[:4] in _ZIP_MAGICS:
                return KERAS
            if any(_read_at(handle, offset, len(_HDF5_MAGIC)) == _HDF5_MAGIC
                   for offset in _HDF5_OFFSETS if offset + len(_HDF5_MAGIC) <= size):
                return HDF5
    except PermissionError:
        raise InputError(f"cannot read model file {shown!r}: permission denied") from None
    except OSError as e:
        raise InputError(f"cannot read model file {shown!r}: {e.strerror or e}") from None
    if not head:
        raise InputError(f"model file {shown!r} is empty")
    raise InputError(f"{shown!r} is neither a .keras (zip) archive nor an HDF5 file (it starts with {head!r}): "
                     "another format, or overwritten")


def _check_archive(path, shown):
    damage = None if zipfile.is_zipfile(path) else "not a complete zip archive: truncated or overwritten"
    if damage is None:
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            damage = f"unreadable zip archive ({e})"
        else:
            if _KERAS_CONFIG not in names:
                raise InputError(f"{shown!r} is a zip archive but not a Keras model (it has no {_KERAS_CONFIG})")
    if damage is not None:
        raise InputError(f"model file {shown!r} is corrupt ({damage})")


def _check_hdf5(path, shown):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            has_model = "model_config" in f.attrs
    except OSError as e:
        raise InputError(f"model file {shown!r} is corrupt "
                         f"(not a complete HDF5 file, truncated or damaged: {e})") from None
    if not has_model:
        raise InputError(f"{shown!r} holds weights only, no model (no model_config): build the model in code and "
                         "call model.load_weights on it, or pass a file saved with model.save")
