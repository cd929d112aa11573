"""A model as a chain of steps that incremental occlusion understands."""

import dataclasses
from typing import Optional

import keras

from zfkeras.layers.local_response_normalization import LocalResponseNormalization
from zfkeras.occlusion_engine.geometry import WindowOp, window_op

# Layers whose output at a pixel depends only on the input at that pixel
# (in inference mode), so a patch can go through them alone.
_POINTWISE = (
    keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.Activation,
    keras.layers.Dropout, keras.layers.Rescaling, LocalResponseNormalization,
)


@dataclasses.dataclass
class Step:
    """One layer of the trunk.

    Attributes:
        kind: ``"conv"``, ``"pool"`` (max), ``"pad"`` (ZeroPadding2D) or
            ``"pointwise"``.
        layer: the Keras layer.
        op: its `WindowOp` (conv and pool), else None.
        pad: ``(top, bottom, left, right)`` of a ZeroPadding2D, else None.
        in_size, out_size: ``(H, W)`` of its input and output.
        channels_in, channels_out: channels of its input and output.
    """

    kind: str
    layer: keras.layers.Layer
    op: Optional[WindowOp]
    pad: Optional[tuple]
    in_size: tuple
    out_size: tuple
    channels_in: int
    channels_out: int


def chain_layers(model):
    """The model's layers from input to output, or ``(None, why)`` if not one chain."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if not outputs or len(model.inputs) != 1 or len(outputs) != 1:
        return None, "the model is not built with one input and one output"
    layers, tensor = [], outputs[0]
    while True:
        layer, node_index, tensor_index = tensor._keras_history
        if tensor_index != 0:
            return None, f"layer {layer.name!r} has several outputs"
        if isinstance(layer, keras.layers.InputLayer):
            return layers[::-1], None
        if isinstance(layer, keras.Model):
            return None, f"it contains the nested model {layer.name!r}"
        inputs = list(layer._inbound_nodes[node_index].input_tensors)
        if len(inputs) != 1:
            return None, f"layer {layer.name!r} has {len(inputs)} inputs (not a chain)"
        layers.append(layer)
        tensor = inputs[0]


def _is_pointwise(layer):
    if isinstance(layer, keras.layers.BatchNormalization):
        return layer.axis in (-1, 3)
    return isinstance(layer, _POINTWISE)


def _kind(layer):
    if type(layer) is keras.layers.Conv2D:
        ok = tuple(layer.dilation_rate) == (1, 1) and layer.groups == 1
        return "conv" if ok and layer.data_format == "channels_last" else None
    if type(layer) is keras.layers.MaxPooling2D:
        return "pool" if layer.data_format == "channels_last" else None
    if isinstance(layer, keras.layers.ZeroPadding2D):
        return "pad" if layer.data_format == "channels_last" else None
    return "pointwise" if _is_pointwise(layer) else None


def split_trunk(model, image_shape):
    """The longest prefix of the chain made of supported layers.

    Args:
        model: a Keras model.
        image_shape: ``(H, W, C)`` of the images.

    Returns:
        ``(steps, head_layers, None)`` or ``(None, None, why)`` when the
        model is not a chain.
    """
    layers, why = chain_layers(model)
    if layers is None:
        return None, None, why
    size, channels = tuple(image_shape[:2]), int(image_shape[2])
    steps = []
    for index, layer in enumerate(layers):
        kind = _kind(layer)
        if kind is None:
            return steps, layers[index:], None
        op, pad, out, channels_out = None, None, size, channels
        if kind == "conv":
            op = window_op(size, layer.kernel_size, layer.strides, layer.padding)
            out, channels_out = op.out_size, int(layer.filters)
        elif kind == "pool":
            op = window_op(size, layer.pool_size, layer.strides, layer.padding)
            out = op.out_size
        elif kind == "pad":
            (top, bottom), (left, right) = layer.padding
            pad = (int(top), int(bottom), int(left), int(right))
            out = (size[0] + top + bottom, size[1] + left + right)
        if min(out) < 1:
            return steps, layers[index:], None
        steps.append(Step(kind, layer, op, pad, size, tuple(out), channels, channels_out))
        size, channels = tuple(out), channels_out
    return steps, [], None
