"""Mixed precision for training, float32 for everything that explains a model.

``zfkeras train --mixed-precision`` trains under Keras' ``mixed_float16``
policy (float16 compute, float32 weights: the fast path on GPUs). The
deconvnet, mining, occlusion and feature evolution compare activations and
project them to pixels; they run on `float32_model(model)`, a float32 copy
with the same weights, so their results do not depend on how the model was
trained. The trainer saves its final ``model.keras`` in float32 too.

`mixed_precision_policy` builds models under a policy without leaving it
set for the rest of the process.
"""

import contextlib

FLOAT32 = "float32"
MIXED = "mixed_float16"


def is_float32(model):
    """True when every layer of `model` (nested models included) computes
    in float32."""
    return all(getattr(layer, "compute_dtype", FLOAT32) == FLOAT32 for layer in _all_layers(model))


def _all_layers(model):
    for layer in getattr(model, "layers", ()):
        yield layer
        yield from _all_layers(layer)


@contextlib.contextmanager
def mixed_precision_policy(enabled=True):
    """Within the block, new layers get ``mixed_float16`` (when `enabled`);
    the previous global policy comes back afterwards."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(MIXED if enabled else previous)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_outputs(model):
    """Makes the last layer of a mixed-precision `model` compute in float32
    (the softmax and the loss then run in float32, as Keras' mixed
    precision guide advises). Returns `model`."""
    if model.layers and model.layers[-1].compute_dtype != FLOAT32:
        model.layers[-1].dtype_policy = FLOAT32
    return model


def float32_model(model):
    """`model` itself when it computes in float32, else a float32 clone that
    holds the same weights (a copy: later training of `model` does not
    reach it).

    Args:
        model: a Keras model.

    Returns:
        A `keras.Model` whose every layer computes in float32.
    """
    if is_float32(model):
        return model
    import keras

    def clone_layer(layer):
        # A nested model's own config keeps its layers' mixed policy: clone
        # it layer by layer too, or its layers would still compute in float16.
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=clone_layer)
        config = layer.get_config()
        config["dtype"] = FLOAT32
        return layer.__class__.from_config(config)

    clone = keras.models.clone_model(model, clone_function=clone_layer)
    clone.set_weights(model.get_weights())
    return clone
