"""The ``occlude`` serving function: Fig. 7's maps for raw images, in the graph.

Square size, stride and the followed layer are fixed at export time (the
positions are then static). For each image of the request, as
``zfkeras.occlusion(model, images, size, stride, layer=layer)`` does with
its defaults: the fill is the per-channel mean of the request's
(preprocessed) images, the mapped class is the one predicted on the
unoccluded image, the followed map is the layer's channel with the largest
activation on the unoccluded image, and every occluded copy goes through
the whole model (in chunks of `CHUNK` positions).
"""

import keras
import tensorflow as tf

from zfkeras.methods.occlusion.full import occluded_copies
from zfkeras.utils.errors import InputError

# Occluded copies per model call inside the signature.
CHUNK = 64


def default_square(height):
    """The paper's 50 px square of a 224 px image, scaled to ``height``; and its stride."""
    size = max(1, int(round(50 / 224 * height)))
    return size, max(1, size // 5)


def corners(image_hw, size, stride):
    """Top-left corners of every square position, row-major, as Python ints."""
    rows = range(0, image_hw[0] - size + 1, stride)
    cols = range(0, image_hw[1] - size + 1, stride)
    return [(r, c) for r in rows for c in cols], (len(rows), len(cols))


class Occluder:
    """Builds the ``occlude`` function of one model.

    Args:
        model: the Keras classifier.
        size, stride: the square and its step, in pixels.
        layer: name of a top-level feature-map layer whose strongest map is followed.
        softmax: apply a softmax to the model output (it returns logits).
    """

    def __init__(self, model, size, stride, layer, softmax):
        image_hw = tuple(int(d) for d in model.inputs[0].shape[1:3])
        if size > min(image_hw):
            raise InputError(f"the occluding square (size={size!r}) is larger than the image {image_hw}")
        self.size, self.stride, self.layer, self.softmax = size, stride, layer, softmax
        self.corners, self.grid = corners(image_hw, size, stride)
        self._net = keras.Model(model.inputs[0], [model.outputs[0], model.get_layer(layer).output])

    def _probabilities(self, x):
        out, fmap = self._net(x, training=False)
        out = tf.cast(out, tf.float32)
        return (tf.nn.softmax(out, axis=-1) if self.softmax else out), tf.cast(fmap, tf.float32)

    def occlude(self, x):
        """Maps of preprocessed images ``x (N, H, W, C)``."""
        fill = tf.reduce_mean(x, axis=[0, 1, 2])
        probs, fmap = self._probabilities(x)
        label = tf.argmax(probs, axis=-1, output_type=tf.int32)
        strongest = tf.argmax(tf.reduce_max(fmap, axis=[1, 2]), axis=-1, output_type=tf.int32)
        maps = []
        for start in range(0, len(self.corners), CHUNK):
            chunk = tf.constant(self.corners[start:start + CHUNK], tf.int32)
            maps.append(tf.map_fn(
                lambda item, chunk=chunk: self._one(item[0], item[1], item[2], chunk, fill),
                (x, label, strongest),
                fn_output_signature=(tf.float32, tf.int32, tf.float32)))
        n = tf.shape(x)[0]
        shape = tf.stack([n, *self.grid])
        p, predicted, activity = (tf.reshape(tf.concat([m[k] for m in maps], axis=1), shape) for k in range(3))
        return {
            "class_probability": p,
            "predicted_label": predicted,
            "layer_activity": activity,
            "strongest_channel": strongest,
            "true_label": label,
            "unoccluded_probability": tf.gather(probs, label, batch_dims=1),
        }

    def _one(self, image, label, channel, chunk, fill):
        probs, fmap = self._probabilities(occluded_copies(image, chunk, self.size, fill))
        activity = tf.reduce_sum(tf.gather(fmap, channel, axis=-1), axis=[1, 2])
        return (tf.gather(probs, label, axis=-1), tf.argmax(probs, axis=-1, output_type=tf.int32), activity)
