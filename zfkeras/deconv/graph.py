"""The deconvnet's plan: the one model graph with a mirror rule on each step.

`zfkeras.graph.walk` walks the model (chains, branches, nested models
named ``outer/inner/layer``, the classifier head recorded and not
mirrored); this module binds each trunk step to its rule from the registry
(`zfkeras.deconv.rules`) and turns what cannot be mirrored into one error
that names the layer, its type and the supported layers.
"""

import dataclasses

from zfkeras.deconv.rules import UnsupportedLayer, rule_for, supported_layer_labels
from zfkeras.deconv.rules_conv import ConvRule
from zfkeras.graph.walk import INPUT_ID, Step, UnsupportedLayerError, walk
from zfkeras.utils.errors import InputError

__all__ = ["INPUT_ID", "MirrorStep", "Plan", "build_plan", "unsupported_message"]


@dataclasses.dataclass(frozen=True)
class MirrorStep(Step):
    """A step of the model graph with its bound `zfkeras.deconv.rules.Rule`."""

    rule: object = None


@dataclasses.dataclass
class Plan:
    """The mirrored part of a model.

    Attributes:
        graph: the `zfkeras.graph.walk.ModelGraph` it was made from.
        steps: `MirrorStep`s in the graph's topological order.
    """

    graph: object
    steps: list


def unsupported_message(layer, name, why=""):
    return (
        f"Deconvnet cannot mirror layer {name!r} of type {type(layer).__name__}{why}. "
        f"Supported layers before the classifier head: {', '.join(supported_layer_labels())}."
    ).replace("`", "")


def build_plan(model, unpooling):
    """Walks ``model`` and binds a mirror rule to every trunk step.

    Raises:
        InputTypeError: not a keras.Model.
        InputError: the walk's errors (not built, several inputs or outputs,
            a layer called twice, ...), a layer with no mirror rule (named,
            with its type and the supported list), or no convolution.
    """
    try:
        graph = walk(model)
    except UnsupportedLayerError as error:
        raise InputError(unsupported_message(error.layer, error.name, error.why)) from None
    steps = []
    for step in graph.steps:
        try:
            rule = rule_for(step.layer, unpooling)
        except UnsupportedLayer as error:
            raise InputError(unsupported_message(step.layer, step.name, str(error))) from None
        steps.append(step.extended(MirrorStep, rule=rule))
    if not any(isinstance(step.rule, ConvRule) for step in steps):
        raise InputError(f"model {model.name!r} has no convolution before its head; nothing to project")
    return Plan(graph, steps)
