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

from zfkeras.plot.evolution_plot import evolution
from zfkeras.plot.explanations_plot import explanation_image, explanations
from zfkeras.plot.feature_visualization_plot import feature_visualization
from zfkeras.plot.invariance_plot import invariance
from zfkeras.plot.occlusion_plot import occlusion
from zfkeras.plot.top_k_plot import TopKPanels, top_k, top_k_panels

__all__ = ["evolution", "explanation_image", "explanations", "feature_visualization", "invariance", "occlusion",
           "TopKPanels", "top_k", "top_k_panels"]
