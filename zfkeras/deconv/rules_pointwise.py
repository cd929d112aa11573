"""Mirror rules for pointwise layers: rectifiers, normalisations, identities."""

import numpy as np
import keras
import tensorflow as tf

from zfkeras.deconv.rules import (
    DECONVNET,
    FORWARD_ACTIVATIONS,
    Rule,
    UnsupportedLayer,
    activation_name,
    rectify,
    register,
    vector_jacobian,
)
from zfkeras.layers.local_response_normalization import LocalResponseNormalization


@register
class ReLURule(Rule):
    layer_types = (keras.layers.ReLU,)
    label = "`ReLU` (plain or `max_value=6`)"
    mirror = ("rectify: relu(signal), whatever the forward input was (the paper's rule); "
              "guided backprop: also the forward mask; gradient: the mask only")

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        if layer.negative_slope != 0 or layer.threshold != 0:
            raise UnsupportedLayer(" with negative_slope or threshold")
        if layer.max_value is None:
            self.forward = tf.nn.relu
        elif float(layer.max_value) == 6.0:
            self.forward = tf.nn.relu6
        else:
            raise UnsupportedLayer(f" with max_value={layer.max_value} (only None or 6)")

    def up(self, inputs):
        y = self.forward(inputs[0])
        return y, y

    def down(self, signal, saved, method=DECONVNET):
        return [rectify(signal, saved, self.forward, method)]


@register
class ActivationRule(Rule):
    layer_types = (keras.layers.Activation,)
    label = "`Activation` (relu, relu6 or linear)"
    mirror = "relu, relu6: rectify; linear: identity"

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        name = activation_name(layer.activation)
        if name not in FORWARD_ACTIVATIONS:
            raise UnsupportedLayer(f" with activation {name!r} (only relu, relu6 or linear)")
        self.forward = FORWARD_ACTIVATIONS[name]

    def up(self, inputs):
        x = inputs[0]
        y = x if self.forward is None else self.forward(x)
        return y, y

    def down(self, signal, saved, method=DECONVNET):
        return [rectify(signal, saved, self.forward, method)]


@register
class BatchNormalizationRule(Rule):
    layer_types = (keras.layers.BatchNormalization,)
    label = "`BatchNormalization` (channels axis, inference mode)"
    mirror = ("multiply each channel by gamma / sqrt(moving_variance + epsilon), no shift: "
              "the linear part of the inference-mode affine map")

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        axis = layer.axis if isinstance(layer.axis, int) else tuple(layer.axis)
        if axis not in (-1, 3, (-1,), (3,)):
            raise UnsupportedLayer(f" with axis={layer.axis!r} (only the channel axis, -1)")

    def up(self, inputs):
        return self.layer(inputs[0], training=False), None

    def down(self, signal, saved, method=DECONVNET):
        layer = self.layer
        scale = tf.math.rsqrt(tf.cast(layer.moving_variance, signal.dtype) + layer.epsilon)
        if layer.scale:
            scale = scale * tf.cast(layer.gamma, signal.dtype)
        return [signal * scale]


@register
class RescalingRule(Rule):
    layer_types = (keras.layers.Rescaling,)
    label = "`Rescaling`"
    mirror = "multiply by its scale (the offset is a shift, dropped)"

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        self.scale = np.asarray(layer.scale, "float32")
        self.offset = np.asarray(layer.offset, "float32")
        if self.scale.ndim == 0:  # plain floats keep the graph as it was
            self.scale, self.offset = float(self.scale), float(self.offset)

    def up(self, inputs):
        return inputs[0] * self.scale + self.offset, None

    def down(self, signal, saved, method=DECONVNET):
        return [signal * self.scale]


@register
class LocalResponseNormalizationRule(Rule):
    layer_types = (LocalResponseNormalization,)
    label = "`LocalResponseNormalization`"
    mirror = ("identity: skipped on the way down, as in the paper; guided backprop and "
              "gradient: its true gradient")

    def up(self, inputs):
        return self.layer(inputs[0]), inputs[0]

    def down(self, signal, saved, method=DECONVNET):
        if method == DECONVNET:
            return [signal]
        return [vector_jacobian(self.layer, saved, signal)]


@register
class IdentityRule(Rule):
    layer_types = (keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.Identity)
    label = "`Dropout`, `SpatialDropout2D`, `Identity`"
    mirror = "identity (they are the identity at inference)"
