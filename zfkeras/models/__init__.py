"""The ZFNet model family: paper Fig. 3, the dense Krizhevsky baseline, the
Table 2 ablations and small-input variants.

The builders import Keras the first time one is used; `ABLATIONS` is plain
data, so ``from zfkeras.models import ABLATIONS`` stays instant.
"""

from zfkeras.utils.lazy import lazy_exports
from zfkeras.models.ablations import ABLATIONS

_LAZY_EXPORTS = {
    name: "zfkeras.models.builders"
    for name in ("ablation_kwargs", "alexnet_dense", "paper_initializer", "zfnet", "zfnet_ablation", "zfnet_small")
}

__all__ = sorted(["ABLATIONS", *_LAZY_EXPORTS])

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_EXPORTS)
