"""The strongest position of a feature map: where a unit is read by default.

A `zfkeras.Unit` without a position means each image's strongest position
of its map: the deconvnet's projection, unit Grad-CAM and `occlusion_drop`
all pick it here, the first maximum in row-major order (numpy's and
TensorFlow's argmax agree on ties).
"""

import numpy as np

__all__ = ["strongest_positions"]


def strongest_positions(maps):
    """``(y, x)`` of each map's largest value.

    Args:
        maps: ``(N, H, W)``: a numpy array, or a TensorFlow tensor (inside
            graphs too).

    Returns:
        ``(N, 2)`` positions: int64 numpy for a numpy array, int32 tensor for
        a tensor.
    """
    if isinstance(maps, np.ndarray):
        n, _, width = maps.shape
        flat = maps.reshape(n, -1).argmax(axis=1)
        return np.stack([flat // width, flat % width], axis=1).astype("int64")
    import tensorflow as tf

    n, width = tf.shape(maps)[0], tf.shape(maps)[2]
    flat = tf.argmax(tf.reshape(maps, [n, -1]), axis=1, output_type=tf.int32)
    return tf.stack([flat // width, flat % width], axis=1)
