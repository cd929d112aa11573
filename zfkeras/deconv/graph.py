"""The walk over a Keras model's layer graph (Keras 3 internals).

Turns a built model into a `Plan`: the mirrored steps in topological order,
each a bound rule with integer ids of its input tensors and of its output
tensor. Nested models (Functional or Sequential) are walked into; their
layers are named ``outer/inner/layer``. The classifier head (from the first
Flatten, Dense or global pooling on) is recorded by name and not mirrored.

Keras internals used: ``KerasTensor._keras_history`` (the layer, node index
and output index that produced a tensor), ``layer._inbound_nodes`` and
``Node.input_tensors``.
"""

import dataclasses

import keras

from zfkeras.deconv.rules import HEAD_TYPES, UnsupportedLayer, rule_for, supported_layer_labels

INPUT_ID = 0  # the id of the model's input tensor in every plan
HEAD_TYPES_NAMES = [t.__name__ for t in HEAD_TYPES]


@dataclasses.dataclass
class Step:
    """One mirrored layer call."""

    name: str  # "layer", or "outer/inner/layer" inside nested models
    rule: object  # a bound `zfkeras.deconv.rules.Rule`
    inputs: tuple  # ids of the tensors it consumes
    output: int  # id of the tensor it produces


@dataclasses.dataclass
class Plan:
    """The mirrored part of a model.

    Attributes:
        steps: `Step`s in topological order (inputs before consumers).
        head: names of the classifier-head layers (not mirrored).
        channels: tensor id -> static channel count.
        input_shape: ``(H, W, C)`` of the model's input (entries may be None).
    """

    steps: list
    head: list
    channels: dict
    input_shape: tuple


def unsupported_message(layer, name, why=""):
    return (
        f"Deconvnet cannot mirror layer {name!r} of type {type(layer).__name__}{why}. "
        f"Supported layers before the classifier head: {', '.join(supported_layer_labels())}."
    ).replace("`", "")


def build_plan(model, unpooling):
    """Walks ``model`` into a `Plan`.

    Raises:
        TypeError: not a keras.Model.
        ValueError: not built, several inputs or outputs, a layer with no
            mirror rule (named, with its type and the supported list), or a
            layer called more than once.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"Deconvnet needs a keras.Model, got {type(model).__name__}")
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if not outputs:
        raise ValueError(
            f"model {model.name!r} is not built: give it an input shape "
            "(keras.Input or input_shape=) before making a Deconvnet"
        )
    if len(model.inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"Deconvnet needs a single-input, single-output model; model {model.name!r} "
            f"has {len(model.inputs)} inputs and {len(outputs)} outputs"
        )
    walker = _Walker(unpooling)
    walker.channels[INPUT_ID] = model.inputs[0].shape[-1]
    walker.walk(model, "", [INPUT_ID])
    return Plan(walker.steps, walker.head, walker.channels, tuple(model.inputs[0].shape[1:]))


class _Walker:
    def __init__(self, unpooling):
        self.unpooling = unpooling
        self.steps, self.head, self.channels = [], [], {}
        self.head_ids = set()
        self.names = set()
        self.next_id = INPUT_ID + 1

    def walk(self, model, prefix, input_ids):
        """Adds the steps of ``model`` whose inputs are ``input_ids``; returns its output id."""
        # Keyed by id(): the model holds every symbolic tensor, so ids are stable.
        ids = {id(t): i for t, i in zip(model.inputs, input_ids)}
        # Iterative post-order DFS from the output: producers before consumers.
        stack = [(model.outputs[0], False)]
        while stack:
            tensor, expanded = stack.pop()
            if id(tensor) in ids:
                continue
            layer, node_index, tensor_index = tensor._keras_history
            node = layer._inbound_nodes[node_index]
            inputs = list(node.input_tensors)
            if not expanded:
                stack.append((tensor, True))
                stack.extend((t, False) for t in reversed(inputs) if id(t) not in ids)
                continue
            ids[id(tensor)] = self._add(layer, prefix, tensor, tensor_index,
                                        [ids[id(t)] for t in inputs])
        return ids[id(model.outputs[0])]

    def _add(self, layer, prefix, tensor, tensor_index, input_ids):
        name = prefix + layer.name
        if isinstance(layer, keras.layers.InputLayer):
            raise ValueError(f"input {name!r} is not an input of its model; cannot mirror it")
        from_head = [i in self.head_ids for i in input_ids]
        # A layer fed only by the head is head; one mixing head and trunk
        # tensors (squeeze-and-excitation's Multiply) is trunk and needs a rule.
        is_head = isinstance(layer, HEAD_TYPES) or (bool(from_head) and all(from_head))
        if isinstance(layer, keras.Model) and not is_head:
            if len(layer.outputs) != 1:
                raise ValueError(
                    f"nested model {name!r} has {len(layer.outputs)} outputs; Deconvnet "
                    "walks into single-output models only"
                )
            return self.walk(layer, name + "/", input_ids)
        if tensor_index != 0 and not is_head:
            raise ValueError(
                f"a layer consumes output {tensor_index} of {name!r} "
                f"({type(layer).__name__}); only its first output can be mirrored"
            )
        if name in self.names:
            raise ValueError(
                f"layer {name!r} is called more than once in model; Deconvnet mirrors "
                "layers called once (give each call its own layer)"
            )
        self.names.add(name)
        tensor_id = self.next_id
        self.next_id += 1
        if is_head:
            self.head.append(name)
            self.head_ids.add(tensor_id)
            return tensor_id
        try:
            rule = rule_for(layer, self.unpooling)
        except UnsupportedLayer as error:
            raise ValueError(unsupported_message(layer, name, str(error))) from None
        if any(from_head):
            raise ValueError(
                f"layer {name!r} ({type(layer).__name__}) combines the convolutional trunk with "
                f"the output of a head layer ({', '.join(HEAD_TYPES_NAMES)}); Deconvnet cannot "
                "mirror it"
            )
        self.channels[tensor_id] = tensor.shape[-1]
        self.steps.append(Step(name, rule, tuple(input_ids), tensor_id))
        return tensor_id
