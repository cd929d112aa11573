"""Occlusion sensitivity: `occlusion(model, images, size, stride, ...)`, and
`tune_approximate` (the cheapest approximate setting at a target SSIM).

Importing this package does not import TensorFlow; the names load on use.
The package is named apart from the function so that ``zfkeras.occlusion``
is always the function, whatever was imported before.
"""

from zfkeras.utils.lazy import lazy_exports

_EXPORTS = {
    "occlusion": "zfkeras.methods.occlusion.api",
    "OcclusionResult": "zfkeras.methods.occlusion.api",
    "tune_approximate": "zfkeras.methods.occlusion.tuning",
    "ApproximationTuning": "zfkeras.methods.occlusion.tuning",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
