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
from zfkeras.graph.output import is_softmax
from zfkeras.graph.positions import strongest_positions
from zfkeras.graph.walk import INPUT_ID, walk
from zfkeras.methods.unit import Unit, as_unit
from zfkeras.utils.batches import batched
from zfkeras.utils.compat import renamed_arguments
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images
from zfkeras.utils.progress import check_verbose
from zfkeras.utils.validation import index_array, one_of, positive_int

INTERPOLATIONS = ("bilinear", "bicubic", "nearest")

__all__ = ["grad_cam", "guided_grad_cam", "class_projection"]


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
        """The output layer's value before its softmax (the one output policy,
        `zfkeras.graph.output.is_softmax`), or None when it has none."""
        if not is_softmax(layer):
            return None
        if hasattr(layer, "kernel"):  # Dense(..., activation="softmax")
            logits = tf.matmul(args[0], tf.cast(layer.kernel, args[0].dtype))
            return logits + tf.cast(layer.bias, logits.dtype) if layer.use_bias else logits
        return args[0]  # Softmax or Activation("softmax"): its input

    def step(self, name):
        if not isinstance(name, str):  # a list is unhashable, a number no layer's name
            raise InputTypeError(f"layer must be one layer name (a str); got {name!r} of type {type(name).__name__}")
        if name not in self.names:
            raise InputError(f"unknown layer {name!r}; use one of {list(self.names)}")
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


def _score(forward, values, logits, classes, unit, channels, positions):
    """The per-image score: the class logit, or the unit's activation (at its
    strongest position in each image when no position is given)."""
    if unit is None:
        return tf.gather(logits, classes, axis=1, batch_dims=1)
    x = values[forward.step(unit.layer).output]
    maps = tf.gather(tf.transpose(x, [0, 3, 1, 2]), channels, axis=1, batch_dims=1)  # (N, h, w)
    positions = strongest_positions(maps) if positions is None else positions
    return tf.gather_nd(maps, tf.concat([tf.range(tf.shape(x)[0])[:, None], positions], axis=1))


def _unit_arrays(forward, unit, n, function_name):
    """A unit's channels (int32 ``(N,)``) and positions (int32 ``(N, 2)`` or
    None), checked against its layer."""
    step = forward.step(unit.layer)
    height, width, count = step.shape[-3:]
    channels = index_array(unit.channels(n), "the unit's channel", n, count, "channel",
                           f"layer {unit.layer!r}, which has {count} channels")
    positions = unit.positions(n)
    if positions is None:
        return channels.astype("int32"), None
    positions = np.asarray(positions, "int32").reshape(n, 2)
    for axis, size, what in ((0, height, "y"), (1, width, "x")):
        if size is not None and (positions[:, axis] >= size).any():
            raise InputError(f"{function_name}(): {unit} is outside layer {unit.layer!r}, whose maps are "
                             f"{height}x{width} ({what} in 0..{size - 1})")
    return channels.astype("int32"), positions


def _check(model, inputs, layer, targets, unit, batch_size, verbose, interpolation, forward, function_name):
    """The checked ``(images, classes, channels, positions, unit, batch_size)``."""
    from zfkeras.methods.explain import resolve_targets

    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    one_of(interpolation, "interpolation", INTERPOLATIONS)
    images = check_images(inputs, forward.graph.input_shape, model.name)
    forward.step(layer)
    if isinstance(targets, Unit) and unit is None:
        targets, unit = None, targets
    if unit is not None:
        if targets is not None:
            raise InputError(f"{function_name}(): give targets (classes) or unit, not both; got targets={targets!r} "
                             f"and unit={unit!r}")
        unit = as_unit(unit, function_name)
        channels, positions = _unit_arrays(forward, unit, len(images), function_name)
        return images, None, channels, positions, unit, batch_size
    classes = resolve_targets(model, images, targets, batch_size, function_name)
    return images, classes.astype("int32"), None, None, None, batch_size


def _cam_tensors(forward, layer, images, classes, unit, channels, positions, interpolation):
    with tf.GradientTape() as tape:
        tape.watch(images)
        values, saved, logits = forward(images)
        maps = values[forward.step(layer).output]
        score = _score(forward, values, logits, classes, unit, channels, positions)
    grads = tape.gradient(score, maps, unconnected_gradients="zero")
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1, keepdims=True))
    cam = tf.image.resize(cam, tf.shape(images)[1:3], method=interpolation)[..., 0]
    return cam, values, saved


@renamed_arguments(classes="targets")
def grad_cam(model, inputs, layer, targets=None, unit=None, batch_size=DEFAULT_BATCH_SIZE, verbose="auto",
             interpolation="bilinear"):
    """Grad-CAM maps of a class (or of one unit) at ``layer``, at the image size.

    Args:
        model: a single-input, single-output Keras image classifier.
        inputs: ``(N, H, W, C)`` images, preprocessed as the model expects.
        layer: the layer whose maps are weighted (its name; ``outer/inner/x``
            inside nested models), usually the last convolutional one.
        targets: the classes: None (each image's predicted class), one int,
            or ``(N,)``. The score is the class's logit (before a final
            softmax, `zfkeras.graph.output`).
        unit: instead of a class, a `zfkeras.Unit`: the score is that unit's
            activation (each image's strongest position of its map unless
            the unit gives one; channels and positions may be per image);
            its layer must be ``layer`` or computed from it. A unit may also
            be given as ``targets``.
        batch_size, verbose: as everywhere.
        interpolation: upsampling, ``"bilinear"`` (the paper's), ``"bicubic"``
            (Xplique's) or ``"nearest"``.

    Returns:
        float32 ``(N, H, W)``, non-negative.

    Raises:
        InputError: an unknown layer, bad targets or unit, both given.
    """
    forward = _Forward(model)
    images, classes, channels, positions, unit, batch_size = _check(
        model, inputs, layer, targets, unit, batch_size, verbose, interpolation, forward, "grad_cam")

    @tf.function(reduce_retracing=True, autograph=False)
    def run(x, c, ch, pos):
        return _cam_tensors(forward, layer, x, c, unit, ch, pos, interpolation)[0]

    return batched(run, [images, classes, channels, positions], batch_size, verbose)


def _guided_function(model, layer, interpolation, method, cam):
    forward = _Forward(model, Deconvnet(model))
    layer = layer or forward.trunk[-1].name  # class maps: any layer; the cam is not used

    def make(unit):
        @tf.function(reduce_retracing=True, autograph=False)
        def run(x, c, ch, pos):
            heat, values, saved = _cam_tensors(forward, layer, x, c, unit, ch, pos, interpolation)
            if unit is None:  # the class logit's gradient at the head's inputs, head ReLUs by `method`
                seeds = forward.head_seeds(values, c, method)
            else:  # the unit's own gradient seeds the way down
                target = forward.step(unit.layer).output
                with tf.GradientTape() as tape:
                    tape.watch(values[target])
                    score = _score(forward, {target: values[target]}, None, None, unit, ch, pos)
                seeds = {target: tape.gradient(score, values[target])}
            pixels = run_down(forward.trunk, seeds, saved, method, x)
            return heat[..., None] * pixels if cam else pixels

        return run

    return forward, make


@renamed_arguments(classes="targets")
def guided_grad_cam(model, inputs, layer, targets=None, unit=None, batch_size=DEFAULT_BATCH_SIZE,
                    verbose="auto", interpolation="bilinear"):
    """Guided Grad-CAM: `grad_cam` times the guided backpropagation of the same
    score (`class_projection` with ``method="guided_backprop"``), elementwise.

    Arguments as for `grad_cam`; the model's trunk must be one
    `zfkeras.Deconvnet` mirrors. Returns float32 like ``inputs``.
    """
    forward, make = _guided_function(model, layer, interpolation, GUIDED_BACKPROP, cam=True)
    images, classes, channels, positions, unit, batch_size = _check(
        model, inputs, layer, targets, unit, batch_size, verbose, interpolation, forward, "guided_grad_cam")
    return batched(make(unit), [images, classes, channels, positions], batch_size, verbose)


@renamed_arguments(classes="targets")
def class_projection(model, inputs, targets=None, method="gradient", batch_size=DEFAULT_BATCH_SIZE,
                     verbose="auto"):
    """A class's logit taken down to pixels by one of the deconvnet engine's
    backward rules: the head by autodiff, the trunk by ``method``
    (``"gradient"``: the plain gradient of the logit, Simonyan et al.'s
    saliency before its absolute value; ``"guided_backprop"``; ``"deconvnet"``).

    Args:
        targets: the classes: None (each image's predicted class), one int,
            or ``(N,)``.

    Returns float32 like ``inputs``.
    """
    one_of(method, "method", METHODS)
    if isinstance(targets, Unit):
        raise InputError(f"class_projection() explains classes; project {targets} with "
                         "zfkeras.Deconvnet(model).project(inputs, unit, method=...)")
    forward, make = _guided_function(model, None, "bilinear", method, cam=False)
    images, classes, _, _, _, batch_size = _check(model, inputs, forward.trunk[-1].name, targets, None,
                                                  batch_size, verbose, "bilinear", forward, "class_projection")
    return batched(make(None), [images, classes, None, None], batch_size, verbose)
