"""Grad-CAM (Selvaraju et al. 2017), guided Grad-CAM, and class maps by the
deconvnet's three backward rules.

Grad-CAM of a score ``S`` (a class's logit, or one unit's activation) at a
layer with maps ``A`` (``h x w x K``): weights ``alpha_k = mean_yx dS/dA_k``,
map ``relu(sum_k alpha_k A_k)``, upsampled to the image size. The score is
the class's **logit**: a model ending in ``Dense(..., activation="softmax")``
or a ``softmax`` ``Activation``/``Softmax`` layer is read before its softmax.

Guided Grad-CAM multiplies the upsampled map with the guided backpropagation
of the same score, run by the deconvnet engine (`zfkeras.Deconvnet`,
``method="guided_backprop"``) from the tensors the classifier head reads;
the head itself (Flatten, Dense, global pooling) is back-propagated by
autodiff with the same rule at its ReLUs (`head_rectifier`), so a class's
guided backprop is Springenberg et al.'s over the whole network
(docs/METHODS.md).

Module names differ from the functions (``zfkeras.grad_cam`` is the
function): the package never binds a submodule over an exported name.
"""

import numpy as np
import tensorflow as tf

from zfkeras.deconv.deconvnet import Deconvnet, run_down
from zfkeras.deconv.rules import GUIDED_BACKPROP, METHODS
from zfkeras.graph.walk import INPUT_ID, walk
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import index_array, one_of, positive_int

INTERPOLATIONS = ("bilinear", "bicubic", "nearest")

__all__ = ["grad_cam", "guided_grad_cam", "class_projection", "batched"]


def batched(fn, arrays, batch_size, verbose):
    """``fn(*batch_tensors)`` over batches of the numpy ``arrays`` (None
    entries passed as None), results concatenated as numpy."""
    n = len(arrays[0])
    bar = progress_bar(-(-n // batch_size), verbose, "batch")
    out = []
    for start in range(0, n, batch_size):
        part = slice(start, start + batch_size)
        out.append(fn(*[None if a is None else tf.constant(a[part]) for a in arrays]).numpy())
        if bar is not None:
            bar.add(1)
    return np.concatenate(out, axis=0)


def head_rectifier(method):
    """A relu whose backward is ``method``'s rule (deconvnet: relu(dy);
    guided_backprop: relu(dy) where the forward passed; gradient: autodiff's)."""
    if method == "gradient":
        return tf.nn.relu

    @tf.custom_gradient
    def relu(x):
        y = tf.nn.relu(x)

        def grad(dy):
            dy = tf.nn.relu(dy)
            return dy if method == "deconvnet" else tf.raw_ops.ReluGrad(gradients=dy, features=y)

        return y, grad

    return relu


def _is_relu(fn):
    return getattr(fn, "__name__", "") == "relu"


def _is_softmax(fn):
    return getattr(fn, "__name__", "") == "softmax"


class _Forward:
    """The model as its walked steps, trunk and head in one executable order,
    run up with the mirror's rules (when given a `Deconvnet`) or the layers' own calls."""

    def __init__(self, model, deconvnet=None):
        graph = deconvnet.plan.graph if deconvnet is not None else walk(model, unknown="keep")
        trunk = deconvnet.plan.steps if deconvnet is not None else graph.steps
        self.graph, self.trunk = graph, trunk
        self.names = {step.name: step for step in trunk}
        steps, done, pending = [], {INPUT_ID}, list(trunk) + list(graph.head)
        while pending:  # trunk and head interleave where a trunk layer reads the head (SE blocks)
            ready = [s for s in pending if all(i in done for i in s.inputs)]
            steps.extend(ready)
            done.update(s.output for s in ready)
            pending = [s for s in pending if s not in ready]
        self.steps = steps
        self.output = max(s.output for s in steps)  # the walk numbers the model output last
        self.head_inputs = sorted({i for s in graph.head for i in s.inputs if i not in
                                   {h.output for h in graph.head}})
        self.head = [s for s in steps if s in graph.head]

    def head_seeds(self, values, classes, method):
        """d(class logit)/d(head inputs), the head's ReLUs back-propagated by
        ``method`` (Dense(relu), ReLU and Activation("relu") layers)."""
        inputs = [values[i] for i in self.head_inputs]
        relu = head_rectifier(method)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            local = dict(zip(self.head_inputs, inputs))
            logits = None
            for step in self.head:
                args = [local[i] for i in step.inputs]
                layer = step.layer
                activation = getattr(layer, "activation", None)
                if step.output == self.output:
                    logits = self._logits(layer, args)
                if _is_relu(activation) and hasattr(layer, "kernel") and step.output != self.output:
                    y = tf.matmul(args[0], tf.cast(layer.kernel, args[0].dtype))
                    local[step.output] = relu(y + layer.bias if layer.use_bias else y)
                elif type(layer).__name__ == "ReLU" or (type(layer).__name__ == "Activation"
                                                        and _is_relu(activation)):
                    local[step.output] = relu(args[0])
                else:
                    local[step.output] = layer(args[0] if len(args) == 1 else args, training=False)
            logits = local[self.output] if logits is None else logits
            score = tf.gather(logits, classes, axis=1, batch_dims=1)
        return dict(zip(self.head_inputs, tape.gradient(score, inputs, unconnected_gradients="zero")))

    @staticmethod
    def _logits(layer, args):
        """The output layer's value before its softmax, or None when it has none."""
        if _is_softmax(getattr(layer, "activation", None)) and hasattr(layer, "kernel"):
            logits = tf.matmul(args[0], tf.cast(layer.kernel, args[0].dtype))
            return logits + tf.cast(layer.bias, logits.dtype) if layer.use_bias else logits
        if _is_softmax(getattr(layer, "activation", None)) or type(layer).__name__ == "Softmax":
            return args[0]
        return None

    def step(self, name):
        if name not in self.names:
            raise ValueError(f"unknown layer {name!r}; use one of {list(self.names)}")
        return self.names[name]

    def __call__(self, images):
        """``(values, saved, logits)``: every tensor by id, the mirror's saved
        state, and the model output before a final softmax."""
        values, saved = {INPUT_ID: images}, {}
        logits = None
        for step in self.steps:
            args = [values[i] for i in step.inputs]
            rule = getattr(step, "rule", None)
            if rule is not None:
                values[step.output], saved[step.output] = rule.up(args)
                continue
            layer = step.layer
            if step.output == self.output:
                logits = self._logits(layer, args)
            values[step.output] = layer(args[0] if len(args) == 1 else args, training=False)
        return values, saved, values[self.output] if logits is None else logits


def _score(forward, values, logits, classes, unit):
    """The per-image score: the class logit, or the unit's activation (at its
    strongest position when none is given)."""
    if unit is None:
        return tf.gather(logits, classes, axis=1, batch_dims=1)
    x = values[forward.step(unit[0]).output]
    n = tf.shape(x)[0]
    channel = tf.fill([n], tf.constant(unit[1], tf.int32))
    if len(unit) > 2:
        positions = tf.tile(tf.constant([unit[2]], tf.int32), [n, 1])
    else:
        maps = tf.reshape(x[..., unit[1]], [n, -1])
        flat = tf.argmax(maps, axis=1, output_type=tf.int32)
        positions = tf.stack([flat // tf.shape(x)[2], flat % tf.shape(x)[2]], axis=1)
    return tf.gather_nd(x, tf.concat([tf.range(n)[:, None], positions, channel[:, None]], axis=1))


def _check(model, inputs, layer, classes, unit, batch_size, verbose, interpolation, forward):
    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    one_of(interpolation, "interpolation", INTERPOLATIONS)
    images = check_images(inputs, forward.graph.input_shape, model.name)
    forward.step(layer)
    if unit is not None:
        if classes is not None:
            raise ValueError("give classes or unit, not both")
        if not isinstance(unit, (tuple, list)) or len(unit) not in (2, 3):
            raise ValueError(f"unit must be (layer, channel) or (layer, channel, (y, x)); got {unit!r}")
        step = forward.step(unit[0])
        index_array(unit[1], "unit channel", 1, step.shape[-1], "channel",
                    f"layer {unit[0]!r}, which has {step.shape[-1]} channels", broadcast=True)
        return images, None, batch_size
    if classes is None:
        classes = np.argmax(model.predict(images, batch_size=batch_size, verbose=0), axis=-1)
    count = int(model.outputs[0].shape[-1])
    classes = index_array(classes, "classes", len(images), count, "class index",
                          f"model {model.name!r}, which has {count} classes", broadcast=True)
    return images, classes.astype("int32"), batch_size


def _cam_tensors(forward, layer, images, classes, unit, interpolation):
    with tf.GradientTape() as tape:
        tape.watch(images)
        values, saved, logits = forward(images)
        maps = values[forward.step(layer).output]
        score = _score(forward, values, logits, classes, unit)
    grads = tape.gradient(score, maps, unconnected_gradients="zero")
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, tf.shape(images)[1:3], method=interpolation)[..., 0]
    return cam, values, saved


def grad_cam(model, inputs, layer, classes=None, unit=None, batch_size=DEFAULT_BATCH_SIZE, verbose="auto",
             interpolation="bilinear"):
    """Grad-CAM maps of a class (or of one unit) at ``layer``, at the image size.

    Args:
        model: a single-input, single-output Keras image classifier.
        inputs: ``(N, H, W, C)`` images, preprocessed as the model expects.
        layer: the layer whose maps are weighted (its name; ``outer/inner/x``
            inside nested models), usually the last convolutional one.
        classes: None (each image's predicted class), one int, or ``(N,)``.
        unit: instead of a class, ``(layer, channel)`` or ``(layer, channel,
            (y, x))``: the score is that unit's activation (its strongest
            position in each image by default); its layer must be ``layer``
            or computed from it.
        batch_size, verbose: as everywhere.
        interpolation: upsampling, ``"bilinear"`` (the paper's), ``"bicubic"``
            (Xplique's) or ``"nearest"``.

    Returns:
        float32 ``(N, H, W)``, non-negative.
    """
    forward = _Forward(model)
    images, classes, batch_size = _check(model, inputs, layer, classes, unit, batch_size, verbose,
                                         interpolation, forward)

    @tf.function(reduce_retracing=True, autograph=False)
    def run(x, c):
        return _cam_tensors(forward, layer, x, c, unit, interpolation)[0]

    return batched(run, [images, classes], batch_size, verbose)


def _guided_function(model, layer, unit, interpolation, method, cam):
    forward = _Forward(model, Deconvnet(model))
    layer = layer or forward.trunk[-1].name  # class maps: any layer; the cam is not used

    @tf.function(reduce_retracing=True, autograph=False)
    def run(x, c):
        heat, values, saved = _cam_tensors(forward, layer, x, c, unit, interpolation)
        if unit is None:  # the class logit's gradient at the head's inputs, head ReLUs by `method`
            seeds = forward.head_seeds(values, c, method)
        else:  # the unit's own gradient seeds the way down
            target = forward.step(unit[0]).output
            with tf.GradientTape() as tape:
                tape.watch(values[target])
                score = _score(forward, {target: values[target]}, None, None, unit)
            seeds = {target: tape.gradient(score, values[target])}
        pixels = run_down(forward.trunk, seeds, saved, method, x)
        return heat[..., None] * pixels if cam else pixels

    return forward, run


def guided_grad_cam(model, inputs, layer, classes=None, unit=None, batch_size=DEFAULT_BATCH_SIZE,
                    verbose="auto", interpolation="bilinear"):
    """Guided Grad-CAM: `grad_cam` times the guided backpropagation of the same
    score (`class_projection` with ``method="guided_backprop"``), elementwise.

    Arguments as for `grad_cam`; the model's trunk must be one
    `zfkeras.Deconvnet` mirrors. Returns float32 like ``inputs``.
    """
    forward, run = _guided_function(model, layer, unit, interpolation, GUIDED_BACKPROP, cam=True)
    images, classes, batch_size = _check(model, inputs, layer, classes, unit, batch_size, verbose,
                                         interpolation, forward)
    return batched(run, [images, classes], batch_size, verbose)


def class_projection(model, inputs, classes=None, method="gradient", batch_size=DEFAULT_BATCH_SIZE,
                     verbose="auto"):
    """A class's logit taken down to pixels by one of the deconvnet engine's
    backward rules: the head by autodiff, the trunk by ``method``
    (``"gradient"``: the plain gradient of the logit, Simonyan et al.'s
    saliency before its absolute value; ``"guided_backprop"``; ``"deconvnet"``).

    Returns float32 like ``inputs``.
    """
    one_of(method, "method", METHODS)
    forward, run = _guided_function(model, None, None, "bilinear", method, cam=False)
    images, classes, batch_size = _check(model, inputs, forward.trunk[-1].name, classes, None, batch_size,
                                         verbose, "bilinear", forward)
    return batched(run, [images, classes], batch_size, verbose)
