"""zfkeras: Zeiler & Fergus (2014) for Keras.

The public API is re-exported here and imported lazily, so that
``import zfkeras`` (and the ``zfkeras`` command's ``--help``) does not pay
for importing TensorFlow until a name is used.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "MaxPoolWithArgmax": "zfkeras.layers",
    "MaxUnpool2D": "zfkeras.layers",
    "LocalResponseNormalization": "zfkeras.layers",
    "FilterRMSClip": "zfkeras.constraints",
    "max_pool_with_argmax": "zfkeras.layers",
    "unpool": "zfkeras.layers",
    "zfnet": "zfkeras.models",
    "alexnet_dense": "zfkeras.models",
    "zfnet_small": "zfkeras.models",
    "zfnet_ablation": "zfkeras.models",
    "ABLATIONS": "zfkeras.models",
    "Deconvnet": "zfkeras.deconv",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zfkeras' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
