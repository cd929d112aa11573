"""The input preprocessing of a trained run, in numpy and as a Keras layer.

A run's model expects ``(image - mean) / scale`` at its input size:

* Fashion-MNIST runs: the per-pixel mean image of the training split and
  the pixel standard deviation (``normalization.npz``);
* image-folder and TFDS runs (the paper's pipeline): the per-pixel mean of
  the ``image_size`` centre squares (``mean_image.npy``, scale 1), taken
  over the centre ``crop_size`` crop the model sees.

Both forms accept images at the model's input size, or at the mean image's
size (the ``image_size`` square of the paper pipeline, centre-cropped here
after the subtraction, exactly as the trainer's evaluation pipeline does).
"""

import numpy as np

import keras

from zfkeras.utils.errors import InputError, InputTypeError


def _centre_offsets(outer, inner):
    return (outer[0] - inner[0]) // 2, (outer[1] - inner[1]) // 2


def preprocess_images(images, mean_image, scale, input_size):
    """``(images - mean) / scale`` at the model's input size (numpy).

    Args:
        images: ``(N, H, W, C)`` (or ``(N, H, W)`` when C is 1) uint8 or
            float pixels, ``(H, W)`` the input size or the mean's size.
        mean_image: ``(Hm, Wm, C)`` float array.
        scale: positive float the difference is divided by.
        input_size: ``(h, w)`` the model takes.

    Returns:
        float32 ``(N, h, w, C)``.
    """
    images = np.asarray(images)
    mean_image = np.asarray(mean_image, np.float32)
    channels = mean_image.shape[-1]
    if images.ndim == 3 and channels == 1:
        images = images[..., None]
    size = tuple(images.shape[1:3]) if images.ndim == 4 else None
    if images.ndim != 4 or images.shape[-1] != channels or size not in (tuple(input_size), mean_image.shape[:2]):
        raise InputError(
            f"images must be (N, {input_size[0]}, {input_size[1]}, {channels}) (the model's input size) "
            f"or (N, {mean_image.shape[0]}, {mean_image.shape[1]}, {channels}) (the run's centre square), "
            f"got shape {images.shape}; resize and centre-crop them first "
            "(zfkeras.data.resize_and_center_crop)"
        )
    if not np.issubdtype(images.dtype, np.number) or np.issubdtype(images.dtype, np.complexfloating):
        raise InputTypeError(f"images must hold real pixel values, got dtype {images.dtype}")
    x = images.astype(np.float32)
    # Crop first, then subtract the same crop of the mean: equal to
    # subtracting the whole mean and cropping, as the trainer does.
    top, left = _centre_offsets(size, input_size)
    x = x[:, top:top + input_size[0], left:left + input_size[1]]
    mtop, mleft = _centre_offsets(mean_image.shape[:2], input_size)
    mean = mean_image[mtop:mtop + input_size[0], mleft:mleft + input_size[1]]
    return ((x - mean) / np.float32(scale)).astype(np.float32)


@keras.saving.register_keras_serializable(package="zfkeras")
class RunPreprocessing(keras.layers.Layer):
    """In-graph `preprocess_images`: centre crop, minus the mean, over scale.

    Takes uint8 or float images ``(N, H, W, C)`` at the model's input size
    or larger (larger inputs are centre-cropped to it first) and returns
    float32 ``(N, h, w, C)``. The mean crop is a non-trainable weight, so the
    layer saves with its model (``.keras``, SavedModel).

    Args:
        mean_shape: ``(h, w, C)`` of the mean at the model's input size.
        scale: positive float the difference is divided by.
        mean: initial ``(h, w, C)`` mean (not part of the config: it is
            restored with the weights).
    """

    def __init__(self, mean_shape, scale=1.0, mean=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.mean_shape = tuple(int(d) for d in mean_shape)
        if len(self.mean_shape) != 3 or min(self.mean_shape) < 1:
            raise InputError(f"mean_shape must be (height, width, channels), got {mean_shape!r}")
        self.scale = float(scale)
        if not self.scale > 0:
            raise InputError(f"scale must be positive, got {scale!r}")
        initial = None if mean is None else np.asarray(mean, np.float32)
        if initial is not None and initial.shape != self.mean_shape:
            raise InputError(f"mean has shape {initial.shape}, expected {self.mean_shape}")
        self.mean = self.add_weight(
            name="mean", shape=self.mean_shape, trainable=False,
            initializer="zeros" if initial is None else (lambda shape, dtype=None: initial),
        )

    def call(self, inputs):
        x = keras.ops.cast(inputs, "float32")
        h, w, c = self.mean_shape
        shape = keras.ops.shape(x)
        top, left = (shape[1] - h) // 2, (shape[2] - w) // 2
        x = keras.ops.slice(x, [0, top, left, 0], [shape[0], h, w, c])
        return (x - self.mean) / self.scale

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.mean_shape)

    def get_config(self):
        return {**super().get_config(), "mean_shape": list(self.mean_shape), "scale": self.scale}
