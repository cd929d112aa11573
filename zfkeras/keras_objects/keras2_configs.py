"""Keras 2 model configurations made readable by Keras 3.

A legacy HDF5 file stores its architecture as JSON (``model_config``).
Keras 3 rebuilds most Keras 2 (tf.keras) architectures from it, but not
all: tf.keras wrote a ``groups`` argument on depthwise, separable and
transposed convolutions and the unused ``kernel_*`` arguments on separable ones,
which Keras 3's layers refuse (MobileNet, MobileNetV2, EfficientNet,
Xception as tf.keras saved them), and allowed ``/`` in layer names, which
Keras 3 refuses (DenseNet's ``conv1/conv``). `upgrade_keras2_config`
rewrites exactly these, leaving the meaning of the model unchanged: the
dropped arguments had their only value or no effect, and the weights of a
legacy file are matched to layers by order, not by name. Plain Python.
"""

import copy

# Depthwise, separable and transposed convolutions never took `groups` (always 1 in tf.keras).
_NO_GROUPS = frozenset({"DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
                        "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"})
# tf.keras kept Conv's own kernel arguments on separable convolutions, unused
# (their kernels are the depthwise_* and pointwise_* ones).
_UNUSED_KERNEL_ARGS = {"SeparableConv1D": ("kernel_initializer", "kernel_regularizer", "kernel_constraint"),
                       "SeparableConv2D": ("kernel_initializer", "kernel_regularizer", "kernel_constraint")}
_NAME_SEPARATOR = "/"


def upgrade_keras2_config(config):
    """A Keras 2 ``model_config`` rewritten where Keras 3 refuses it.

    Args:
        config: the parsed ``model_config`` JSON of a legacy HDF5 file.

    Returns:
        ``(upgraded config, changes)``: a new dict (``config`` is left
        as it is) and a list of what was rewritten, empty when nothing
        needed to be.
    """
    upgraded = copy.deepcopy(config)
    changes = []
    _upgrade(upgraded, changes)
    return upgraded, changes


def _upgrade(node, changes):
    if isinstance(node, list):
        for item in node:
            _upgrade(item, changes)
        return
    if not isinstance(node, dict):
        return
    class_name, layer_config = node.get("class_name"), node.get("config")
    if isinstance(layer_config, dict):
        if class_name in _NO_GROUPS and layer_config.get("groups") == 1:
            del layer_config["groups"]
            changes.append(f"{layer_config.get('name', class_name)}: dropped groups=1")
        for key in _UNUSED_KERNEL_ARGS.get(class_name, ()):
            if key in layer_config:
                del layer_config[key]
                changes.append(f"{layer_config.get('name', class_name)}: dropped unused {key}")
        if isinstance(layer_config.get("layers"), list):
            _rename_layers(layer_config, changes)
    for value in node.values():
        _upgrade(value, changes)


def _rename_layers(model_config, changes):
    """Replaces ``/`` in the layer names of one (functional or sequential) model config."""
    layers = model_config["layers"]
    names = {_layer_name(layer) for layer in layers} - {None}
    renames = {}
    for name in sorted(names):
        if _NAME_SEPARATOR in name:
            new = name.replace(_NAME_SEPARATOR, "_")
            while new in names or new in renames.values():
                new += "_"
            renames[name] = new
    if not renames:
        return
    for layer in layers:
        if layer.get("name") in renames:
            layer["name"] = renames[layer["name"]]
        if isinstance(layer.get("config"), dict) and layer["config"].get("name") in renames:
            layer["config"]["name"] = renames[layer["config"]["name"]]
        if "inbound_nodes" in layer:
            layer["inbound_nodes"] = _replace_names(layer["inbound_nodes"], renames)
    for key in ("input_layers", "output_layers"):
        if key in model_config:
            model_config[key] = _replace_names(model_config[key], renames)
    changes.extend(f"renamed layer {old!r} to {new!r}" for old, new in renames.items())


def _layer_name(layer):
    if not isinstance(layer, dict):
        return None
    name = layer.get("name")
    if name is None and isinstance(layer.get("config"), dict):
        name = layer["config"].get("name")
    return name if isinstance(name, str) else None


def _replace_names(node, renames):
    """``node`` (node references: nested lists and dicts) with every renamed layer name replaced."""
    if isinstance(node, str):
        return renames.get(node, node)
    if isinstance(node, list):
        return [_replace_names(item, renames) for item in node]
    if isinstance(node, dict):
        return {key: _replace_names(value, renames) for key, value in node.items()}
    return node
