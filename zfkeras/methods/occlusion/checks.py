"""Argument checks of `occlusion`: one clear error per bad input.

The images themselves are checked by `zfkeras.utils.inputs.check_images`, the one
image check of every entry point.
"""

import numbers

import numpy as np

from zfkeras.utils.validation import index_array

# How far a probability row may be from summing to 1 (float32 softmax is
# within ~1e-6; anything this far off is not a probability output).
_SUM_TOLERANCE = 1e-3


def check_square(size, image_size):
    """Raises when the square does not fit the image."""
    if size > min(image_size):
        raise ValueError(
            f"the occluding square (size={size}) is larger than the image {tuple(image_size)}; "
            f"use size <= {min(image_size)}"
        )


def check_fill(fill, images):
    """The fill value as float32 ``(C,)``; default: per-channel mean of ``images``."""
    channels = images.shape[-1]
    if fill is None:
        return images.mean(axis=(0, 1, 2), dtype="float64").astype("float32")
    if isinstance(fill, numbers.Real) and not isinstance(fill, bool):
        return np.full((channels,), fill, dtype="float32")
    try:
        value = np.asarray(fill, dtype="float32").reshape(-1)
    except (TypeError, ValueError):
        raise TypeError(f"fill must be a number or one value per channel, got {fill!r}") from None
    if value.size == 1:
        value = np.repeat(value, channels)
    if value.size != channels or not np.all(np.isfinite(value)):
        raise ValueError(
            f"fill must be a finite number or {channels} values (one per channel), got {fill!r}"
        )
    return value


def class_probabilities(outputs, from_logits, model_name):
    """Model outputs as probabilities ``(N, classes)``.

    Raises:
        ValueError: the output is not ``(N, classes)`` or, unless
            ``from_logits``, its rows are not probabilities.
    """
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        raise ValueError(
            f"occlusion needs a classifier whose output is (N, classes); model {model_name!r} "
            f"outputs shape {outputs.shape}"
        )
    if from_logits:
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        return (exp / exp.sum(axis=1, keepdims=True)).astype("float32")
    sums = outputs.sum(axis=1)
    if outputs.min() < -1e-6 or outputs.max() > 1 + 1e-6 or np.abs(sums - 1).max() > _SUM_TOLERANCE:
        raise ValueError(
            f"the output of model {model_name!r} is not probabilities (values in "
            f"[{outputs.min():.3g}, {outputs.max():.3g}], rows sum to {sums.min():.3g}..{sums.max():.3g}); "
            "pass from_logits=True if it outputs logits"
        )
    return outputs.astype("float32")


def check_labels(labels, count, classes):
    """``labels`` as int64 ``(N,)`` within ``[0, classes)``."""
    return index_array(labels, "labels", count, classes, "class index", f"a model with {classes} classes")


def check_layer(model, layer):
    """Raises unless ``layer`` is a feature map the `Deconvnet` can mirror.

    Reads the model graph with its mirror rules (`zfkeras.deconv.graph`),
    without building a `Deconvnet`: every trunk step is NHWC by the graph's
    construction, so a trunk name is a feature map.
    """
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str), got {layer!r}")
    from zfkeras.deconv.graph import build_plan  # lazily: keeps this module TensorFlow-free

    try:
        names = [step.name for step in build_plan(model, "switches").steps]
    except (TypeError, ValueError) as error:
        raise ValueError(f"layer_activity needs a model the Deconvnet can mirror: {error}") from None
    if layer not in names:
        raise ValueError(
            f"layer {layer!r} is not a convolutional feature map of model {model.name!r}; "
            f"choose one of {names}"
        )
