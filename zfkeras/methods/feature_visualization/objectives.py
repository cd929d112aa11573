"""What feature visualisation maximises, read from one sub-model.

An objective is a `zfkeras.Unit`: ``Unit(layer, channel)`` is the mean of
the channel's map (of a Dense layer: its value), ``Unit(layer, channel,
position=(y, x))`` one neuron; or a class index (an int): the class's
logit -- of a model ending in a softmax, the score before it (the last
layer's input times its kernel plus bias, read as Grad-CAM reads it).
`ObjectiveReader` computes every objective of a batch in one forward pass
of a sub-model that ends at the deepest layer needed; `objective_values`
gives each objective on each of some images (the yardstick's denominator).
"""

import dataclasses
import numbers
from typing import Optional, Tuple

import numpy as np
import keras
import tensorflow as tf

from zfkeras.graph.output import is_softmax
from zfkeras.keras_objects.precision import float32_model
from zfkeras.methods.unit import Unit
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images, model_input_shape
from zfkeras.graph.addressing import layer_output, resolve_layers

__all__ = ["ObjectiveReader", "objective_values", "parse_objectives"]

CLASS = None  # the layer of a class objective


@dataclasses.dataclass(frozen=True)
class Objective:
    """One checked objective: ``layer`` None for a class (``channel`` is the class)."""

    layer: Optional[str]
    channel: int
    position: Optional[Tuple[int, int]]
    given: object  # what the user gave, for the result

    @property
    def group(self):
        return (self.layer, self.position is not None)


def parse_objectives(objectives):
    """``objectives`` (one, or a list) as a list of what was given, checked for type.

    Raises:
        InputTypeError: an entry that is neither a `zfkeras.Unit` nor an int.
        InputError: no objectives, or a unit with one channel per image.
    """
    if isinstance(objectives, (Unit, numbers.Integral)) and not isinstance(objectives, bool):
        objectives = [objectives]
    if isinstance(objectives, (str, bytes, bool)) or not hasattr(objectives, "__iter__"):
        raise InputTypeError(f"objectives must be a zfkeras.Unit, a class index (int) or a list of them; "
                             f"got {objectives!r}")
    objectives = list(objectives)
    if not objectives:
        raise InputError("objectives is empty; give at least one zfkeras.Unit or class index")
    for objective in objectives:
        if isinstance(objective, Unit):
            if objective.per_image:
                raise InputError(f"an objective is one unit; {objective} gives one channel or position per "
                                 "image: list one Unit per objective instead")
        elif isinstance(objective, bool) or not isinstance(objective, numbers.Integral):
            raise InputTypeError(f"an objective must be a zfkeras.Unit(layer, channel, position=None) or a class "
                                 f"index (int); got {objective!r} of type {type(objective).__name__}")
    return objectives


def _pre_softmax(model):
    """``(tensor, head)``: a symbolic tensor of ``model``'s graph and the function
    taking it to the class scores before any final softmax."""
    history = model.outputs[0]._keras_history
    layer, node_index = history.operation, history.node_index
    node = layer._inbound_nodes[node_index]
    if isinstance(layer, keras.Model):  # a nested model computes the output: read inside it
        inner, head = _pre_softmax(layer)
        if inner is layer.outputs[0]:
            return model.outputs[0], head
        args = node.input_tensors
        reader = keras.Model(layer.inputs, inner, name=f"{layer.name}_pre_softmax")
        return reader(args[0] if len(args) == 1 else args), head
    if not is_softmax(layer):
        return model.outputs[0], tf.identity
    x = node.input_tensors[0]
    if type(layer).__name__ in ("Softmax", "Activation"):
        return x, tf.identity
    if type(layer).__name__ == "Dense":
        def logits(inputs):
            y = tf.matmul(inputs, tf.cast(layer.kernel, inputs.dtype))
            return y + tf.cast(layer.bias, y.dtype) if layer.use_bias else y

        return x, logits
    raise InputError(f"the model's last layer {layer.name!r} ({type(layer).__name__}) applies a softmax inside; "
                     "class objectives need the score before it: end the model in Dense(..., "
                     "activation='softmax') or a separate Softmax layer")


class ObjectiveReader:
    """Every objective of a batch from one forward pass.

    Args:
        model: a single-input Keras image model (a mixed-precision model
            is read through its float32 copy).
        objectives: a `zfkeras.Unit`, a class index, or a list of them.
        redirect: None, or a boolean `tf.Variable`: read through a clone
            whose ReLUs have Lucid's redirected gradient (`relu_redirect`).

    Attributes:
        objectives: the checked `Objective`s, in order.
        model: the float32 model.
        input_shape: its ``(H, W, C)``.

    Raises:
        InputError: an unknown layer, a channel, position or class beyond
            the layer or the head (naming the objective).
    """

    def __init__(self, model, objectives, redirect=None):
        given = parse_objectives(objectives)
        self.model = float32_model(model)
        if redirect is not None:
            from zfkeras.methods.feature_visualization.relu_redirect import redirected_model

            self.model = redirected_model(self.model, redirect)
        self.input_shape = model_input_shape(self.model)
        units = [o for o in given if isinstance(o, Unit)]
        names = list(dict.fromkeys(u.layer for u in units))
        for name in names:
            try:
                resolve_layers(self.model, name, "feature visualisation")
            except (ValueError, TypeError) as error:
                raise InputError(f"objective {next(u for u in units if u.layer == name)}: {error}") from None
        outputs = {name: layer_output(self.model, name) for name in names}
        head, self._head = None, None
        if len(units) < len(given):
            head, self._head = _pre_softmax(self.model)
        self.objectives = [self._check(o, outputs) for o in given]
        self.layers = names + ([CLASS] if head is not None else [])
        symbolic = [outputs[n] for n in names] + ([head] if head is not None else [])
        self._reader = keras.Model(self.model.inputs, symbolic, name=f"{self.model.name}_objectives")
        groups = {}
        for index, objective in enumerate(self.objectives):
            groups.setdefault(objective.group, []).append(index)
        self._groups = list(groups.items())
        order = [i for _, members in self._groups for i in members]
        self._order = np.argsort(order).astype(np.int32)  # concatenated group results -> objective order

    def _check(self, objective, outputs):
        if not isinstance(objective, Unit):
            count = int(self.model.outputs[0].shape[-1])
            if len(self.model.outputs[0].shape) != 2:
                raise InputError(f"class objective {objective}: model {self.model.name!r} outputs "
                                 f"{tuple(self.model.outputs[0].shape)}, not (N, classes)")
            if not 0 <= int(objective) < count:
                raise InputError(f"class objective {objective} is beyond the head of model {self.model.name!r}, "
                                 f"which has {count} classes (0..{count - 1})")
            return Objective(CLASS, int(objective), None, objective)
        shape = tuple(outputs[objective.layer].shape)
        if len(shape) not in (2, 4):
            raise InputError(f"objective {objective}: layer {objective.layer!r} outputs {shape}; a unit needs "
                             "feature maps (N, H, W, C) or features (N, C)")
        if objective.channel >= shape[-1]:
            raise InputError(f"objective {objective}: channel {objective.channel} is out of range for layer "
                             f"{objective.layer!r}, which has {shape[-1]} channels (0..{shape[-1] - 1})")
        if objective.position is not None:
            if len(shape) != 4:
                raise InputError(f"objective {objective}: layer {objective.layer!r} outputs {shape}, which has "
                                 "no positions; drop position=")
            y, x = objective.position
            if (shape[1] is not None and y >= shape[1]) or (shape[2] is not None and x >= shape[2]):
                raise InputError(f"objective {objective}: position {objective.position} is outside layer "
                                 f"{objective.layer!r}'s {shape[1]}x{shape[2]} maps")
        return Objective(objective.layer, objective.channel, objective.position, objective)

    def _outputs(self, images):
        values = self._reader(images, training=False)
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        tensors = dict(zip(self.layers, values))
        if CLASS in tensors:
            tensors[CLASS] = self._head(tensors[CLASS])
        return tensors

    def values(self, images, views):
        """Objective k on its own images (TensorFlow, differentiable).

        Args:
            images: ``(K * views, H, W, C)``: rows ``k * views ...`` are objective k's.
            views: images per objective (a Python int).

        Returns:
            float32 ``(K,)``: each objective's value, averaged over its views.
        """
        tensors = self._outputs(images)
        parts = []
        for (layer, at_position), members in self._groups:
            y = tensors[layer]
            y = tf.gather(tf.reshape(y, tf.concat([[-1, views], tf.shape(y)[1:]], 0)), members)  # (m, views, ...)
            channels = tf.constant([self.objectives[i].channel for i in members], tf.int32)
            if at_position:
                where = [[j, *self.objectives[i].position, self.objectives[i].channel] for j, i in enumerate(members)]
                parts.append(tf.gather_nd(tf.transpose(y, [0, 2, 3, 4, 1]), tf.constant(where, tf.int32)))
                continue
            if len(y.shape) == 5:
                y = tf.reduce_mean(y, axis=[2, 3])
            parts.append(tf.gather(y, channels, axis=2, batch_dims=1))  # (m, views)
        values = tf.reduce_mean(tf.concat(parts, axis=0), axis=1)
        return tf.gather(values, self._order)

    def all_values(self, images):
        """Every objective on every image (TensorFlow): float32 ``(N, K)``."""
        tensors = self._outputs(images)
        parts = []
        for (layer, at_position), members in self._groups:
            y = tensors[layer]
            channels = [self.objectives[i].channel for i in members]
            if at_position:
                where = [[*self.objectives[i].position, self.objectives[i].channel] for i in members]
                parts.append(tf.transpose(tf.gather_nd(tf.transpose(y, [1, 2, 3, 0]), tf.constant(where))))
                continue
            if len(y.shape) == 4:
                y = tf.reduce_mean(y, axis=[1, 2])
            parts.append(tf.gather(y, channels, axis=1))
        return tf.gather(tf.concat(parts, axis=1), self._order, axis=1)


def objective_values(model, objectives, inputs, batch_size=DEFAULT_BATCH_SIZE):
    """Each objective's value on each image: the yardstick's denominator.

    Activation reached, the yardstick of docs/FEATURE_VISUALIZATION.md, is
    ``FeatureVisualization.values / objective_values(...).max(axis=1)`` over
    test images.

    Args:
        model: a Keras image model.
        objectives: a `zfkeras.Unit`, a class index, or a list of them.
        inputs: ``(N, H, W, C)`` images, preprocessed as the model expects.
        batch_size: images per forward pass.

    Returns:
        float32 ``(K, N)``.
    """
    from zfkeras.utils.validation import positive_int

    reader = ObjectiveReader(model, objectives)
    images = check_images(inputs, reader.input_shape, reader.model.name)
    batch_size = positive_int(batch_size, "batch_size")
    run = tf.function(reader.all_values, reduce_retracing=True)
    parts = [run(tf.constant(images[s:s + batch_size])).numpy() for s in range(0, len(images), batch_size)]
    return np.concatenate(parts, axis=0).T
