"""Feature-scale clipping (Zeiler & Fergus, Sec. 3)."""

import keras
from keras import ops

from zfkeras.utils.validation import positive_float


@keras.saving.register_keras_serializable(package="zfkeras")
class FilterRMSClip(keras.constraints.Constraint):
    """Rescales every conv filter whose RMS exceeds ``radius`` to ``radius``.

    A filter is one output map's kernel, ``w[..., o]`` (all spatial positions
    and input channels). Filters at or below the radius are left unchanged.
    Keras applies kernel constraints after each optimizer update, which is
    the paper's "renormalise after each update" (radius 1e-1, which matters
    most for layer 1 when inputs are roughly in [-128, 128]).

    Args:
        radius: the RMS ceiling.
    """

    def __init__(self, radius=0.1):
        self.radius = positive_float(radius, "radius")

    def __call__(self, w):
        axes = tuple(range(len(w.shape) - 1))
        rms = ops.sqrt(ops.mean(ops.square(w), axis=axes, keepdims=True))
        scale = ops.where(rms > self.radius, self.radius / ops.maximum(rms, 1e-12), 1.0)
        return w * ops.cast(scale, w.dtype)

    def get_config(self):
        return {"radius": self.radius}
