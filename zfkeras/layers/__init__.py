"""zfkeras layers: switch-recording pooling, unpooling, contrast normalisation."""

from zfkeras.keras_objects.constraints import FilterRMSClip
from zfkeras.layers.local_response_normalization import LocalResponseNormalization
from zfkeras.layers.max_pool_with_argmax import MaxPoolWithArgmax, max_pool_with_argmax
from zfkeras.layers.max_unpool import MaxUnpool2D, unpool, unpool_like

__all__ = [
    "FilterRMSClip",
    "LocalResponseNormalization",
    "MaxPoolWithArgmax",
    "MaxUnpool2D",
    "max_pool_with_argmax",
    "unpool",
    "unpool_like",
]
