"""First-layer filters as images (paper Fig. 6) and shared display helpers.

`filter_grid` tiles the filters of a conv kernel into one image, each filter
stretched to [0, 1] on its own so that weak filters stay visible next to
strong ones. `FilterImages` writes that image to TensorBoard after every
epoch, which shows what feature-scale clipping (or its absence) does to
layer 1 while training runs.
"""

import math
import os

import numpy as np
import keras
import tensorflow as tf


def normalize_each(images):
    """Stretches each image of a batch to [0, 1] on its own.

    Subtracts the image's minimum and divides by its range; an image with
    zero range (a dead filter, an all-zero projection) becomes 0.5 grey, so
    it reads as "no signal" rather than as black or white.

    Args:
        images: ``(N, ...)`` array.

    Returns:
        float32 array of the same shape, values in [0, 1].
    """
    images = np.asarray(images, dtype=np.float32)
    if images.shape[0] == 0:
        return images.copy()
    axes = tuple(range(1, images.ndim))
    low = images.min(axis=axes, keepdims=True)
    span = images.max(axis=axes, keepdims=True) - low
    flat = span <= 0
    out = (images - low) / np.where(flat, 1.0, span)
    return np.where(flat, np.float32(0.5), out).astype(np.float32)


def displayable_channels(images):
    """Keeps 1 (grey) or 3 (RGB) channels; any other count becomes their mean.

    Args:
        images: ``(N, H, W, C)`` array.

    Returns:
        ``(N, H, W, 1)`` or ``(N, H, W, 3)`` float32 array.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.shape[-1] in (1, 3):
        return images
    return images.mean(axis=-1, keepdims=True)


def tile_images(images, columns=None, separator=1.0):
    """Tiles equally sized images into one grid with 1-pixel separators.

    Args:
        images: ``(N, H, W, C)`` array, already scaled for display.
        columns: images per row; default ``ceil(sqrt(N))``.
        separator: value of the separator lines and of unused cells.

    Returns:
        float32 array ``(rows * (H + 1) - 1, columns * (W + 1) - 1, C)``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"tile_images needs a non-empty (N, H, W, C) batch, got shape {images.shape}")
    n, h, w, c = images.shape
    columns = int(columns or math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1, c), separator, np.float32)
    for i in range(n):
        r, col = divmod(i, columns)
        grid[r * (h + 1) : r * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = images[i]
    return grid


def write_image_summary(tag, image, step):
    """Writes one image to the default summary writer.

    Args:
        tag: summary tag, e.g. ``"filters/conv1"``.
        image: ``(1, H, W, C)`` or ``(H, W, C)`` array in [0, 1], C in 1, 3, 4.
        step: the summary step.

    Returns:
        True if written, False if no default writer is set.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"image must be one (H, W, 1|3|4) image, got shape {image.shape}")
    return tf.summary.image(tag, image, step=step)


def filter_grid(kernel, separator=1.0):
    """All filters of a conv kernel tiled into one image.

    Filters are laid out row by row in ``ceil(sqrt(cout))`` columns with
    1-pixel separators. Kernels with 1 or 3 input channels are shown as
    grey or RGB; any other input depth (deeper layers) as the mean over
    input channels, in grey. Each filter is normalised on its own (all its
    colour channels together, so hues are kept).

    Args:
        kernel: ``(kh, kw, cin, cout)`` array or variable (a Conv2D kernel).
        separator: value of the separator lines and of unused cells.

    Returns:
        float32 array ``(1, H, W, 1 or 3)`` in [0, 1], ready for
        `tf.summary.image`.
    """
    kernel = np.asarray(keras.ops.convert_to_numpy(kernel), dtype=np.float32)
    if kernel.ndim != 4 or 0 in kernel.shape:
        raise ValueError(
            f"filter_grid needs a conv kernel shaped (kh, kw, cin, cout), got shape {kernel.shape}"
        )
    filters = np.transpose(kernel, (3, 0, 1, 2))  # (cout, kh, kw, cin)
    filters = normalize_each(displayable_channels(filters))
    return tile_images(filters, separator=separator)[None]


class FilterImages(keras.callbacks.Callback):
    """Writes a conv layer's filters to TensorBoard after every epoch.

    The image summary is tagged ``filters/{layer}``, its step is the
    1-based epoch.

    Args:
        log_dir: folder for the TensorBoard event file.
        layer: name of a Conv2D layer of the trained model.
    """

    def __init__(self, log_dir, layer="conv1"):
        super().__init__()
        if not isinstance(layer, str) or not layer:
            raise ValueError(f"layer must be a layer name (non-empty str), got {layer!r}")
        if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
            raise TypeError(f"log_dir must be a folder path, got {log_dir!r}")
        self.log_dir = os.fspath(log_dir)
        self.layer = layer
        self._writer = None

    def _kernel(self):
        names = [l.name for l in self.model.layers]
        if self.layer not in names:
            raise ValueError(
                f"FilterImages: unknown layer {self.layer!r}; model {self.model.name!r} has {names}"
            )
        kernel = getattr(self.model.get_layer(self.layer), "kernel", None)
        if kernel is None or len(kernel.shape) != 4:
            raise ValueError(
                f"FilterImages: layer {self.layer!r} has no 4-D conv kernel to show"
            )
        return kernel

    def on_train_begin(self, logs=None):
        self._kernel()  # fail at the start of fit, not after the first epoch
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        image = filter_grid(self._kernel())
        with self._writer.as_default():
            write_image_summary(f"filters/{self.layer}", image, step=epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

