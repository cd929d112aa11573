"""The ZFNet model family."""

from zfkeras.models.zfnet import (
    ABLATIONS,
    alexnet_dense,
    paper_initializer,
    zfnet,
    zfnet_ablation,
    zfnet_small,
)

__all__ = ["ABLATIONS", "alexnet_dense", "paper_initializer", "zfnet", "zfnet_ablation", "zfnet_small"]
