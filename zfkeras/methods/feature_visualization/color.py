"""The fixed colour decorrelation of Lucid (Olah et al. 2017).

Colour images are optimised in a decorrelated colour space: three channels
that are white (independent, unit variance) for natural images, mapped to
RGB by a fixed 3x3 matrix, the square root of ImageNet's colour covariance
(Lucid's ``color_correlation_svd_sqrt``) divided by its largest column norm.
White channels ``z`` thus give colours ``z @ COLOR_MATRIX.T`` whose covariance
is `COLOR_COVARIANCE` = ``COLOR_MATRIX @ COLOR_MATRIX.T``. Grey and other
channel counts are used as they are (identity).
"""

import numpy as np

__all__ = ["COLOR_MATRIX", "COLOR_COVARIANCE", "correlate", "decorrelate", "color_matrix"]

# Lucid's square root of ImageNet's RGB covariance (from an SVD), as published.
_SVD_SQRT = np.asarray([[0.26, 0.09, 0.02],
                        [0.27, 0.00, -0.05],
                        [0.27, -0.09, 0.03]], np.float64)

COLOR_MATRIX = (_SVD_SQRT / np.max(np.linalg.norm(_SVD_SQRT, axis=0))).astype(np.float32)
COLOR_COVARIANCE = (COLOR_MATRIX.astype(np.float64) @ COLOR_MATRIX.T.astype(np.float64)).astype(np.float32)


def color_matrix(channels):
    """The ``(C, C)`` matrix taking decorrelated channels to colours:
    `COLOR_MATRIX` for 3 channels, the identity otherwise."""
    return COLOR_MATRIX if channels == 3 else np.eye(channels, dtype=np.float32)


def correlate(images):
    """Decorrelated ``(..., C)`` channels -> colours (TensorFlow or numpy)."""
    matrix = color_matrix(int(images.shape[-1]))
    if isinstance(images, np.ndarray):
        return images @ matrix.T
    import tensorflow as tf

    return tf.tensordot(images, tf.constant(matrix.T), axes=1)


def decorrelate(images):
    """The inverse of `correlate` (numpy): colours -> decorrelated channels."""
    matrix = color_matrix(int(images.shape[-1])).astype(np.float64)
    return (np.asarray(images, np.float64) @ np.linalg.inv(matrix).T).astype(np.float32)
