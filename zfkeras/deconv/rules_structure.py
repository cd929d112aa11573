"""Mirror rules for layers that move or merge tensors: padding, cropping,
Add and Concatenate."""

import keras
import tensorflow as tf

from zfkeras.deconv.rules import DECONVNET, Rule, UnsupportedLayer, register


def _paddings(layer_padding):
    """Keras ``((top, bottom), (left, right))`` as ints."""
    return tuple(tuple(int(v) for v in pair) for pair in layer_padding)


@register
class ZeroPadding2DRule(Rule):
    layer_types = (keras.layers.ZeroPadding2D,)
    label = "`ZeroPadding2D`"
    mirror = "crop the padding off"

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        self.padding = _paddings(layer.padding)

    def up(self, inputs):
        x = inputs[0]
        (t, b), (l, r) = self.padding
        return tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]), tf.shape(x)

    def down(self, signal, saved, method=DECONVNET):
        (t, _), (l, _) = self.padding
        return [signal[:, t : t + saved[1], l : l + saved[2], :]]


@register
class Cropping2DRule(Rule):
    layer_types = (keras.layers.Cropping2D,)
    label = "`Cropping2D`"
    mirror = "pad the cropped border back with zeros"

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        self.cropping = _paddings(layer.cropping)

    def up(self, inputs):
        x = inputs[0]
        (t, b), (l, r) = self.cropping
        shape = tf.shape(x)
        return x[:, t : shape[1] - b, l : shape[2] - r, :], None

    def down(self, signal, saved, method=DECONVNET):
        (t, b), (l, r) = self.cropping
        return [tf.pad(signal, [[0, 0], [t, b], [l, r], [0, 0]])]


@register
class AddRule(Rule):
    layer_types = (keras.layers.Add,)
    label = "`Add`"
    mirror = "the whole signal goes to every input (the transpose of a sum)"

    def up(self, inputs):
        return tf.add_n(inputs), len(inputs)

    def down(self, signal, saved, method=DECONVNET):
        return [signal] * saved


@register
class ConcatenateRule(Rule):
    layer_types = (keras.layers.Concatenate,)
    label = "`Concatenate` (channel axis)"
    mirror = "split the signal along the channels, each input gets its part"

    def __init__(self, layer, unpooling):
        super().__init__(layer, unpooling)
        if layer.axis not in (-1, 3):
            raise UnsupportedLayer(f" with axis={layer.axis} (only the channel axis, -1)")

    def up(self, inputs):
        sizes = [int(x.shape[-1]) for x in inputs]
        return tf.concat(inputs, axis=-1), sizes

    def down(self, signal, saved, method=DECONVNET):
        return tf.split(signal, saved, axis=-1)
