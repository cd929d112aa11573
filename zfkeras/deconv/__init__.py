"""The deconvnet of Zeiler & Fergus (2014) for Keras models.

`Deconvnet` mirrors a model's convolutional trunk (chains, branches, nested
models); `SUPPORTED_LAYERS` names the layers it has mirror rules for. The
rules live one class per layer type in `rules_*.py`, registered in
`zfkeras.deconv.rules`; the model graph they are bound to is
`zfkeras.graph` (walked once, shared with the occlusion engine).
"""

# Importing the rule modules registers their rules (in this order).
from zfkeras.deconv import rules_conv, rules_pool, rules_pointwise, rules_structure  # noqa: F401
from zfkeras.deconv.deconvnet import Deconvnet
from zfkeras.deconv.rules import supported_layer_labels

SUPPORTED_LAYERS = ", ".join(label.replace("`", "") for label in supported_layer_labels())

__all__ = ["Deconvnet", "SUPPORTED_LAYERS"]
