"""The switch-based deconvnet of Zeiler & Fergus (2014), Sec. 2.1.

`Deconvnet(model)` mirrors the convolutional trunk of a Keras model. To
project one activation it runs the image up (recording every max-pool's
switches), zeroes every other activation of the chosen layer, then repeats
down to pixels: unpool with the switches, rectify, and filter with the
forward kernels transposed (`tf.nn.conv2d_transpose`, no biases). The
kernels are read from the forward model on every call (tied weights), so
training the model changes the projections.
"""

import functools

import numpy as np
import keras
import tensorflow as tf

from zfkeras.layers.local_response_normalization import LocalResponseNormalization
from zfkeras.layers.max_pool_with_argmax import MaxPoolWithArgmax, max_pool_with_argmax
from zfkeras.layers.max_unpool import unpool_like
from zfkeras.layers._pooling import normalize_pool_args

# Layers that end the convolutional trunk: the deconvnet mirrors what is
# before them and ignores the classifier head from there on.
_HEAD_TYPES = (
    keras.layers.Flatten,
    keras.layers.Dense,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)

SUPPORTED_LAYERS = (
    "InputLayer, Conv2D (ReLU or linear activation), MaxPooling2D, MaxPoolWithArgmax, "
    "ZeroPadding2D, ReLU, Activation('relu'|'linear'), Dropout, Rescaling, "
    "LocalResponseNormalization"
)


class _Step:
    """One mirrored layer: `up` computes the forward output (and what the
    way down needs), `down` maps a signal at the output to the input."""

    def __init__(self, layer, kind, **params):
        self.layer, self.kind, self.params = layer, kind, params
        self.name = layer.name

    def up(self, x):
        p = self.params
        if self.kind == "conv":
            layer = self.layer
            y = tf.nn.conv2d(x, tf.cast(layer.kernel, x.dtype), p["strides"], p["padding"])
            if layer.use_bias:
                y = tf.nn.bias_add(y, tf.cast(layer.bias, x.dtype))
            return (tf.nn.relu(y) if p["relu"] else y), tf.shape(x)
        if self.kind == "pool":
            if p["unpooling"] == "max_pool_grad":
                y = tf.nn.max_pool2d(x, p["pool_size"], p["strides"], p["padding"].upper())
                return y, (x, y)
            y, switches = max_pool_with_argmax(x, p["pool_size"], p["strides"], p["padding"])
            return y, (switches, x)
        if self.kind == "pad":
            (t, b), (l, r) = p["padding"]
            return tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]), tf.shape(x)
        if self.kind == "relu":
            return tf.nn.relu(x), None
        if self.kind == "rescale":
            return x * p["scale"] + p["offset"], None
        if self.kind == "lrn":
            return self.layer(x), None
        return x, None  # identity

    def down(self, s, saved):
        p = self.params
        if self.kind == "conv":
            if p["relu"]:
                s = tf.nn.relu(s)  # rectify
            kernel = tf.cast(self.layer.kernel, s.dtype)  # tied weights, live
            return tf.nn.conv2d_transpose(s, kernel, saved, p["strides"], p["padding"])
        if self.kind == "pool":
            if p["unpooling"] == "max_pool_grad":
                x, y = saved
                # The max-pool gradient routes each value to its window's
                # argmax: the same unpooling, with the switches kept inside
                # the pooling kernel (oneDNN's workspace on CPU).
                return tf.raw_ops.MaxPoolGrad(
                    orig_input=x, orig_output=y, grad=s,
                    ksize=[1, *p["pool_size"], 1], strides=[1, *p["strides"], 1],
                    padding=p["padding"].upper(),
                )
            switches, pooled_input = saved
            return unpool_like(s, switches, pooled_input, p["pool_size"], p["strides"], p["padding"])
        if self.kind == "pad":
            (t, _), (l, _) = p["padding"]
            return s[:, t : t + saved[1], l : l + saved[2], :]
        if self.kind == "relu":
            return tf.nn.relu(s)
        if self.kind == "rescale":
            return s * p["scale"]
        return s  # identity; LRN is skipped on the way down, as in the paper


def _activation_name(fn):
    return getattr(fn, "__name__", type(fn).__name__)


def _classify(layer, unpooling):
    """Returns the `_Step` for `layer` or raises ValueError naming it."""
    kind = type(layer).__name__

    def unsupported(why=""):
        return ValueError(
            f"Deconvnet cannot mirror layer {layer.name!r} of type {kind}{why}. "
            f"Supported layers before the classifier head: {SUPPORTED_LAYERS}."
        )

    if isinstance(layer, keras.layers.InputLayer):
        return None
    if isinstance(layer, keras.layers.Conv2D) and type(layer) is keras.layers.Conv2D:
        act = _activation_name(layer.activation)
        if act not in ("relu", "linear"):
            raise unsupported(f" with activation {act!r} (only relu or linear)")
        if tuple(layer.dilation_rate) != (1, 1) or layer.groups != 1:
            raise unsupported(" with dilation or groups")
        if layer.data_format != "channels_last":
            raise unsupported(" with data_format channels_first")
        return _Step(layer, "conv", relu=act == "relu", strides=list(layer.strides),
                     padding=layer.padding.upper())
    if isinstance(layer, (keras.layers.MaxPooling2D, MaxPoolWithArgmax)):
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise unsupported(" with data_format channels_first")
        pool_size, strides, padding = normalize_pool_args(
            layer.pool_size, layer.strides, layer.padding
        )
        return _Step(layer, "pool", pool_size=pool_size, strides=strides, padding=padding,
                     unpooling=unpooling)
    if isinstance(layer, keras.layers.ZeroPadding2D):
        if layer.data_format != "channels_last":
            raise unsupported(" with data_format channels_first")
        return _Step(layer, "pad", padding=tuple(tuple(int(v) for v in p) for p in layer.padding))
    if isinstance(layer, keras.layers.ReLU):
        if layer.max_value is not None or layer.negative_slope != 0 or layer.threshold != 0:
            raise unsupported(" with max_value, negative_slope or threshold")
        return _Step(layer, "relu")
    if isinstance(layer, keras.layers.Activation):
        act = _activation_name(layer.activation)
        if act == "relu":
            return _Step(layer, "relu")
        if act == "linear":
            return _Step(layer, "identity")
        raise unsupported(f" with activation {act!r} (only relu or linear)")
    if isinstance(layer, keras.layers.Dropout):
        return _Step(layer, "identity")
    if isinstance(layer, keras.layers.Rescaling):
        return _Step(layer, "rescale", scale=float(np.asarray(layer.scale)),
                     offset=float(np.asarray(layer.offset)))
    if isinstance(layer, LocalResponseNormalization):
        return _Step(layer, "lrn")
    raise unsupported()


def _chain(model):
    """The model's layers from input to output; ValueError unless one chain."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Deconvnet needs a keras.Model, got {type(model).__name__}")
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if not outputs:
        raise ValueError(
            f"model {model.name!r} is not built: give it an input shape "
            "(keras.Input or input_shape=) before making a Deconvnet"
        )
    if len(model.inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"Deconvnet needs a single-input, single-output chain; model {model.name!r} "
            f"has {len(model.inputs)} inputs and {len(outputs)} outputs"
        )
    layers = []
    tensor = outputs[0]
    while True:
        layer, node_index, tensor_index = tensor._keras_history
        layers.append(layer)
        if isinstance(layer, keras.layers.InputLayer):
            break
        if isinstance(layer, keras.Model):
            raise ValueError(
                f"Deconvnet cannot mirror nested model {layer.name!r} "
                f"({type(layer).__name__}); build the model from its layers directly"
            )
        node = layer._inbound_nodes[node_index]
        inputs = list(node.input_tensors)
        if len(inputs) != 1:
            raise ValueError(
                f"Deconvnet needs a single chain of layers; layer {layer.name!r} "
                f"({type(layer).__name__}) has {len(inputs)} inputs"
            )
        tensor = inputs[0]
        if tensor._keras_history[2] != 0:
            raise ValueError(
                f"layer {layer.name!r} consumes output {tensor._keras_history[2]} of "
                f"{tensor._keras_history[0].name!r}; only the first output can be mirrored"
            )
    return layers[::-1]


class Deconvnet:
    """The paper's deconvnet attached to every layer of a Keras convnet.

    Args:
        model: a built ZFNet-family model, or any Keras Sequential or
            single-chain Functional convnet made of the layers listed in
            `SUPPORTED_LAYERS`, optionally followed by a classifier head
            (Flatten/Dense/global pooling and anything after them, which is
            not mirrored).
        unpooling: ``"switches"`` (default) records every max pool's
            switches with `tf.nn.max_pool_with_argmax` and unpools with
            them; ``"max_pool_grad"`` unpools with TensorFlow's max-pool
            gradient kernel, which keeps the same switches internally
            (oneDNN's workspace on CPU). Both give the same projections
            (tested); the second is about 1.4x faster on CPU for small
            models (docs/BENCHMARKS.md).

    Raises:
        ValueError: a layer of the convolutional trunk has no mirror (the
            message names it and its type), or the model is not one chain.
    """

    def __init__(self, model, unpooling="switches"):
        if unpooling not in ("switches", "max_pool_grad"):
            raise ValueError(f"unpooling must be 'switches' or 'max_pool_grad', got {unpooling!r}")
        self.model = model
        self.unpooling = unpooling
        layers = _chain(model)
        self.input_shape = tuple(layers[0].output.shape[1:])
        self._steps = []
        self._head = []
        for i, layer in enumerate(layers):
            if isinstance(layer, _HEAD_TYPES):
                self._head = [l.name for l in layers[i:]]
                break
            step = _classify(layer, unpooling)
            if step is not None:
                self._steps.append(step)
        if not any(s.kind == "conv" for s in self._steps):
            raise ValueError(f"model {model.name!r} has no Conv2D layer before its head; nothing to project")
        self._index = {s.name: i for i, s in enumerate(self._steps)}
        self._fns = {}
        self._shape_cache = {}

    @property
    def layer_names(self):
        """Names of the layers whose activations can be projected."""
        return [s.name for s in self._steps]

    def output_shape(self, layer, image_shape=None):
        """``(H, W, C)`` of `layer` for images of ``image_shape`` (default: the model's)."""
        index = self._layer_index(layer)
        image_shape = tuple(image_shape or self.input_shape)
        key = (index, image_shape)
        if key not in self._shape_cache:
            shape = (None,) + image_shape
            for step in self._steps[: index + 1]:
                shape = step.layer.compute_output_shape(shape)
                if isinstance(shape, (tuple, list)) and shape and isinstance(shape[0], (tuple, list)):
                    shape = shape[0]  # MaxPoolWithArgmax: (pooled, switches)
            self._shape_cache[key] = tuple(shape[1:])
        return self._shape_cache[key]

    def project(self, images, layer, channel, position=None, batch_size=64):
        """Projects one activation per image of `layer` down to pixel space.

        Args:
            images: ``(N, H, W, C)`` array, preprocessed as the model expects.
            layer: name of a layer in `layer_names`.
            channel: feature map index, an int for all images or a 1-D array
                with one index per image.
            position: None for the channel's strongest activation in each
                image, a ``(y, x)`` pair for all images, or an ``(N, 2)``
                array with one position per image.
            batch_size: images projected per graph call (bounds memory).

        Returns:
            float32 array shaped like `images`.
        """
        images = self._check_images(images)
        n = images.shape[0]
        index = self._layer_index(layer)
        h, w, c = self.output_shape(layer, images.shape[1:])
        channels = np.asarray(channel)
        if channels.ndim == 0:
            channels = np.full(n, channels)
        if channels.ndim != 1 or channels.shape[0] != n:
            raise ValueError(
                f"channel must be an int or a 1-D array with one entry per image ({n}); "
                f"got shape {channels.shape}"
            )
        if not np.issubdtype(channels.dtype, np.integer):
            raise ValueError(f"channel must be integer, got dtype {channels.dtype}")
        bad = (channels < 0) | (channels >= c)
        if bad.any():
            raise ValueError(
                f"channel {channels[bad][0]} is out of range for layer {layer!r}, "
                f"which has {c} channels (0..{c - 1})"
            )
        if position is None:
            positions = np.zeros((n, 2), np.int32)
            use_max = True
        else:
            positions = np.asarray(position)
            if positions.shape == (2,):
                positions = np.tile(positions, (n, 1))
            if positions.shape != (n, 2) or not np.issubdtype(positions.dtype, np.integer):
                raise ValueError(
                    f"position must be None, an integer (y, x) pair or an (N, 2) integer array "
                    f"with N={n}; got shape {np.asarray(position).shape}"
                )
            bad = (positions[:, 0] < 0) | (positions[:, 0] >= h) | (positions[:, 1] < 0) | (positions[:, 1] >= w)
            if bad.any():
                raise ValueError(
                    f"position {tuple(int(v) for v in positions[bad][0])} is out of range for "
                    f"layer {layer!r}, whose maps are {h}x{w} (y in 0..{h - 1}, x in 0..{w - 1})"
                )
            use_max = False
        fn = self._function(index)
        out = []
        for start in range(0, n, batch_size):
            sl = slice(start, start + batch_size)
            out.append(
                fn(
                    tf.constant(images[sl]),
                    tf.constant(channels[sl], tf.int32),
                    tf.constant(positions[sl], tf.int32),
                    tf.constant(use_max),
                ).numpy()
            )
        return np.concatenate(out, axis=0)

    # -- internals ---------------------------------------------------------

    def _layer_index(self, layer):
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name (str), got {type(layer).__name__}")
        if layer in self._index:
            return self._index[layer]
        if layer in self._head:
            raise ValueError(
                f"layer {layer!r} is in the classifier head, which the deconvnet does not "
                f"mirror; project from one of {self.layer_names}"
            )
        raise ValueError(f"unknown layer {layer!r}; project from one of {self.layer_names}")

    def _check_images(self, images):
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(
                f"images must be a batch shaped (N, H, W, C); got shape {images.shape}"
                + (" (add a batch axis: images[None])" if images.ndim == 3 else "")
            )
        expected = self.input_shape
        for axis, (got, want) in enumerate(zip(images.shape[1:], expected)):
            if want is not None and got != want:
                what = ("height", "width", "channel count")[axis]
                raise ValueError(
                    f"images have {what} {got} but model {self.model.name!r} expects "
                    f"{want} (input shape {expected}); got images of shape {images.shape}"
                )
        if images.shape[0] == 0:
            raise ValueError("images is empty (N = 0)")
        images = images.astype(np.float32, copy=False)
        if not np.isfinite(images).all():
            raise ValueError("images contain NaN or infinite values")
        return images

    def _function(self, index):
        if index not in self._fns:
            # A partial per layer: TensorFlow keys its retracing warning on
            # the Python function, and each layer's graph is traced once.
            self._fns[index] = tf.function(
                functools.partial(_project_graph, self._steps[: index + 1]),
                reduce_retracing=True,
                jit_compile=False,
            )
        return self._fns[index]


def _project_graph(steps, images, channels, positions, use_max):
    """Up through `steps` recording switches, select, then down to pixels."""
    x, saved = images, []
    for step in steps:
        x, aux = step.up(x)
        saved.append(aux)
    n = tf.shape(x)[0]
    batch = tf.range(n, dtype=tf.int32)
    maps = tf.gather(tf.transpose(x, [0, 3, 1, 2]), channels, axis=1, batch_dims=1)
    width = tf.shape(x)[2]
    flat = tf.argmax(tf.reshape(maps, [n, -1]), axis=1, output_type=tf.int32)
    strongest = tf.stack([flat // width, flat % width], axis=1)
    pos = tf.where(use_max, strongest, positions)
    idx = tf.stack([batch, pos[:, 0], pos[:, 1], channels], axis=1)
    # every other activation of the layer is zero; the chosen one keeps its value
    signal = tf.scatter_nd(idx, tf.gather_nd(x, idx), tf.shape(x))
    for step, aux in zip(reversed(steps), reversed(saved)):
        signal = step.down(signal, aux)
    return signal
