"""The walk over a Keras model's layer graph, done once for every tool.

`walk(model)` turns a built single-input, single-output model into a
`ModelGraph`: its trunk as `Step`s in topological order -- each the layer,
its qualified name, the integer ids of its input tensors and of its output
tensor, its static output shape and its spatial `Window` -- and its
classifier head (from the first Flatten, Dense or global pooling on, and
every layer fed only by those), recorded but not described. Nested models
(Functional or Sequential) are walked into; their layers are named
``outer/inner/layer``.

Which window a layer has is decided here, in `layer_window`, and nowhere
else: the deconvnet's mirror rules and the occlusion engine read it from
the steps.

Keras internals used: ``KerasTensor._keras_history`` (the layer, node index
and output index that produced a tensor), ``layer._inbound_nodes`` and
``Node.input_tensors``.
"""

import dataclasses
from typing import Optional

import keras

from zfkeras.graph.window import Window, identity_window
from zfkeras.layers.local_response_normalization import LocalResponseNormalization
from zfkeras.layers.max_pool_with_argmax import MaxPoolWithArgmax
from zfkeras.utils.inputs import check_model
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote

INPUT_ID = 0  # the id of the model's input tensor in every graph

L = keras.layers

# Layers that start the classifier head: what is computed from them is not
# part of the convolutional trunk.
HEAD_TYPES = (L.Flatten, L.Dense, L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)

_CONVOLUTIONS = (L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D)
_POOLINGS = (L.MaxPooling2D, L.AveragePooling2D, MaxPoolWithArgmax)
# The same map at every pixel, reading only that pixel (inference mode):
# their window is the identity and they can run on any crop of a map.
_POINTWISE = (
    L.ReLU, L.LeakyReLU, L.Activation, L.Dropout, L.SpatialDropout2D, L.Identity,
    L.Rescaling, LocalResponseNormalization,
)
# Merges of same-shaped maps: output (y, x) reads (y, x) of every input.
_MERGES = (L.Add, L.Concatenate)


class UnsupportedLayerError(InputError):
    """A layer of the trunk whose spatial window is unknown.

    Attributes:
        layer: the Keras layer.
        name: its qualified name.
        why: what about it is unsupported (may be empty).
    """

    def __init__(self, layer, name, why=""):
        self.layer, self.name, self.why = layer, name, why
        super().__init__(f"layer {name!r} of type {type(layer).__name__}{why} has no known "
                         "spatial window")


@dataclasses.dataclass(frozen=True)
class Step:
    """One layer call.

    Attributes:
        layer: the Keras layer.
        name: ``"layer"``, or ``"outer/inner/layer"`` inside nested models.
        inputs: ids of the tensors it consumes.
        output: id of the tensor it produces.
        shape: static output shape without the batch axis (entries may be None).
        window: its `Window` on its (first) input; None in the head, or for a
            layer of unknown geometry kept by ``walk(..., unknown="keep")``.
    """

    layer: keras.layers.Layer
    name: str
    inputs: tuple
    output: int
    shape: tuple
    window: Optional[Window]

    def extended(self, cls, **extra):
        """This step as an instance of ``cls``, a subclass adding fields ``extra``
        (a tool's view of the step: the deconvnet's rule, occlusion's kind)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(Step)}
        return cls(**fields, **extra)


@dataclasses.dataclass
class ModelGraph:
    """A model walked once.

    Attributes:
        steps: the trunk's `Step`s in topological order (inputs first).
        head: the head's `Step`s in topological order (window None).
        input_shape: ``(H, W, C)`` of the model's input (entries may be None).
    """

    steps: list
    head: list
    input_shape: tuple

    def __post_init__(self):
        self._producer = {step.output: i for i, step in enumerate(self.steps)}
        self._head_ids = {step.output for step in self.head}

    @property
    def names(self):
        """Qualified names of the trunk's steps, inputs first."""
        return [step.name for step in self.steps]

    @property
    def head_names(self):
        return [step.name for step in self.head]

    def from_head(self, step):
        """True when some input of ``step`` is computed by the head."""
        return any(i in self._head_ids for i in step.inputs)

    def is_chain(self):
        """True when every step (head included) reads only the previous step's output."""
        previous = INPUT_ID
        for step in self.steps + self.head:
            if step.inputs != (previous,):
                return False
            previous = step.output
        return True

    def ancestors(self, index):
        """Indices of the trunk steps that step ``index``'s output depends on,
        itself included, in topological order."""
        needed, stack = set(), [index]
        while stack:
            i = stack.pop()
            if i not in needed:
                needed.add(i)
                stack.extend(self._producer[t] for t in self.steps[i].inputs if t != INPUT_ID)
        return sorted(needed)

    def spatial_sizes(self, image_hw, steps=None):
        """Tensor id -> ``(H, W)`` for images of spatial size ``image_hw``.

        Args:
            image_hw: ``(H, W)`` of the input.
            steps: a topologically ordered subset of `steps` (default all).
        """
        sizes = {INPUT_ID: tuple(image_hw)}
        for step in self.steps if steps is None else steps:
            sizes[step.output] = step.window.at(sizes[step.inputs[0]]).out_size
        return sizes


def _spatial(tensor):
    """``(H, W)`` of an NHWC tensor, or None when it is not 4-D."""
    return tuple(tensor.shape[1:3]) if len(tensor.shape) == 4 else None


def layer_window(layer, input_tensors):
    """The spatial `Window` of ``layer`` on its inputs.

    Args:
        layer: a Keras layer.
        input_tensors: the symbolic tensors it is called on.

    Returns:
        ``(window, None)``, or ``(None, why)`` when its geometry is unknown
        (``why`` completes "layer 'x' of type T...", may be empty).
    """
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return None, " with data_format channels_first"
    sizes = [_spatial(t) for t in input_tensors]
    if None in sizes:
        return None, " on a tensor that is not NHWC"
    in_size = sizes[0]
    if isinstance(layer, _CONVOLUTIONS):
        return Window(layer.kernel_size, layer.strides, layer.dilation_rate, layer.padding,
                      in_size), None
    if isinstance(layer, _POOLINGS):
        return Window(layer.pool_size, layer.strides, padding=layer.padding, in_size=in_size), None
    if isinstance(layer, L.ZeroPadding2D):
        return Window(padding=layer.padding, in_size=in_size), None
    if isinstance(layer, L.Cropping2D):
        # cropping is negative padding
        crop = tuple(tuple(-int(v) for v in pair) for pair in layer.cropping)
        return Window(padding=crop, in_size=in_size), None
    if isinstance(layer, L.BatchNormalization):
        # inference mode: a per-channel affine map; other axes scale per row or column
        axis = tuple(layer.axis) if isinstance(layer.axis, (list, tuple)) else (layer.axis,)
        if axis in ((-1,), (3,)):
            return identity_window(in_size), None
        return None, f" with axis={layer.axis!r} (only the channel axis, -1)"
    if isinstance(layer, _MERGES):
        if isinstance(layer, L.Concatenate) and layer.axis not in (-1, 3):
            return None, f" with axis={layer.axis} (only the channel axis, -1)"
        if len(set(sizes)) != 1:
            return None, f" of maps of different sizes {sizes}"
        return identity_window(in_size), None
    if isinstance(layer, _POINTWISE):
        return identity_window(in_size), None
    return None, ""


def walk(model, unknown="raise"):
    """Walks ``model`` into a `ModelGraph`.

    Args:
        model: a built single-input, single-output keras.Model.
        unknown: ``"raise"``: a trunk layer of unknown geometry raises
            `UnsupportedLayerError`; ``"keep"``: it becomes a step whose
            window is None (for tools that can run such layers whole).

    Returns:
        A `ModelGraph`.

    Raises:
        InputTypeError: not a keras.Model.
        InputError: not built, several inputs or outputs, a layer called
            more than once, a consumed second output, a merge of the trunk
            with a head output, or (``unknown="raise"``, as
            `UnsupportedLayerError`) a trunk layer of unknown geometry,
            named with its type.
    """
    check_model(model, single_output=True)
    walker = _Walker(unknown)
    walker.walk(model, "", [INPUT_ID])
    return ModelGraph(walker.steps, walker.head, tuple(model.inputs[0].shape[1:]))


class _Walker:
    def __init__(self, unknown):
        if unknown not in ("raise", "keep"):
            raise InputError(f"unknown must be 'raise' or 'keep', got {unknown!r}")
        self.unknown = unknown
        self.steps, self.head, self.names = [], [], set()
        self.head_ids = set()
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
            inputs = list(layer._inbound_nodes[node_index].input_tensors)
            if not expanded:
                stack.append((tensor, True))
                stack.extend((t, False) for t in reversed(inputs) if id(t) not in ids)
                continue
            ids[id(tensor)] = self._add(layer, prefix, tensor, tensor_index, inputs,
                                        [ids[id(t)] for t in inputs])
        return ids[id(model.outputs[0])]

    def _add(self, layer, prefix, tensor, tensor_index, inputs, input_ids):
        name = prefix + layer.name
        if isinstance(layer, keras.layers.InputLayer):
            raise InputError(f"input {name!r} is not an input of its model")
        # A layer fed only by the head is head; one mixing head and trunk
        # tensors (squeeze-and-excitation's Multiply) is trunk.
        from_head = [i in self.head_ids for i in input_ids]
        is_head = isinstance(layer, HEAD_TYPES) or (bool(from_head) and all(from_head))
        if isinstance(layer, keras.Model) and not is_head:
            if len(layer.outputs) != 1:
                raise InputError(f"nested model {name!r} has {len(layer.outputs)} outputs; "
                                 "only single-output models are walked into")
            return self.walk(layer, name + "/", input_ids)
        if tensor_index != 0 and not is_head:
            raise InputError(
                f"a layer consumes output {tensor_index} of {name!r} "
                f"({type(layer).__name__}); only a layer's first output can be followed"
            )
        if name in self.names:
            raise InputError(f"layer {name!r} is called more than once in the model; give each "
                             "call its own layer")
        self.names.add(name)
        tensor_id = self.next_id
        self.next_id += 1
        window = None
        if not is_head:
            if any(from_head) and isinstance(layer, _MERGES):
                raise InputError(
                    f"layer {name!r} ({type(layer).__name__}) combines the convolutional trunk "
                    f"with the output of a head layer ({', '.join(t.__name__ for t in HEAD_TYPES)}); "
                    "its maps have no window on the input"
                )
            window, why = layer_window(layer, inputs)
            if window is None and self.unknown == "raise":
                raise UnsupportedLayerError(layer, name, why)
        step = Step(layer, name, tuple(input_ids), tensor_id, tuple(tensor.shape[1:]), window)
        if is_head:
            self.head.append(step)
            self.head_ids.add(tensor_id)
        else:
            self.steps.append(step)
        return tensor_id
