"""Plain occlusion: every occluded copy through the whole model, in batches."""

import keras
import numpy as np
import tensorflow as tf

from zfkeras.utils.errors import InputError


def occluded_copies(image, corners, size, fill):
    """``(B, H, W, C)`` copies of ``image`` with the square at each of ``corners (B, 2)``.

    Made in the graph: a ``(B, H, W)`` mask from the corners, then a select
    -- no per-copy Python work.
    """
    rows = tf.range(tf.shape(image)[0])[None, :]
    cols = tf.range(tf.shape(image)[1])[None, :]
    top, left = corners[:, :1], corners[:, 1:]
    mask = (((rows >= top) & (rows < top + size))[:, :, None]
            & ((cols >= left) & (cols < left + size))[:, None, :])
    return tf.where(mask[..., None], fill, image[None])


class FullInference:
    """Runs occluded copies of an image through ``model`` (and ``layer``).

    One traced function returns the model output and, when ``layer`` is
    given, the per-channel spatial totals of that layer's output, from the
    same forward pass (a two-output sub-model).

    Args:
        model: the classifier.
        layer: name of a feature-map layer, or None.
    """

    def __init__(self, model, layer=None):
        self.model = model
        if layer is None:
            net = model
        else:
            from zfkeras.graph.addressing import layer_output

            try:
                feature_map = layer_output(model, layer)
            except ValueError as error:
                raise InputError(f"layer_activity cannot reach layer {layer!r} of model {model.name!r}: {error}") from None
            net = keras.Model(model.inputs[0], [model.outputs[0], feature_map])
        self._layer = layer
        self._net = net

        @tf.function(reduce_retracing=True)
        def forward(image, corners, size, fill):
            x = occluded_copies(image, corners, size, fill)
            if layer is None:
                return net(x, training=False), tf.zeros((tf.shape(x)[0], 0))
            out, fmap = net(x, training=False)
            return out, tf.reduce_sum(fmap, axis=[1, 2])

        self._forward = forward

    def unoccluded(self, images, batch_size):
        """Model outputs ``(N, K)`` and the layer's maps' maxima ``(N, C)`` (or None)."""
        outputs, maxima = [], []
        for start in range(0, len(images), batch_size):
            result = self._net(images[start:start + batch_size], training=False)
            if self._layer is None:
                outputs.append(np.asarray(result))
            else:
                outputs.append(np.asarray(result[0]))
                maxima.append(np.asarray(tf.reduce_max(result[1], axis=[1, 2])))
        return np.concatenate(outputs), (np.concatenate(maxima) if maxima else None)

    def run(self, image, corners, size, fill, batch_size, channel=None, progbar=None):
        """Occludes ``image`` at every corner and runs the model.

        Args:
            image: ``(H, W, C)`` float32.
            corners: ``(P, 2)`` top-left corners.
            size: side of the square.
            fill: ``(C,)`` fill value.
            batch_size: occluded copies per model call.
            channel: the layer's channel whose total to return, or None.
            progbar: a keras Progbar to advance, or None.

        Returns:
            ``(outputs (P, K), activity (P,) or None)``: model outputs and
            the total of ``channel`` of the layer's output.
        """
        outputs, totals = [], []
        image, fill = tf.constant(image), tf.constant(fill, tf.float32)
        size = tf.constant(size, tf.int32)
        for start in range(0, len(corners), batch_size):
            chunk = tf.constant(corners[start:start + batch_size], tf.int32)
            out, total = self._forward(image, chunk, size, fill)
            outputs.append(out.numpy())
            totals.append(total.numpy())
            if progbar is not None:
                progbar.add(int(chunk.shape[0]))
        activity = None if channel is None else np.concatenate(totals)[:, channel]
        return np.concatenate(outputs), activity
