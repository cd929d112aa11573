"""Argument checks of `occlusion`: one clear error per bad input.

The images themselves are checked by `zfkeras.utils.inputs.check_images`, the one
image check of every entry point; the baseline by
`zfkeras.utils.baselines.resolve_baseline`; the model's outputs by the one
output policy (`zfkeras.graph.output`).
"""

from zfkeras.utils.errors import InputError, InputTypeError


def check_square(size, image_size):
    """Raises when the square does not fit the image."""
    if size > min(image_size):
        raise InputError(
            f"the occluding square (size={size}) is larger than the image {tuple(image_size)}; "
            f"use size <= {min(image_size)}"
        )


def check_layer(model, layer):
    """Raises unless ``layer`` is a feature map the `Deconvnet` can mirror.

    Reads the model graph with its mirror rules (`zfkeras.deconv.graph`),
    without building a `Deconvnet`: every trunk step is NHWC by the graph's
    construction, so a trunk name is a feature map.
    """
    if not isinstance(layer, str):
        raise InputTypeError(f"layer must be a layer name (str), got {layer!r}")
    from zfkeras.deconv.graph import build_plan  # lazily: keeps this module TensorFlow-free

    try:
        names = [step.name for step in build_plan(model, "switches").steps]
    except (TypeError, ValueError) as error:
        raise InputError(f"layer_activity needs a model the Deconvnet can mirror: {error}") from None
    if layer not in names:
        raise InputError(
            f"layer {layer!r} is not a convolutional feature map of model {model.name!r}; "
            f"choose one of {names}"
        )
