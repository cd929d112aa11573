"""Lucid's redirected ReLU gradient: units that are silent get a gradient.

A ReLU passes no gradient where its input is negative, so a unit silent on
every view of the starting image would never move (Lucid's
``misc/redirected_relu_grad.py``, on by default in its ``render_vis``). The
redirected gradient lets the gradient through a negative input too, except
where it would push that input lower. Lucid uses it alone for the first 16
steps, then the true ReLU gradient for every image that has one, and the
redirected one only for images whose true gradient is all zero.

Keras offers no gradient override for the ReLUs inside its layers, so
`redirected_model` clones the model (nested models too) with every ReLU --
``activation="relu"`` of a layer, ``Activation("relu")``, a plain ``ReLU``
layer -- replaced by `redirected_relu`, the weights copied. Its forward
pass is the model's; only its gradients differ.
"""

import keras
import tensorflow as tf

__all__ = ["REDIRECT_STEPS", "redirected_relu", "redirected_model"]

REDIRECT_STEPS = 16  # Lucid's: the redirected gradient alone for the first steps


def redirected_relu(early):
    """A relu whose gradient is Lucid's redirected one.

    Args:
        early: a boolean `tf.Variable`: True uses the redirected gradient
            alone (the first `REDIRECT_STEPS` steps).
    """

    @tf.custom_gradient
    def relu(x):
        y = tf.nn.relu(x)

        def gradient(upstream):
            true = tf.raw_ops.ReluGrad(gradients=upstream, features=y)
            rows = tf.reduce_any(tf.not_equal(tf.reshape(true, [tf.shape(true)[0], -1]), 0), axis=1)

            def redirect():
                # The loss is minimised: a positive gradient pushes the input lower.
                redirected = tf.where((x < 0) & (upstream > 0), tf.zeros_like(upstream), upstream)
                alive = tf.reshape(rows, tf.concat([tf.shape(rows), tf.ones([tf.rank(x) - 1], tf.int32)], 0))
                return tf.where(early, redirected, tf.where(alive, true, redirected))

            # Past the first steps, with every image alive, it is the true gradient: skip the rest.
            return tf.cond(early | ~tf.reduce_all(rows), redirect, lambda: true)

        return y, gradient

    relu.__name__ = "relu"
    return relu


def _is_relu(function):
    return getattr(function, "__name__", "") == "relu"


def redirected_model(model, early):
    """A clone of ``model`` whose ReLUs have the redirected gradient, or
    ``model`` itself when it has no ReLU or cannot be cloned (a subclassed
    model: its own gradients are used)."""
    relu = redirected_relu(early)
    found = []

    def clone(layer):
        if type(layer) is keras.layers.ReLU:
            config = layer.get_config()
            if config.get("max_value") is None and not config.get("negative_slope") and not config.get("threshold"):
                found.append(layer.name)
                return keras.layers.Activation(relu, name=layer.name)
        copy = layer.__class__.from_config(layer.get_config())
        if _is_relu(getattr(layer, "activation", None)):
            found.append(layer.name)
            copy.activation = relu
        return copy

    try:
        cloned = keras.models.clone_model(model, clone_function=clone, recursive=True)
    except Exception:  # a model Keras cannot clone (subclassed): its own gradients
        return model
    if not found:
        return model
    cloned.set_weights(model.get_weights())
    return cloned
