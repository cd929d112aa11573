"""Mirror rules for the convolutions: Conv2D, DepthwiseConv2D, SeparableConv2D.

Each filters the signal with the transpose of its forward linear map, read
from the layer's live variables (tied weights), without the bias -- the
paper's "filter with the transposed filters". A relu/relu6 activation is
rectified first (`zfkeras.deconv.rules.rectify`: per backward method).

``saved`` is ``(what the transpose needs, the layer's output)``: the
output's sign is the forward mask of guided backprop and the gradient.
"""

import keras
import tensorflow as tf

from zfkeras.deconv.rules import (
    DECONVNET,
    Rule,
    UnsupportedLayer,
    checked_activation,
    rectify,
    register,
    vector_jacobian,
)


class ConvRule(Rule):
    """Shared parts: activation, strides, padding, dilation."""

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        self.activation = checked_activation(layer)
        self.strides = [int(v) for v in layer.strides]
        self.padding = layer.padding.upper()
        self.dilation = tuple(int(v) for v in layer.dilation_rate)
        self.dilated = self.dilation != (1, 1)

    def _finish_up(self, x, y):
        if self.layer.use_bias:
            y = tf.nn.bias_add(y, tf.cast(self.layer.bias, x.dtype))
        if self.activation is not None:
            y = self.activation(y)
        # A dilated transpose needs the input itself: TensorFlow's CPU kernels have
        # no dilated transposed op, so it is the vector-Jacobian product.
        return y, ((x if self.dilated else tf.shape(x)), y)

    def _rectify(self, signal, saved, method):
        """The activation's way down; returns it with what the transpose needs."""
        needed, output = saved
        return rectify(signal, output, self.activation, method), needed


@register
class Conv2DRule(ConvRule):
    layer_types = (keras.layers.Conv2D,)
    exact_type = True
    label = "`Conv2D` (activation relu, relu6 or linear; any strides, VALID/SAME, dilation or groups)"
    mirror = ("rectify (relu, relu6), then filter with the same kernel transposed "
              "(`conv2d_transpose`, per group for `groups`), no bias")

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        self.groups = int(layer.groups)
        if self.groups != 1 and self.dilated:
            raise UnsupportedLayer(" with both dilation and groups")

    def _conv(self, x):
        kernel = tf.cast(self.layer.kernel, x.dtype)
        if self.dilated:
            return tf.nn.convolution(x, kernel, self.strides, self.padding, dilations=self.dilation)
        if self.groups != 1:
            # One convolution per group: TensorFlow's CPU kernels refuse a
            # grouped convolution fused with its bias.
            return tf.concat([
                tf.nn.conv2d(part, k, self.strides, self.padding)
                for part, k in zip(tf.split(x, self.groups, axis=-1),
                                   tf.split(kernel, self.groups, axis=-1))
            ], axis=-1)
        return tf.nn.conv2d(x, kernel, self.strides, self.padding)

    def up(self, inputs):
        return self._finish_up(inputs[0], self._conv(inputs[0]))

    def down(self, signal, saved, method=DECONVNET):
        signal, saved = self._rectify(signal, saved, method)
        if self.dilated:
            return [vector_jacobian(self._conv, saved, signal)]
        kernel = tf.cast(self.layer.kernel, signal.dtype)  # tied weights, live
        if self.groups == 1:
            return [tf.nn.conv2d_transpose(signal, kernel, saved, self.strides, self.padding)]
        # Group g maps input channels of group g to output channels of group g.
        group_shape = tf.concat([saved[:3], [kernel.shape[2]]], axis=0)
        parts = [
            tf.nn.conv2d_transpose(s, k, group_shape, self.strides, self.padding)
            for s, k in zip(tf.split(signal, self.groups, axis=-1),
                            tf.split(kernel, self.groups, axis=-1))
        ]
        return [tf.concat(parts, axis=-1)]


def _depthwise(x, kernel, strides, padding, dilation):
    return tf.nn.depthwise_conv2d(x, kernel, [1, *strides, 1], padding, dilations=dilation)


class _DepthwiseBase(ConvRule):
    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        if self.dilated and self.strides != [1, 1]:
            raise UnsupportedLayer(" with both dilation and strides")

    def _depthwise_kernel(self, dtype):
        # DepthwiseConv2D calls it `kernel`, SeparableConv2D `depthwise_kernel`.
        layer = self.layer
        kernel = layer.kernel if isinstance(layer, keras.layers.DepthwiseConv2D) else layer.depthwise_kernel
        return tf.cast(kernel, dtype)

    def _depthwise_transpose(self, signal, saved):
        """Transpose of the depthwise step, back to the layer's input."""
        kernel = self._depthwise_kernel(signal.dtype)
        if self.dilated:
            return vector_jacobian(
                lambda x: _depthwise(x, kernel, self.strides, self.padding, self.dilation),
                saved, signal)
        return tf.nn.depthwise_conv2d_backprop_input(
            saved, kernel, signal, [1, *self.strides, 1], self.padding)


@register
class DepthwiseConv2DRule(_DepthwiseBase):
    layer_types = (keras.layers.DepthwiseConv2D,)
    exact_type = True
    label = "`DepthwiseConv2D` (activation relu, relu6 or linear)"
    mirror = ("rectify (relu, relu6), then the transposed depthwise convolution with the same "
              "kernel (`depthwise_conv2d_backprop_input`), no bias")

    def up(self, inputs):
        x = inputs[0]
        kernel = self._depthwise_kernel(x.dtype)
        return self._finish_up(x, _depthwise(x, kernel, self.strides, self.padding, self.dilation))

    def down(self, signal, saved, method=DECONVNET):
        return [self._depthwise_transpose(*self._rectify(signal, saved, method))]


@register
class SeparableConv2DRule(_DepthwiseBase):
    layer_types = (keras.layers.SeparableConv2D,)
    exact_type = True
    label = "`SeparableConv2D` (activation relu, relu6 or linear)"
    mirror = ("rectify (relu, relu6), then the transposed pointwise step (its 1x1 kernel "
              "transposed), then the transposed depthwise step, same kernels, no bias")

    def up(self, inputs):
        x = inputs[0]
        depthwise = self._depthwise_kernel(x.dtype)
        pointwise = tf.cast(self.layer.pointwise_kernel, x.dtype)
        y = tf.nn.separable_conv2d(x, depthwise, pointwise, [1, *self.strides, 1], self.padding,
                                   dilations=self.dilation)
        return self._finish_up(x, y)

    def down(self, signal, saved, method=DECONVNET):
        signal, saved = self._rectify(signal, saved, method)
        pointwise = tf.cast(self.layer.pointwise_kernel, signal.dtype)  # (1, 1, C*M, F)
        between = tf.nn.conv2d(signal, tf.transpose(pointwise, [0, 1, 3, 2]), 1, "VALID")
        return [self._depthwise_transpose(between, saved)]
