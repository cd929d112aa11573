"""Loading models that use zfkeras layers."""

import os

import keras

# Importing these registers the custom classes with Keras' serialisation.
from zfkeras import layers  # noqa: F401  (registers the layers)
from zfkeras.keras_objects import constraints, losses  # noqa: F401
from zfkeras.runs import preprocessing  # noqa: F401
from zfkeras.utils.errors import InputTypeError, MissingInputError


def load_model(path, **kwargs):
    """`keras.models.load_model` with zfkeras' layers registered.

    ``import zfkeras`` is lazy (it does not import TensorFlow), so the
    custom classes are registered only once a zfkeras module is imported;
    this function makes sure they are.

    Args:
        path: a ``.keras`` file.
        **kwargs: passed to `keras.models.load_model`.

    Returns:
        The model.

    Raises:
        MissingInputError: a local ``path`` that is not a file.
        InputTypeError: ``path`` is not a path.
    """
    try:
        text = os.fspath(path)
    except TypeError:
        raise InputTypeError(f"path must be a .keras file path, got {path!r} of type {type(path).__name__}") from None
    if "://" not in str(text) and not os.path.isfile(text):  # remote files (gs://...) are Keras' to check
        raise MissingInputError(f"load_model: {text!r} is not a file; pass the path of a saved .keras model")
    return keras.models.load_model(path, **kwargs)
