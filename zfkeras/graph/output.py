"""The one output policy: does a model end in probabilities or in logits?

Decided here, once, for every tool that needs class probabilities
(occlusion, faithfulness, evaluation, invariance, the export, the explorer)
or a class's pre-softmax score (Grad-CAM, the backward rules, feature
visualisation): a model whose last layer applies a softmax (a layer with
``activation="softmax"``, an ``Activation("softmax")`` or a ``Softmax``
layer, looked for inside a nested last model too) outputs probabilities;
any other model outputs logits. ``from_logits`` overrides the detection.
"""

import dataclasses

import numpy as np

from zfkeras.utils.errors import InputError, InputTypeError

__all__ = ["OutputPolicy", "output_policy", "is_softmax", "last_layer"]

# How far a probability row may be from summing to 1 (float32 softmax is
# within ~1e-6; anything this far off is not a probability output).
_SUM_TOLERANCE = 1e-3


def is_softmax(layer):
    """Whether the Keras ``layer`` ends in a softmax (its activation, an
    ``Activation("softmax")`` or a ``Softmax`` layer)."""
    if type(layer).__name__ == "Softmax":
        return True
    return getattr(getattr(layer, "activation", None), "__name__", "") == "softmax"


def last_layer(model):
    """The layer that computes ``model``'s output (inside nested models)."""
    import keras

    layer = model
    while isinstance(layer, keras.Model):
        try:
            history = layer.outputs[0]._keras_history
            layer = history.operation if hasattr(history, "operation") else history[0]
        except (AttributeError, IndexError, TypeError, ValueError):
            if not getattr(layer, "layers", None):
                return layer
            layer = layer.layers[-1]
    return layer


@dataclasses.dataclass(frozen=True)
class OutputPolicy:
    """How a model's outputs become class probabilities.

    Attributes:
        softmax_head: the model's last layer applies a softmax.
        from_logits: the outputs are logits (a softmax makes them
            probabilities); by default ``not softmax_head``.
        model_name: for messages.
    """

    softmax_head: bool
    from_logits: bool
    model_name: str

    def probabilities(self, outputs):
        """``outputs`` ``(N, classes)`` as float32 class probabilities.

        Raises:
            InputError: the outputs are not ``(N, classes)``, or they should
                be probabilities (``from_logits=False``) and are not.
        """
        outputs = np.asarray(outputs, dtype="float64")
        if outputs.ndim != 2 or outputs.shape[1] < 2:
            raise InputError(f"a classifier whose output is (N, classes) is needed; model "
                             f"{self.model_name!r} outputs shape {outputs.shape}")
        if self.from_logits:
            shifted = outputs - outputs.max(axis=1, keepdims=True)
            exp = np.exp(shifted)
            return (exp / exp.sum(axis=1, keepdims=True)).astype("float32")
        sums = outputs.sum(axis=1)
        if outputs.min() < -1e-6 or outputs.max() > 1 + 1e-6 or np.abs(sums - 1).max() > _SUM_TOLERANCE:
            raise InputError(
                f"the output of model {self.model_name!r} is not probabilities (values in "
                f"[{outputs.min():.3g}, {outputs.max():.3g}], rows sum to {sums.min():.3g}..{sums.max():.3g}); "
                "pass from_logits=True if it outputs logits")
        return outputs.astype("float32")

    def probabilities_tensor(self, outputs):
        """The same for a TensorFlow tensor (inside graphs; nothing checked)."""
        import tensorflow as tf

        return tf.nn.softmax(outputs, axis=-1) if self.from_logits else outputs


def output_policy(model, from_logits=None):
    """The `OutputPolicy` of ``model``.

    Args:
        model: a Keras classifier.
        from_logits: None (detect: logits unless the last layer applies a
            softmax), True (the outputs are logits) or False (they are
            probabilities, checked when converted).
    """
    if from_logits is not None and not isinstance(from_logits, bool):
        raise InputTypeError(f"from_logits must be None, True or False; got {from_logits!r}")
    softmax_head = is_softmax(last_layer(model))
    return OutputPolicy(softmax_head, (not softmax_head) if from_logits is None else from_logits,
                        getattr(model, "name", "model"))
