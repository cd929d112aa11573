"""The registry of LRP layer rules: how relevance crosses each layer type.

Each class binds one walked step (`zfkeras.graph.walk.Step`) and computes
its **true forward value** with a custom gradient that carries relevance
instead of the gradient: the backward signal of the whole model is the
relevance of every tensor, so one ``tape.gradient`` seeded with the class
score is one LRP pass (one forward, one backward).

==============================  ===============================================
layer                           relevance
==============================  ===============================================
Dense, Conv2D, DepthwiseConv2D  the layer's `rules.Rule` on its linear part
SeparableConv2D                 the rule on the composed (one-convolution) kernel
BatchNormalization              folded into the linear layer before it
                                (canonisation), else the rule on its affine map
AveragePooling2D, Global-       in proportion to each input's contribution
AveragePooling2D, Add, Average  (``x_i R / z``, conserving)
MaxPooling2D, GlobalMax-        winner takes all (the gradient's routing)
Pooling2D, Flatten, Reshape,    or moved unchanged
Concatenate, padding, cropping,
Dropout, Identity, Permute
activations, ReLU, Rescaling,   passed through unchanged (elementwise; a
LocalResponseNormalization      dead unit's relevance is 0 by the next rule)
==============================  ===============================================

Adding a layer type means adding one `LayerRule` subclass decorated with
`register`.
"""

import keras
import tensorflow as tf

from zfkeras.layers.local_response_normalization import LocalResponseNormalization
from zfkeras.layers.max_pool_with_argmax import MaxPoolWithArgmax
from zfkeras.methods.lrp.rules import LinearMap, divide
from zfkeras.utils.errors import InputError

L = keras.layers
LAYER_RULES = []

__all__ = ["LAYER_RULES", "register", "LayerRule", "layer_rule", "relevance_op", "linear_maps", "is_linear"]


def register(cls):
    """Class decorator adding a `LayerRule` to the registry."""
    LAYER_RULES.append(cls)
    return cls


def relevance_op(forward, backward):
    """An op computing ``forward(*xs)`` whose gradient is ``backward(xs, y, R)``
    (a list, one relevance per input)."""

    @tf.custom_gradient
    def op(*xs):
        y = forward(*xs)

        def grad(relevance):
            out = backward(list(xs), y, relevance)
            return out if len(xs) > 1 else out[0]

        return y, grad

    return op


def _pass_through(fn):
    """``fn`` forward, relevance unchanged backward (elementwise layers)."""
    return relevance_op(fn, lambda xs, y, r: [r])


class LayerRule:
    """Base class.

    Class attributes:
        layer_types: the Keras classes it handles.
        label: how docs name it.
    """

    layer_types = ()
    label = ""

    def __init__(self, step, rule=None, is_output=False, folded=None):
        self.step, self.layer, self.rule, self.is_output, self.folded = step, step.layer, rule, is_output, folded

    @classmethod
    def matches(cls, layer):
        return isinstance(layer, cls.layer_types)

    def forward(self, args):
        raise NotImplementedError


def _activation(layer):
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


def _conv_apply(layer):
    strides, dilations = tuple(layer.strides), tuple(layer.dilation_rate)
    padding = layer.padding.upper()

    def apply(x, kernel, bias):
        z = tf.nn.conv2d(x, kernel, strides, padding, dilations=dilations)
        return z if bias is None else z + bias

    return apply


def _depthwise_apply(layer):
    strides, dilations = (1,) + tuple(layer.strides) + (1,), tuple(layer.dilation_rate)
    padding = layer.padding.upper()

    def apply(x, kernel, bias):
        z = tf.nn.depthwise_conv2d(x, kernel, strides, padding, dilations=dilations)
        return z if bias is None else z + bias

    return apply


def _dense_apply(x, kernel, bias):
    z = tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]])
    return z if bias is None else z + bias


def _tensor(variable, dtype):
    return tf.cast(tf.convert_to_tensor(variable), dtype)


def linear_maps(layer, dtype=tf.float32):
    """The layer's linear part as `LinearMap`s applied in sequence."""
    bias = _tensor(layer.bias, dtype) if getattr(layer, "use_bias", False) else None
    if isinstance(layer, L.SeparableConv2D):
        # one convolution: its kernel is the depthwise kernel composed with the
        # pointwise one, so a rule sees each input's whole contribution
        depthwise = _tensor(layer.depthwise_kernel, dtype)  # (kh, kw, C, M)
        pointwise = _tensor(layer.pointwise_kernel, dtype)[0, 0]  # (C * M, F)
        kh, kw, channels, multiplier = depthwise.shape
        kernel = tf.einsum("hwcm,cmf->hwcf", depthwise, tf.reshape(pointwise, (channels, multiplier, -1)))
        return [LinearMap(_conv_apply(layer), kernel, bias)]
    if isinstance(layer, L.DepthwiseConv2D):
        return [LinearMap(_depthwise_apply(layer), _tensor(layer.kernel, dtype), bias)]
    if isinstance(layer, L.Conv2D):
        if getattr(layer, "groups", 1) != 1:
            raise InputError(f"LRP: layer {layer.name!r} is a grouped convolution (groups={layer.groups}); "
                             "only groups=1 is supported")
        return [LinearMap(_conv_apply(layer), _tensor(layer.kernel, dtype), bias)]
    return [LinearMap(_dense_apply, _tensor(layer.kernel, dtype), bias)]


def batch_norm_affine(layer, dtype=tf.float32):
    """``(scale, shift)`` of an inference-mode BatchNormalization: ``x scale + shift``."""
    variance = _tensor(layer.moving_variance, dtype)
    scale = tf.math.rsqrt(variance + layer.epsilon)
    if layer.scale:
        scale = scale * _tensor(layer.gamma, dtype)
    shift = -_tensor(layer.moving_mean, dtype) * scale
    if layer.center:
        shift = shift + _tensor(layer.beta, dtype)
    return scale, shift


def fold(maps, layer, batch_norm, dtype=tf.float32):
    """``maps`` (of ``layer``) with ``batch_norm`` after them folded into the last."""
    scale, shift = batch_norm_affine(batch_norm, dtype)
    last = maps[-1]
    if isinstance(layer, L.DepthwiseConv2D):  # output channel c * multiplier + m
        kernel = last.kernel * tf.reshape(scale, tf.shape(last.kernel)[2:])
    else:
        kernel = last.kernel * scale
    bias = shift if last.bias is None else last.bias * scale + shift
    return maps[:-1] + [LinearMap(last.apply, kernel, bias)]


def is_linear(layer):
    """Whether ``layer`` is one whose weights an LRP rule reads."""
    return isinstance(layer, LinearLayer.layer_types)


@register
class LinearLayer(LayerRule):
    layer_types = (L.Dense, L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D)
    label = "Dense, Conv2D, DepthwiseConv2D, SeparableConv2D"

    def forward(self, args):
        x = args[0]
        maps = linear_maps(self.layer, x.dtype)
        if self.folded is not None:
            maps = fold(maps, self.layer, self.folded, x.dtype)
        for linear in maps:
            x = relevance_op(lambda t, linear=linear: linear(t),
                             lambda xs, y, r, linear=linear: [self.rule.relevance(linear, xs[0], r, y)])(x)
        activation = _activation(self.layer)
        if activation == "linear" or (self.is_output and activation == "softmax"):
            return x  # the class score before a softmax head
        if activation == "softmax":
            raise InputError(f"LRP: layer {self.step.name!r} applies a softmax inside the model")
        if activation == "relu":  # its gradient passes relevance too: a dead unit's is 0 already
            return tf.nn.relu(x)
        return _pass_through(self.layer.activation)(x)


@register
class BatchNormLayer(LayerRule):
    layer_types = (L.BatchNormalization,)
    label = "BatchNormalization"

    def forward(self, args):
        if self.folded:  # canonised: the linear layer before it computed its output
            return args[0]
        x = args[0]
        scale, shift = batch_norm_affine(self.layer, x.dtype)
        linear = LinearMap(lambda t, k, b: t * k if b is None else t * k + b, scale, shift)
        return relevance_op(linear, lambda xs, y, r: [self.rule.relevance(linear, xs[0], r, y)])(x)


@register
class ProportionalLayer(LayerRule):
    """Average pools and sums: each input's share of the output."""

    layer_types = (L.AveragePooling2D, L.GlobalAveragePooling2D, L.Add, L.Average)
    label = "AveragePooling2D, GlobalAveragePooling2D, Add, Average"

    def forward(self, args):
        layer = self.layer
        call = (lambda *xs: layer(list(xs))) if len(args) > 1 else layer

        def backward(xs, y, relevance):
            with tf.GradientTape() as tape:
                tape.watch(xs)
                z = call(*xs)
            shares = tape.gradient(z, xs, output_gradients=divide(relevance, y))
            return [x * s for x, s in zip(xs, shares)]

        return relevance_op(call, backward)(*args)


@register
class RoutingLayer(LayerRule):
    """Layers that move or select values: relevance goes where the values came from."""

    layer_types = (L.MaxPooling2D, L.GlobalMaxPooling2D, MaxPoolWithArgmax, L.Flatten, L.Reshape, L.Concatenate,
                   L.ZeroPadding2D, L.Cropping2D, L.Dropout, L.SpatialDropout2D, L.Identity, L.Permute,
                   L.InputLayer)
    label = ("MaxPooling2D, GlobalMaxPooling2D, Flatten, Reshape, Concatenate, ZeroPadding2D, Cropping2D, "
             "Dropout, SpatialDropout2D, Identity, Permute")

    def forward(self, args):
        out = self.layer(args[0] if len(args) == 1 else args, training=False)
        return out[0] if isinstance(out, (tuple, list)) else out


@register
class ElementwiseLayer(LayerRule):
    """Elementwise maps: relevance passes unchanged (a softmax only as the
    model's output, where the class score is read before it)."""

    layer_types = (L.ReLU, L.LeakyReLU, L.ELU, L.Activation, L.Softmax, L.Rescaling,
                   LocalResponseNormalization)
    label = "ReLU, LeakyReLU, ELU, Activation, Rescaling, LocalResponseNormalization"

    def forward(self, args):
        softmax = isinstance(self.layer, L.Softmax) or _activation(self.layer) == "softmax"
        if softmax and self.is_output:
            return args[0]
        if softmax:
            raise InputError(f"LRP: layer {self.step.name!r} applies a softmax inside the model")
        if _plain_relu(self.layer):  # its gradient passes relevance too: a dead unit's is 0 already
            return tf.nn.relu(args[0])
        return _pass_through(lambda x: self.layer(x, training=False))(args[0])


def _plain_relu(layer):
    if isinstance(layer, L.Activation):
        return _activation(layer) == "relu"
    return (isinstance(layer, L.ReLU) and layer.max_value is None and not layer.negative_slope
            and not layer.threshold)


def layer_rule(step):
    """The `LayerRule` class for ``step``'s layer."""
    for cls in LAYER_RULES:
        if cls.matches(step.layer):
            return cls
    raise InputError(f"LRP has no rule for layer {step.name!r} of type {type(step.layer).__name__}; "
                     f"supported: {'; '.join(c.label for c in LAYER_RULES)}")
