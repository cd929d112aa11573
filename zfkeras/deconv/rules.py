"""The registry of mirror rules: one small class per mirrored layer type.

A rule binds one Keras layer of the convolutional trunk and knows
* how to go **up** (the forward computation, returning what the way down
  needs, e.g. a max pool's switches),
* how to go **down** (map a signal at the layer's output to its inputs: the
  deconvnet's mirror of the layer).

The way down takes a backward ``method`` (`METHODS`): the paper's
``"deconvnet"`` rectifies the signal at every rectifier; ``"guided_backprop"``
(Springenberg et al. 2015) also applies the forward ReLU's mask there;
``"gradient"`` applies the mask only, which makes the way down the plain
gradient (then the contrast normalisation takes its true gradient too).
Every other step is linear and the same for the three: max pools route to
their switches, the rest is the transpose of the layer's linear part.

Its geometry (window, strides, padding) is not the rule's: every tool reads
it from the one model graph (`zfkeras.graph`).

Adding a layer type means adding one `Rule` subclass decorated with
`register`. `SUPPORTED_LAYERS` and the supported-layer list of
docs/DECONVNET.md are generated from the registry.
"""

import keras
import tensorflow as tf

RULES = []  # registered rule classes, in the order they are tried

DECONVNET, GUIDED_BACKPROP, GRADIENT = "deconvnet", "guided_backprop", "gradient"
METHODS = (DECONVNET, GUIDED_BACKPROP, GRADIENT)

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

    def down(self, signal, saved, method=DECONVNET):
        """Way down with backward ``method`` (one of `METHODS`). Returns one
        signal per input (None: no signal)."""
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


def rectify(signal, output, forward, method):
    """The way down through a rectifier whose forward op ``forward`` (relu or
    relu6; None: linear) produced ``output``.

    deconvnet: ``relu(signal)``, whatever the forward input was (the paper);
    guided_backprop: ``relu(signal)`` where the forward rectifier passed its
    input (``0 < output``, and ``output < 6`` for relu6), zero elsewhere;
    gradient: ``signal`` there, zero elsewhere -- TensorFlow's own
    ``ReluGrad`` / ``Relu6Grad`` kernels, so the gradient is bitwise autodiff's.
    """
    if forward is None:
        return signal
    if method != GRADIENT:
        signal = tf.nn.relu(signal)
    if method == DECONVNET:
        return signal
    if forward is tf.nn.relu6:
        return tf.raw_ops.Relu6Grad(gradients=signal, features=output)
    return tf.raw_ops.ReluGrad(gradients=signal, features=output)


def vector_jacobian(fn, x, signal):
    """``signal`` times the Jacobian of ``fn`` at ``x`` (autodiff's backward):
    the transpose of a linear ``fn``, or the gradient of a nonlinear one."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x, output_gradients=signal)


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
