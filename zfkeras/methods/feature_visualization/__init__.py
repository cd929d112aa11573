"""Feature visualisation by optimisation: `feature_visualization(model,
objectives, method="maco"|"fourier", ...)` and its result,
`FeatureVisualization`.

Modules, one concept each: `fourier` (the image as Fourier coefficients:
Lucid's 1/f-scaled spectrum, MaCo's phase over a fixed magnitude), `color`
(the fixed colour decorrelation), `pixel_space` (the model's preprocessing
as a per-pixel affine map, so images stay valid), `transforms` (random
views: Lucid's jitter/scale/rotation, MaCo's crops and noise), `objectives`
(units and classes, read from one sub-model) and `optimize` (the loop).
Importing this package does not import TensorFlow; the names load on use.
"""

from zfkeras.utils.lazy import lazy_exports

_EXPORTS = {
    "feature_visualization": "zfkeras.methods.feature_visualization.optimize",
    "FeatureVisualization": "zfkeras.methods.feature_visualization.optimize",
    "objective_values": "zfkeras.methods.feature_visualization.objectives",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
