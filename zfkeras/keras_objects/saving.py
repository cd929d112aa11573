"""Loading models that use zfkeras layers."""

import keras

# Importing these registers the custom classes with Keras' serialisation.
from zfkeras import layers  # noqa: F401  (registers the layers)
from zfkeras.keras_objects import constraints, losses  # noqa: F401
from zfkeras.runs import preprocessing  # noqa: F401


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
    """
    return keras.models.load_model(path, **kwargs)
