"""Occlusion sensitivity: `occlusion(model, images, size, stride, ...)`.

Importing this package does not import TensorFlow; the names load on use.
The package is also callable, ``zfkeras.occlusion(model, images, ...)``,
because the function and its package share a name: once the package is
imported, ``zfkeras.occlusion`` is the package, and calling it still works.
"""

import sys
import types

from zfkeras._lazy import lazy_exports

_EXPORTS = {
    "occlusion": "zfkeras.occlusion.api",
    "OcclusionResult": "zfkeras.occlusion.api",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from zfkeras.occlusion.api import occlusion

        return occlusion(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
