"""The part of a model's graph that incremental occlusion can compute.

The model is read from the one model graph (`zfkeras.graph.walk`); its
steps say which layer it is and its window. What this engine can do on a
window: a plain `Conv2D` (no dilation or groups) and max pooling (the
deconvnet's rule registry tells them apart from their subclasses and
cousins), `ZeroPadding2D` (a shift), and any pointwise step (identity
window: the same map at every pixel, so it runs on a crop alone).
"""

import dataclasses

from zfkeras.deconv.rules_conv import Conv2DRule
from zfkeras.deconv.rules_pool import MaxPoolRule
from zfkeras.deconv.rules_structure import ZeroPadding2DRule
from zfkeras.graph.walk import Step, walk


@dataclasses.dataclass(frozen=True)
class ChainStep(Step):
    """A graph step of the incremental trunk.

    Its ``window`` is placed on the occluded images' sizes (its
    ``in_size`` and ``out_size`` are the step's).

    Attributes:
        kind: ``"conv"``, ``"pool"`` (max), ``"pad"`` (ZeroPadding2D) or
            ``"pointwise"``.
        channels_in: channels of its input (its output's: ``shape[-1]``).
    """

    kind: str = None
    channels_in: int = None


def _kind(step):
    """How the engine computes ``step`` on a window, or None."""
    layer, window = step.layer, step.window
    if window is None or len(step.inputs) != 1:
        return None
    if Conv2DRule.matches(layer):
        return "conv" if window.dilation == (1, 1) and layer.groups == 1 else None
    if MaxPoolRule.matches(layer):
        return "pool"
    if ZeroPadding2DRule.matches(layer):
        return "pad"
    return "pointwise" if window.is_identity else None


def split_trunk(model, image_shape):
    """The longest prefix of the model's chain that the engine computes on windows.

    Args:
        model: a Keras model.
        image_shape: ``(H, W, C)`` of the images.

    Returns:
        ``(steps, rest, None)`` -- `ChainStep`s, then the graph steps run
        whole (the remaining trunk and the head) -- or ``(None, None, why)``
        when the model is not one chain.
    """
    try:
        graph = walk(model, unknown="keep")
    except (TypeError, ValueError) as error:
        return None, None, str(error)
    if not graph.is_chain():
        return None, None, "the model is not one chain of single-input layers"
    size, channels = tuple(image_shape[:2]), int(image_shape[2])
    steps = []
    for step in graph.steps:
        kind = _kind(step)
        if kind is None:
            break
        # placed on the images' size (the model's may be None)
        window = step.window.at(size)
        if min(window.out_size) < 1:
            break
        steps.append(dataclasses.replace(step, window=window).extended(
            ChainStep, kind=kind, channels_in=channels))
        size, channels = window.out_size, int(step.shape[-1])
    return steps, graph.steps[len(steps):] + graph.head, None
