"""`Deconvnet`: the switch-based deconvnet of Zeiler & Fergus (2014), Sec. 2.1.

To project one activation the image runs up through the model's
convolutional trunk (recording every max pool's switches), every other
activation of the chosen layer is set to zero, and the signal goes down the
mirror network to pixels: unpool with the switches, rectify, filter with
the forward kernels transposed, and each other layer's mirror rule
(`zfkeras.deconv.rules`). On graphs the way down runs in reverse
topological order; a tensor used by several layers receives the sum of
their signals. Kernels are read from the model's variables on every call
(tied weights), so training the model changes the projections.

The same engine runs two later backward rules (``method=``): guided
backpropagation (Springenberg et al. 2015) and the plain gradient
(Simonyan et al. 2014); see `zfkeras.deconv.rules.rectify`.
"""

import functools
import warnings

import numpy as np
import tensorflow as tf

from zfkeras.deconv import geometry, unpooling as unpooling_choice
from zfkeras.deconv.graph import INPUT_ID, build_plan
from zfkeras.deconv.rules import DECONVNET, METHODS
from zfkeras.graph.positions import strongest_positions
from zfkeras.keras_objects.precision import float32_model
from zfkeras.methods.unit import Unit
from zfkeras.utils.batches import batched
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images
from zfkeras.utils.progress import check_verbose
from zfkeras.utils.validation import index_array, int_pair, one_of, positive_int

UNPOOLING_MODES = unpooling_choice.UNPOOLING_MODES


class Deconvnet:
    """The paper's deconvnet attached to every layer of a Keras convnet.

    Args:
        model: a built single-input, single-output Keras model (Sequential
            or Functional, with branches and nested models) whose
            convolutional trunk is made of the layers in `SUPPORTED_LAYERS`,
            optionally followed by a classifier head (Flatten, Dense, global
            pooling and everything computed from them), which is not mirrored.
        unpooling: ``"switches"`` records every max pool's switches with
            `tf.nn.max_pool_with_argmax` and unpools with them;
            ``"max_pool_grad"`` unpools with TensorFlow's max-pool gradient
            kernel, which keeps the same switches internally. Both give the
            same projections (tested); which is faster depends on the CPU
            (docs/BENCHMARKS.md). ``"auto"`` (default) times both on the
            model's max pools once, at the first projection, and keeps the
            faster (`resolved_unpooling`; `zfkeras.deconv.unpooling`).

    Raises:
        ValueError: a layer of the trunk has no mirror rule (the message
            names it, its type and the supported layers), or the model is
            not built or has several inputs or outputs.
    """

    def __init__(self, model, unpooling="auto"):
        self.unpooling = one_of(unpooling, "unpooling", UNPOOLING_MODES)
        # a mixed-precision model is projected through a float32 copy of its
        # weights (float16 switches and signals would differ from float32's)
        self.model = float32_model(model)
        self._plans = {}
        self._resolved = None if unpooling == unpooling_choice.AUTO else unpooling
        # The model graph, its trunk's names, shapes and receptive fields are
        # the same in every unpooling mode: read them from the first plan built.
        # `plan` (the rules the projections run) is the resolved mode's.
        first = self._plan_for(self._resolved or unpooling_choice.SWITCHES)
        self._graph = first.graph
        self._steps = first.steps
        self._index = {step.name: i for i, step in enumerate(self._steps)}
        self._ancestor_cache = {}
        self._fns = {}
        self._sizes_cache = {}

    @property
    def resolved_unpooling(self):
        """The unpooling the projections use: `unpooling`, or for ``"auto"``
        the faster path, measured once (``"switches"`` or ``"max_pool_grad"``)."""
        if self._resolved is None:
            sizes = None if None in self.input_shape[:2] else self._sizes(None)
            self._resolved = unpooling_choice.choose(self._plan_for, sizes)
        return self._resolved

    @property
    def plan(self):
        """The `zfkeras.deconv.graph.Plan` the projections run (the model graph
        with its mirror rules, in the `resolved_unpooling` mode)."""
        return self._plan_for(self.resolved_unpooling)

    @property
    def input_shape(self):
        """``(H, W, C)`` of the model's input (entries may be None)."""
        return self._graph.input_shape

    @property
    def layer_names(self):
        """Names of the layers whose activations can be projected
        (``outer/inner/layer`` inside nested models), inputs first."""
        return [step.name for step in self._steps]

    def layer_output_shape(self, layer, image_shape=None):
        """``(H, W, C)`` of `layer`'s output for images of ``image_shape``.

        Args:
            layer: a name in `layer_names`.
            image_shape: ``(H, W)`` or ``(H, W, C)``; default the model's.
        """
        step = self._steps[self._layer_index(layer)]
        height, width = self._sizes(image_shape)[step.output]
        return (height, width, step.shape[-1])

    def receptive_field(self, layer, position, image_shape=None):
        """The input-pixel box that can influence a unit of `layer`.

        Computed from the model graph's windows (`zfkeras.graph`: kernels,
        strides, paddings, SAME and ZeroPadding2D included). After branches
        it is the union (bounding box) of the boxes along every path down
        to the image.

        Args:
            layer: a name in `layer_names`.
            position: ``(y, x)``, or an ``(N, 2)`` integer array.
            image_shape: ``(H, W)`` or ``(H, W, C)``; default the model's.

        Returns:
            ``(top, left, bottom, right)`` ints, end-exclusive, clipped to
            the image, or an ``(N, 4)`` int array for ``(N, 2)`` positions.
            A unit that sees only padding gets ``(0, 0, 0, 0)``.
        """
        index = self._layer_index(layer)
        height, width, _ = self.layer_output_shape(layer, image_shape)
        positions = np.asarray(position)
        single = positions.shape == (2,)
        positions = positions.reshape(1, 2) if single else positions
        self._check_positions(positions, len(positions), layer, height, width)
        steps = self._ancestors(index)
        boxes = geometry.receptive_boxes(steps, self._sizes(image_shape),
                                         self._steps[index].output, positions)
        return tuple(int(v) for v in boxes[0]) if single else boxes

    def projection_function(self, layer, method=DECONVNET):
        """A TensorFlow-traceable projection for one layer (for `tf.function`,
        SavedModel export, or use inside other graphs).

        Args:
            layer: a name in `layer_names`.
            method: the backward rule, as for `project`.

        Returns:
            ``fn(images, channels, positions=None)`` taking float32 NHWC
            images, int32 ``(N,)`` channels and int32 ``(N, 2)`` positions
            (None: each channel's strongest activation), returning
            ``(projection, positions, values)``: float32 like the images,
            the int32 ``(N, 2)`` positions used, and the float32 ``(N,)``
            activations projected. Arguments are not checked: validate
            first (as `project` does).
        """
        index = self._layer_index(layer)
        method = one_of(method, "method", METHODS)
        return functools.partial(_project_graph, self._ancestors(index), self._steps[index].output,
                                 method=method)

    def project(self, inputs, unit, channel=None, position=None, batch_size=DEFAULT_BATCH_SIZE,
                verbose="auto", method=DECONVNET):
        """Projects one activation per image down to pixel space.

        Args:
            inputs: ``(N, H, W, C)`` image array, preprocessed as the model
                expects.
            unit: a `zfkeras.Unit`: its layer (a name in `layer_names`), its
                channel (one for all images, or one per image) and its
                position (None: each image's strongest activation of the
                channel; a ``(y, x)`` pair; or one pair per image).
            channel, position: the deprecated form ``project(inputs, layer,
                channel, position=None)`` (``unit`` a layer name), kept for
                one release with a DeprecationWarning.
            batch_size: images projected per graph call (bounds memory).
            verbose: 0 (silent), 1 (a progress bar over batches) or
                "auto" (a bar over more than 20 batches).
            method: the backward rule at every rectifier (docs/METHODS.md):
                ``"deconvnet"`` (default, the paper's: rectify the signal),
                ``"guided_backprop"`` (rectify and apply the forward ReLU's
                mask) or ``"gradient"`` (the mask only: the plain gradient
                of the activation). The same switches, tied weights and
                other rules in all three; each is seeded with the chosen
                activation's value, so ``"gradient"`` returns the value
                times its gradient with respect to the pixels.

        Returns:
            float32 array shaped like `inputs`.

        Raises:
            InputError: an unknown layer, a channel or position out of
                range, bad images.
        """
        unit = _project_unit(unit, channel, position)
        one_of(method, "method", METHODS)
        batch_size = positive_int(batch_size, "batch_size")
        check_verbose(verbose)
        images = check_images(inputs, self.input_shape, self.model.name)
        n = images.shape[0]
        layer = unit.layer
        height, width, channels_count = self.layer_output_shape(layer, images.shape[1:])
        channels = index_array(unit.channels(n), "the unit's channel", n, channels_count, "channel index",
                               f"layer {layer!r}, which has {channels_count} channels").astype("int32")
        positions = unit.positions(n)
        if positions is not None:
            positions = np.asarray(positions, "int32").reshape(n, 2)
            self._check_positions(positions, n, layer, height, width)
        fn = self._function(layer, method)
        return batched(lambda *args: fn(*args)[0], [images, channels, positions], batch_size, verbose)

    # -- internals ---------------------------------------------------------

    def _layer_index(self, layer):
        if not isinstance(layer, str):
            raise InputTypeError(f"layer must be a layer name (str), got {layer!r} of type "
                                 f"{type(layer).__name__}")
        if layer in self._index:
            return self._index[layer]
        if layer in self._graph.head_names:
            raise InputError(
                f"layer {layer!r} is in the classifier head, which the deconvnet does not "
                f"mirror; project from one of {self.layer_names}"
            )
        raise InputError(f"unknown layer {layer!r}; project from one of {self.layer_names}")

    def _plan_for(self, mode):
        if mode not in self._plans:
            self._plans[mode] = build_plan(self.model, mode)
        return self._plans[mode]

    def _ancestors(self, index):
        """The steps the output of step ``index`` depends on, in topological order."""
        key = (index, self.resolved_unpooling)
        if key not in self._ancestor_cache:
            # the plan's steps are the graph's, index for index, with their rules
            steps = self.plan.steps
            self._ancestor_cache[key] = [steps[i] for i in self._graph.ancestors(index)]
        return self._ancestor_cache[key]

    def _sizes(self, image_shape):
        """Tensor id -> (H, W) for ``image_shape`` (default: the model's)."""
        if image_shape is None and None in self.input_shape[:2]:
            raise InputError(
                f"the model's input size is not fixed (input shape {self.input_shape}); "
                "pass image_shape=(H, W)"
            )
        hw = int_pair(tuple(image_shape or self.input_shape)[:2], "image_shape (H, W)")
        if hw not in self._sizes_cache:
            self._sizes_cache[hw] = self._graph.spatial_sizes(hw)
        return self._sizes_cache[hw]

    @staticmethod
    def _check_positions(positions, n, layer, height, width):
        if positions.shape != (n, 2) or not np.issubdtype(positions.dtype, np.integer):
            raise InputError(
                f"position must be None, an integer (y, x) pair or an (N, 2) integer array "
                f"with N={n}; got shape {positions.shape} and dtype {positions.dtype}"
            )
        bad = ((positions[:, 0] < 0) | (positions[:, 0] >= height)
               | (positions[:, 1] < 0) | (positions[:, 1] >= width))
        if bad.any():
            raise InputError(
                f"position {tuple(int(v) for v in positions[bad][0])} is out of range for "
                f"layer {layer!r}, whose maps are {height}x{width} "
                f"(y in 0..{height - 1}, x in 0..{width - 1})"
            )

    def _function(self, layer, method=DECONVNET):
        if (layer, method) not in self._fns:
            self._fns[layer, method] = tf.function(self.projection_function(layer, method),
                                                   reduce_retracing=True, jit_compile=False,
                                                   autograph=False)  # plain Python: faster tracing
        return self._fns[layer, method]


def run_up(steps, images):
    """Up through ``steps``: ``(values, saved)``, tensor id -> output and what
    its way down needs."""
    values, saved = {INPUT_ID: images}, {}
    for step in steps:
        values[step.output], saved[step.output] = step.rule.up([values[i] for i in step.inputs])
    return values, saved


def run_down(steps, signals, saved, method, images):
    """Down through ``steps`` (reversed) from ``signals`` (tensor id -> signal
    at that tensor) to the pixels; a tensor read by several steps gets the sum."""
    signals = dict(signals)
    for step in reversed(steps):
        signal = signals.pop(step.output, None)
        if signal is None:
            continue
        for tensor_id, down in zip(step.inputs, step.rule.down(signal, saved[step.output], method)):
            if down is not None:  # fan-out: a tensor gets the sum of its consumers' signals
                signals[tensor_id] = signals[tensor_id] + down if tensor_id in signals else down
    projection = signals.get(INPUT_ID)
    return tf.zeros_like(images) if projection is None else projection


def _project_graph(steps, target, images, channels, positions=None, method=DECONVNET):
    """Up through `steps` recording what the way down needs, select, go down."""
    values, saved = run_up(steps, images)
    x = values[target]
    n = tf.shape(x)[0]
    if positions is None:
        positions = strongest_positions(tf.gather(tf.transpose(x, [0, 3, 1, 2]), channels, axis=1, batch_dims=1))
    positions = tf.cast(positions, tf.int32)
    index = tf.stack([tf.range(n, dtype=tf.int32), positions[:, 0], positions[:, 1],
                      tf.cast(channels, tf.int32)], axis=1)
    chosen = tf.gather_nd(x, index)
    # every other activation of the layer is zero; the chosen one keeps its value
    signals = {target: tf.scatter_nd(index, chosen, tf.shape(x))}
    return run_down(steps, signals, saved, method, images), positions, chosen


def _project_unit(unit, channel, position):
    """`Deconvnet.project`'s ``unit``: a `Unit`, or the deprecated ``layer,
    channel, position`` form (a layer name and a channel)."""
    if isinstance(unit, Unit):
        if channel is not None or position is not None:
            raise InputError(f"Deconvnet.project(): give a zfkeras.Unit or the deprecated layer, channel, "
                             f"position, not both; got {unit} and channel={channel!r}, position={position!r}")
        return unit
    if isinstance(unit, str):
        if channel is None:
            raise InputError(f"Deconvnet.project(): got the layer {unit!r} without a channel; "
                             f"give zfkeras.Unit({unit!r}, channel)")
        warnings.warn("Deconvnet.project(inputs, layer, channel, position) is deprecated and will be removed in "
                      "zfkeras 0.4.0; use project(inputs, zfkeras.Unit(layer, channel, position=None))",
                      DeprecationWarning, stacklevel=3)
        return Unit(unit, channel, position)
    raise InputTypeError(f"Deconvnet.project(): unit must be a zfkeras.Unit(layer, channel, position=None); "
                         f"got {unit!r} of type {type(unit).__name__}")
