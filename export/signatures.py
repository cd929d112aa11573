"""The serving functions of an export: classify, features, project, explain, occlude.

Each takes raw images (uint8, ``(N, H, W, C)`` at the model's input size),
checks them inside the graph, runs the run's preprocessing inside the graph,
and returns a dict of named tensors (the signature's outputs). The checks
are `tf.debugging.Assert` ops whose messages name the problem and carry the
received value, so a bad request fails the same way in Python, in
TensorFlow Serving and in any other SavedModel client.

The image input is declared ``(None, H, W, C)`` uint8, so that
``saved_model_cli show`` and TensorFlow Serving's model metadata tell a
client what to send (a client's binding may then refuse a wrong shape
before the graph runs; the in-graph check still covers what the declared
shape lets through, such as an empty batch). The layer and channel inputs
are declared with unknown shapes: the in-graph checks say what was
expected.
"""

import re
import warnings

import tensorflow as tf

from zfkeras.export.projections import explain_signatures, project_signatures
from zfkeras.graph.addressing import layer_output_model
from zfkeras.methods.registry import get_method
from zfkeras.utils.errors import InputError

# Outputs of `serving_default` name the top classes; at most this many.
TOP_K = 5


def output_key(layer_name):
    """A signature output name for a layer name (``outer/inner/conv1`` -> ``outer_inner_conv1``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", layer_name)


def _shape_text(shape):
    return "(N, " + ", ".join(str(int(d)) for d in shape) + ")"


def checked_images(images, input_shape):
    """Asserts that `images` is a non-empty ``(N, H, W, C)`` batch of the model's size.

    One assert covers rank, size and emptiness: TensorFlow runs independent
    asserts in any order, and a size check written for rank 4 would itself
    fail on other ranks with an unhelpful message.

    Args:
        images: uint8 tensor of any shape (the signature's input).
        input_shape: ``(H, W, C)`` the model takes.

    Returns:
        `images` with its static shape set to ``(None, H, W, C)``, after the
        check has run.
    """
    shape = tf.shape(images)
    # the shape padded to rank 4, so the comparison is valid for any rank
    padded = tf.concat([shape, tf.zeros([4], tf.int32)], axis=0)[:4]
    ok = tf.logical_and(
        tf.equal(tf.size(shape), 4),
        tf.reduce_all(tf.equal(padded[1:], tf.constant(input_shape, tf.int32))),
    )
    ok = tf.logical_and(ok, padded[0] > 0)
    check = tf.debugging.Assert(
        ok,
        [f"images must be uint8 shaped {_shape_text(input_shape)} with N >= 1 "
         "(the model's input size: resize first); got shape", shape],
        name="check_images", summarize=8,
    )
    with tf.control_dependencies([check]):
        images = tf.identity(images)
    return tf.ensure_shape(images, (None, *input_shape))


class ServingFunctions:
    """Builds the serving functions of one model.

    Args:
        model: the Keras classifier.
        deconvnet: a `zfkeras.Deconvnet` of `model`.
        preprocessing: callable (usually a Keras layer) mapping float32 raw
            pixels ``(N, H, W, C)`` to the model's input, or None (pixels as
            float32).
        class_table: a `tf.lookup` table from class index (int64) to name.
        layers: the deconvnet layer names `project` serves.
        feature_layers: names of the model's layers `features` returns.
        reduce_features: callable mapping one layer output ``(N, ...)`` to
            features ``(N, D)`` (`zfkeras.methods.features.reduce_output` with its
            default pooling).
        softmax: apply a softmax to the model output (it returns logits;
            `zfkeras.graph.output.output_policy` decides).
        occluder: an `zfkeras.export.occlude.Occluder` of `model`, or None
            (no ``occlude`` signature).
        explain_methods: which ``explain_<method>`` signatures to build
            (`zfkeras.export.projections.explain_signatures`' argument).
    """

    def __init__(
        self, model, deconvnet, preprocessing, class_table, layers, feature_layers, reduce_features, softmax,
        occluder=None, explain_methods=(),
    ):
        self.model = model
        self.deconvnet = deconvnet
        self.preprocessing = preprocessing
        self.class_table = class_table
        self.layers = list(layers)
        self.input_shape = tuple(int(d) for d in deconvnet.input_shape)
        self.num_classes = int(model.outputs[0].shape[-1])
        self.top_k = min(TOP_K, self.num_classes)
        self.softmax = softmax
        self.channel_counts = [int(deconvnet.layer_output_shape(name)[-1]) for name in self.layers]
        self.project_signatures = project_signatures()
        self._projectors = {
            rule: [deconvnet.projection_function(name, rule) for name in self.layers]
            for rule in set(self.project_signatures.values())
        }
        self._feature_names = list(feature_layers)
        self._reduce_features = reduce_features
        self._feature_model = layer_output_model(model, self._feature_names) if feature_layers else None
        self.occluder = occluder
        self.explain_signatures, self._explainers = {}, {}
        for signature, name in explain_signatures(explain_methods).items():
            spec = get_method(name)
            try:
                self._explainers[name] = spec.graph(model, **spec.options)
            except InputError as e:
                if explain_methods is not None:  # asked for by name
                    raise InputError(f"explain signature for {name!r}: {e}") from e
                warnings.warn(f"the export leaves out {signature}: {e}", stacklevel=2)
                continue
            self.explain_signatures[signature] = name

    def image_spec(self):
        """The declared image input of every signature: uint8 ``(None, H, W, C)``."""
        return tf.TensorSpec((None, *self.input_shape), tf.uint8, name="images")

    def model_inputs(self, images):
        """Checked raw images -> preprocessed float32 model inputs."""
        x = tf.cast(checked_images(images, self.input_shape), tf.float32)
        if self.preprocessing is not None:
            x = tf.cast(self.preprocessing(x), tf.float32)
        return x

    def classify(self, images):
        """``serving_default``: probabilities, top classes and their names."""
        outputs = self.model(self.model_inputs(images), training=False)
        probabilities = tf.cast(outputs, tf.float32)
        if self.softmax:
            probabilities = tf.nn.softmax(probabilities, axis=-1)
        top = tf.math.top_k(probabilities, k=self.top_k).indices
        return {
            "probabilities": probabilities,
            "top_classes": tf.cast(top, tf.int32),
            "top_labels": self.class_table.lookup(tf.cast(top, tf.int64)),
        }

    def features(self, images):
        """``features``: one (pooled) output per feature layer."""
        maps = self._feature_model(self.model_inputs(images), training=False)
        if not isinstance(maps, (list, tuple)):
            maps = [maps]
        return {
            output_key(name): tf.cast(self._reduce_features(value), tf.float32)
            for name, value in zip(self._feature_names, maps)
        }

    def occlude(self, images):
        """``occlude``: Fig. 7's maps (`zfkeras.export.occlude`) for raw images."""
        return self.occluder.occlude(self.model_inputs(images))

    def projector(self, method):
        """The serving function of backward rule ``method`` (`project_signatures`):
        ``(images, layer, channel) -> projection, position, value``."""
        return lambda images, layer, channel: self.project(images, layer, channel, method)

    def project(self, images, layer, channel, method="deconvnet"):
        """``project``: the projection of one channel per image by ``method``
        (`zfkeras.Deconvnet.project`'s backward rule; `project_signatures`)."""
        x = self.model_inputs(images)
        # Each check's condition holds when an earlier problem is already
        # reported, so exactly one message describes a bad request.
        names = tf.constant(self.layers)
        layer_scalar = tf.equal(tf.size(layer), 1)
        hits = tf.cast(tf.equal(names, tf.reshape(layer, [-1])[:1]), tf.int32)
        known = tf.logical_and(layer_scalar, tf.reduce_any(hits > 0))
        index = tf.argmax(hits, output_type=tf.int32)
        layer_ok = tf.debugging.Assert(
            known, [f"layer must be one string, one of: {', '.join(self.layers)}; got", layer],
            name="check_layer",
        )
        n = tf.shape(x)[0]
        channel_shaped = tf.logical_and(tf.equal(tf.rank(channel), 1), tf.equal(tf.size(channel), n))
        shape_ok = tf.debugging.Assert(
            tf.logical_or(channel_shaped, tf.logical_not(known)),
            ["channel must be int32 (N,), one entry per image; images have N =", n,
             "but channel has shape", tf.shape(channel)],
            name="check_channel_shape",
        )
        count = tf.gather(tf.constant(self.channel_counts, tf.int32), index)
        in_range = tf.reduce_all((channel >= 0) & (channel < count))
        range_ok = tf.debugging.Assert(
            tf.logical_or(in_range, tf.logical_not(tf.logical_and(known, channel_shaped))),
            ["channel out of range for layer", layer, "which has", count,
             "channels (0 .. count-1); got channel", channel],
            name="check_channel_range", summarize=64,
        )
        with tf.control_dependencies([layer_ok, shape_ok, range_ok]):
            index = tf.identity(index)
            channel = tf.reshape(channel, [-1])
        branches = [
            (lambda project=project: project(x, channel)) for project in self._projectors[method]
        ]
        projection, position, value = tf.switch_case(index, branches)
        return {
            "projection": tf.ensure_shape(projection, (None, *self.input_shape)),
            "position": tf.cast(position, tf.int32),
            "value": tf.cast(value, tf.float32),
        }

    def explainer(self, method):
        """The serving function of registered method ``method`` (`explain_signatures`):
        ``(images, target) -> maps, attributions, explained_class``."""
        return lambda images, target: self.explain(images, target, method)

    def explain(self, images, target, method):
        """``explain_<method>``: ``zfkeras.explain(model, x, method, classes)``
        with the method's default options, for one class per image
        (``target[i]``; -1: the class the model predicts for image ``i``)."""
        x = self.model_inputs(images)
        n = tf.shape(x)[0]
        shaped = tf.logical_and(tf.equal(tf.rank(target), 1), tf.equal(tf.size(target), n))
        shape_ok = tf.debugging.Assert(
            shaped,
            ["target must be int32 (N,), one class index per image (-1: the predicted class); images have N =",
             n, "but target has shape", tf.shape(target)],
            name="check_target_shape",
        )
        in_range = tf.reduce_all((target >= -1) & (target < self.num_classes))
        range_ok = tf.debugging.Assert(
            tf.logical_or(in_range, tf.logical_not(shaped)),
            [f"target out of range: the model has {self.num_classes} classes (0 .. {self.num_classes - 1}; "
             "-1: the predicted class); got target", target],
            name="check_target_range", summarize=64,
        )
        with tf.control_dependencies([shape_ok, range_ok]):
            target = tf.reshape(target, [-1])
        predicted = tf.cond(
            tf.reduce_any(target < 0),
            lambda: tf.argmax(self.model(x, training=False), axis=-1, output_type=tf.int32),
            lambda: tf.zeros_like(target),
        )
        classes = tf.where(target < 0, predicted, target)
        attributions, maps = self._explainers[method](x, classes)
        return {
            "maps": tf.ensure_shape(tf.cast(maps, tf.float32), (None, *self.input_shape[:2])),
            "attributions": tf.ensure_shape(tf.cast(attributions, tf.float32), (None, *self.input_shape)),
            "explained_class": classes,
        }
