"""Mirror rules for the spatial poolings: max pooling and average pooling."""

import keras
import tensorflow as tf

from zfkeras.deconv.rules import DECONVNET, Rule, register
from zfkeras.layers._pooling import normalize_pool_args
from zfkeras.layers.max_pool_with_argmax import MaxPoolWithArgmax, max_pool_with_argmax
from zfkeras.layers.max_unpool import unpool_like


class _PoolRule(Rule):
    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        self.pool_size, self.strides, self.padding = normalize_pool_args(
            layer.pool_size, layer.strides, layer.padding)
        self.ksize = [1, *self.pool_size, 1]
        self.kstrides = [1, *self.strides, 1]


@register
class MaxPoolRule(_PoolRule):
    layer_types = (keras.layers.MaxPooling2D, MaxPoolWithArgmax)
    label = "`MaxPooling2D`, `MaxPoolWithArgmax` (VALID/SAME, overlapping windows)"
    mirror = ("unpool: each value goes to its window's switch (the argmax in the pool's input, "
              "recorded on the way up); values of overlapping windows that share a switch add up")

    def up(self, inputs):
        x = inputs[0]
        if self.unpooling == "max_pool_grad":
            y = tf.nn.max_pool2d(x, self.pool_size, self.strides, self.padding.upper())
            return y, (x, y)
        y, switches = max_pool_with_argmax(x, self.pool_size, self.strides, self.padding)
        return y, (switches, x)

    def down(self, signal, saved, method=DECONVNET):
        if self.unpooling == "max_pool_grad":
            x, y = saved
            # The max-pool gradient routes each value to its window's argmax:
            # the same unpooling, with the switches kept inside the pooling
            # kernel (oneDNN's workspace on CPU).
            return [tf.raw_ops.MaxPoolGrad(orig_input=x, orig_output=y, grad=signal,
                                           ksize=self.ksize, strides=self.kstrides,
                                           padding=self.padding.upper())]
        switches, pooled_input = saved
        return [unpool_like(signal, switches, pooled_input, self.pool_size, self.strides,
                            self.padding)]


@register
class AveragePoolRule(_PoolRule):
    layer_types = (keras.layers.AveragePooling2D,)
    label = "`AveragePooling2D` (VALID/SAME)"
    mirror = ("spread each value evenly over its window (divided by the window's count of "
              "real pixels, as the forward average): the pooling's transpose, `AvgPoolGrad`")

    def up(self, inputs):
        x = inputs[0]
        return tf.nn.avg_pool2d(x, self.pool_size, self.strides, self.padding.upper()), tf.shape(x)

    def down(self, signal, saved, method=DECONVNET):
        return [tf.raw_ops.AvgPoolGrad(orig_input_shape=saved, grad=signal, ksize=self.ksize,
                                       strides=self.kstrides, padding=self.padding.upper())]
