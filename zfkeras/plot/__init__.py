"""Pictures of zfkeras results: one function per kind of result.

Each returns a `matplotlib.figure.Figure` (shown by Jupyter; ``savefig``
to write it) or draws into the axes given as ``ax``:

* `explanations`: explanations beside their images, several methods side
  by side (signed maps in a diverging colour map centred on zero,
  per-channel attributions as deconvnet projections);
* `top_k`: a unit's top k, projections beside image patches (Fig. 2's
  panel), from `top_k_panels`;
* `occlusion`: occlusion sensitivity (Fig. 7's panels);
* `feature_visualization`: feature visualisations with MaCo's transparency;
* `evolution`: feature evolution during training (Fig. 4);
* `invariance`: invariance curves (Fig. 5).

The report's figures are drawn by these same functions. matplotlib only
(figures on the Agg canvas: no display needed); no TensorFlow import.
"""

from zfkeras.utils.lazy import lazy_exports

# Imported on first use: a report section that draws one kind of figure
# depends on that module only (the report's cache follows `_EXPORTS`).
_EXPORTS = {
    "evolution": "zfkeras.plot.evolution_plot",
    "explanation_image": "zfkeras.plot.explanations_plot",
    "explanations": "zfkeras.plot.explanations_plot",
    "feature_visualization": "zfkeras.plot.feature_visualization_plot",
    "invariance": "zfkeras.plot.invariance_plot",
    "occlusion": "zfkeras.plot.occlusion_plot",
    "TopKPanels": "zfkeras.plot.top_k_plot",
    "top_k": "zfkeras.plot.top_k_plot",
    "top_k_panels": "zfkeras.plot.top_k_plot",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
