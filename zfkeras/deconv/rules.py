"""The registry of mirror rules: one small class per mirrored layer type.

A rule binds one Keras layer of the convolutional trunk and knows
* how to go **up** (the forward computation, returning what the way down
  needs, e.g. a max pool's switches),
* how to go **down** (map a signal at the layer's output to its inputs: the
  deconvnet's mirror of the layer).

Its geometry (window, strides, padding) is not the rule's: every tool reads
it from the one model graph (`zfkeras.graph`).

Adding a layer type means adding one `Rule` subclass decorated with
`register`. `SUPPORTED_LAYERS` and the supported-layer list of
docs/DECONVNET.md are generated from the registry.
"""

import keras
import tensorflow as tf

RULES = []  # registered rule classes, in the order they are tried

class UnsupportedLayer(Exception):
    """Raised by a rule's constructor for a configuration it cannot mirror."""


def register(rule_class):
    """Class decorator adding a rule to the registry."""
    RULES.append(rule_class)
    return rule_class


class Rule:
    """Base class: a pointwise layer whose way down is the identity.

    Class attributes:
        layer_types: Keras classes this rule handles (``isinstance``).
        exact_type: match only those exact classes, not their subclasses
            (a subclass may change ``call``).
        label: how the supported-layer list names it.
        mirror: one line saying what the way down does (docs).
    """

    layer_types = ()
    exact_type = False
    label = ""
    mirror = "identity"

    def __init__(self, layer, unpooling):
        self.layer = layer
        self.unpooling = unpooling
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise UnsupportedLayer(" with data_format channels_first")

    @classmethod
    def matches(cls, layer):
        if cls.exact_type:
            return type(layer) in cls.layer_types
        return isinstance(layer, cls.layer_types)

    def up(self, inputs):
        """Forward pass. Args: list of input tensors. Returns ``(output, saved)``."""
        return inputs[0], None

    def down(self, signal, saved):
        """Way down. Returns one signal per input (None: no signal)."""
        return [signal]


def activation_name(fn):
    """The Keras activation's name (``"relu"``, ``"linear"``, ...)."""
    return getattr(fn, "__name__", type(fn).__name__)


# Forward ops of the activations a rule can mirror: relu and relu6 are
# rectified on the way down (as the paper's ReLU), linear passes through.
FORWARD_ACTIVATIONS = {"relu": tf.nn.relu, "relu6": tf.nn.relu6, "linear": None}


def checked_activation(layer):
    """The forward op of ``layer.activation`` (None for linear).

    Raises:
        UnsupportedLayer: any other activation.
    """
    name = activation_name(layer.activation)
    if name not in FORWARD_ACTIVATIONS:
        raise UnsupportedLayer(f" with activation {name!r} (only relu, relu6 or linear)")
    return FORWARD_ACTIVATIONS[name]


def rule_for(layer, unpooling):
    """The bound rule for ``layer``.

    Raises:
        UnsupportedLayer: no rule matches, or the matching one refuses the
            layer's configuration (the message says why).
    """
    for rule_class in RULES:
        if rule_class.matches(layer):
            return rule_class(layer, unpooling)
    raise UnsupportedLayer("")


def supported_layer_labels():
    """One label per registered rule, in registry order, plus nested models."""
    return [rule.label for rule in RULES] + [
        "nested keras.Model (Functional or Sequential; walked into)"
    ]


def supported_layers_markdown():
    """The supported-layer list of docs/DECONVNET.md: rule and way down."""
    lines = ["| layer | way down |", "|---|---|"]
    for rule in RULES:
        lines.append(f"| {rule.label} | {rule.mirror} |")
    lines.append(
        "| nested `keras.Model` (Functional or Sequential) | walked into; its layers "
        "are named `outer/inner/layer` |"
    )
    return "\n".join(lines)
