"""Loading models that use zfkeras layers, from ``.keras`` and legacy HDF5 files."""

import json
import os
import shutil
import tempfile

import keras

# Importing these registers the custom classes with Keras' serialisation.
from zfkeras import layers  # noqa: F401  (registers the layers)
from zfkeras.keras_objects import constraints, losses  # noqa: F401
from zfkeras.keras_objects.keras2_configs import upgrade_keras2_config
from zfkeras.keras_objects.model_files import HDF5, model_file_format, zip_damage
from zfkeras.runs import preprocessing  # noqa: F401
from zfkeras.utils.errors import InputError, InputTypeError


def load_model(path, **kwargs):
    """`keras.models.load_model` with zfkeras' layers registered, for ``.keras`` and ``.h5`` files.

    ``import zfkeras`` is lazy (it does not import TensorFlow), so the
    custom classes are registered only once a zfkeras module is imported;
    this function makes sure they are.

    A legacy HDF5 file (``.h5`` / ``.hdf5``, how Keras 2 and tf.keras
    saved models) loads without compiling unless ``compile=True`` is
    passed: the analyses need no optimizer, and Keras 3 rejects the
    optimizer configurations Keras 2 saved (``lr``, ``decay``). The
    layer arguments and names of a Keras 2 architecture that Keras 3
    refuses are rewritten first, in a temporary copy of the file
    (`zfkeras.keras_objects.keras2_configs`). The file is checked by its
    first bytes before Keras reads it, and a TensorFlow SavedModel folder
    is refused with how to convert it (`zfkeras.keras_objects.model_files`).

    Args:
        path: a ``.keras``, ``.h5`` or ``.hdf5`` file.
        **kwargs: passed to `keras.models.load_model` (e.g. ``compile=False``).

    Returns:
        The model.

    Raises:
        MissingInputError: there is no file at ``path``.
        InputError: ``path`` is not a model file Keras can read: a folder,
            unreadable, another format, truncated or damaged, or a legacy
            model Keras 3 cannot rebuild; the message says which.
    """
    try:
        os.fspath(path)
    except TypeError:
        raise InputTypeError(f"path must be a model file path, got {path!r} of type {type(path).__name__}") from None
    file_format = model_file_format(path)
    if file_format == HDF5:
        kwargs.setdefault("compile", False)
        try:
            return _load_hdf5(path, kwargs)
        except (ValueError, TypeError, KeyError, OSError) as e:
            hint = "; load it with compile=False (the analyses need no optimizer)" if kwargs["compile"] else ""
            raise InputError(f"Keras {keras.__version__} cannot load the legacy model in {str(path)!r} "
                             f"({type(e).__name__}: {e}){hint}") from e
    try:
        return keras.models.load_model(path, **kwargs)
    except Exception as error:  # Keras raises several types for a damaged archive
        damage = zip_damage(path)
        if damage is None:
            raise
        raise InputError(f"model file {str(path)!r} is corrupt ({damage})") from error


def _load_hdf5(path, kwargs):
    """A legacy HDF5 model; through a copy with an upgraded ``model_config`` where Keras 3 needs one."""
    import h5py

    with h5py.File(path, "r") as f:
        config = json.loads(f.attrs["model_config"])
    upgraded, changes = upgrade_keras2_config(config)
    if not changes:
        return keras.models.load_model(path, **kwargs)
    with tempfile.TemporaryDirectory(prefix="zfkeras-keras2-") as folder:
        copy = os.path.join(folder, "model" + os.path.splitext(os.fspath(path))[1])
        shutil.copyfile(path, copy)
        with h5py.File(copy, "r+") as f:
            f.attrs["model_config"] = json.dumps(upgraded)
        return keras.models.load_model(copy, **kwargs)  # reads every weight: the copy may go
