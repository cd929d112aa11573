"""Layers by qualified name: the one resolver every tool uses.

A layer is named as `model.get_layer` takes it, or ``"outer/inner"`` for a
layer inside a nested model (a fine-tuned model on a nested base), the
names `zfkeras.graph.walk` gives its steps and `zfkeras.Deconvnet` its
layers. `resolve_layers` checks requested names against a model;
`qualified_layer` finds one; `layer_output` and `layer_output_model` give
its output in the outer model's graph, so that one forward pass from the
outer model's input computes every requested layer (the features, the
top activations, invariance, correspondence, the export, the explorer).

Keras internals used: ``KerasTensor._keras_history`` and
``layer._inbound_nodes`` / ``Node.input_tensors`` (to find the tensor a
nested model is called on).
"""

import keras

from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import check_model

__all__ = ["resolve_layers", "qualified_layer", "layer_output", "layer_output_model", "call_layer_outputs"]


def resolve_layers(model, layers, purpose, maps_only=False):
    """Checks requested layer names against the model.

    Args:
        model: a `keras.Model` (Functional or Sequential).
        layers: a layer name or a list of names (plain Keras names, or
            ``"outer/inner"`` inside nested models: `qualified_layer`).
        purpose: what the layers are for, for messages ("features").
        maps_only: require 4-D outputs (convolutional feature maps).

    Returns:
        ``(names, single)``: the list of distinct names, in order, and
        whether ``layers`` was one name.

    Raises:
        InputTypeError: ``model`` is not a `keras.Model`, ``layers`` is not
            a name or a list of names.
        InputError: no names, an unknown name, the model's input, a layer
            without a single output, or (``maps_only``) not a feature map.
    """
    check_model(model)
    single = isinstance(layers, str)
    if single:
        names = [layers]
    else:
        try:
            names = list(layers)
        except TypeError:
            raise InputTypeError(f"layers must be a layer name or a list of names, got {layers!r}") from None
        if not names:
            raise InputError(f"layers is empty; give at least one layer name, e.g. {_candidates(model, maps_only)[:3]}")
        bad = [n for n in names if not isinstance(n, str)]
        if bad:
            raise InputTypeError(f"layer names must be strings, got {bad[0]!r} of type {type(bad[0]).__name__}")
        names = list(dict.fromkeys(names))
    for name in names:
        try:
            layer = qualified_layer(model, name)
        except ValueError:
            raise InputError(
                f"unknown layer {name!r} for {purpose}; model {model.name!r} has "
                f"{'feature-map layers' if maps_only else 'layers'} {_candidates(model, maps_only)}"
            ) from None
        shape = _output_shape(model, layer)
        if maps_only and len(shape) != 4:
            raise InputError(
                f"layer {name!r} ({type(layer).__name__}, output shape {shape}) is not a "
                f"convolutional feature map; {purpose} needs a 4-D (batch, height, width, "
                f"channels) output: choose one of {_candidates(model, True)}"
            )
    return names, single


def qualified_layer(model, name):
    """The layer ``name`` of ``model``: a plain Keras name, or ``"outer/inner"``
    for a layer inside a nested model (the names `zfkeras.Deconvnet` gives).

    Raises:
        InputError: no such layer (or ``outer`` is not a model).
    """
    first, _, rest = name.partition("/")
    try:
        layer = model.get_layer(first)
    except ValueError:
        raise InputError(f"model {model.name!r} has no layer {first!r}"
                         + ("" if first == name else f" (in {name!r})")) from None
    if not rest:
        return layer
    if not isinstance(layer, keras.Model):
        raise InputError(f"layer {first!r} of model {model.name!r} is not a nested model; "
                         f"{name!r} names a layer inside it")
    return qualified_layer(layer, rest)


def layer_output(model, name):
    """The symbolic output of layer ``name`` (see `qualified_layer`) in ``model``'s graph.

    A layer inside a nested model gets a path from the outer model's input:
    the nested model's layers up to it, called on the tensor the nested
    model is called on (its weights are shared, not copied).
    """
    layer = qualified_layer(model, name.partition("/")[0])
    rest = name.partition("/")[2]
    if not rest:
        return layer.output
    qualified_layer(model, name)  # raises for an unknown name
    nested = keras.Model(layer.inputs, layer_output(layer, rest), name=f"{layer.name}_to_{rest.replace('/', '_')}")
    fed = _call_inputs(model, layer)
    return nested(fed[0] if len(fed) == 1 else fed)


def layer_output_model(model, names, with_output=False):
    """One `keras.Model` from the model's input to the layers' outputs.

    A single forward pass then gives every requested layer (the graph up to
    the deepest one is shared, nothing beyond it is computed).

    Args:
        model: a `keras.Model` (Functional or Sequential: its ``outputs``
            are read, never the ``output`` a Sequential does not define).
        names: qualified layer names.
        with_output: also give the model's own output, last.

    Returns:
        A `keras.Model` with one output per name (plus the model's output).
    """
    outputs = [layer_output(model, name) for name in names]
    if with_output:
        outputs.append(model.outputs[0])
    # A single input as a tensor, not a list of one: called on a batch it
    # then takes the batch as it is (Keras warns about a list of one).
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, outputs, name=f"{model.name}_layer_outputs")


def call_layer_outputs(probe, images):
    """A `layer_output_model` called on a batch (inference mode): always a
    tuple of its outputs (Keras returns a lone tensor for a single one)."""
    outputs = probe(images, training=False)
    return tuple(outputs) if isinstance(outputs, (list, tuple)) else (outputs,)


def _call_inputs(model, nested):
    """The symbolic tensors ``nested`` is called on in ``model``'s graph (it must be called once)."""
    nodes, seen, stack = {}, set(), list(model.outputs)
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if layer is nested:
            nodes[id(node)] = node
        stack.extend(node.input_tensors)
    if len(nodes) != 1:
        raise InputError(f"nested model {nested.name!r} is called {len(nodes)} times in model {model.name!r}; "
                         "its layers have no single output to read")
    return list(next(iter(nodes.values())).input_tensors)


def _output_shape(model, layer):
    if isinstance(layer, keras.layers.InputLayer):
        raise InputError(f"layer {layer.name!r} is the model's input, not a computed layer; "
                         "give the images themselves")
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError) as e:
        raise InputError(
            f"layer {layer.name!r} of model {model.name!r} has no single output tensor "
            f"(is it used at several places, or never called?): {e}"
        ) from None


def _candidates(model, maps_only):
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):  # its layers, by qualified name
            names.extend(f"{layer.name}/{n}" for n in _candidates(layer, maps_only))
            continue
        try:
            rank = len(layer.output.shape)
        except (AttributeError, ValueError):
            continue
        if rank == 4 or not maps_only:
            names.append(layer.name)
    return names
