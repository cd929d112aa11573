"""Streaming images through a model for the outputs of several layers.

Shared by `zfkeras.methods.features` and `zfkeras.methods.top_activations`: it turns what a user
passes as ``inputs`` into a `tf.data.Dataset` of image batches checked
against the model's input (by `zfkeras.utils.inputs`, the one image check), and
builds the one multi-output sub-model that gives every requested layer's
output in a single forward pass.

Accepted ``inputs``:

* an image array ``(N, H, W, C)`` (numpy, a `tf.Tensor`, or anything
  `np.asarray` takes), cut into batches of ``batch_size`` without a copy;
* a `tf.data.Dataset` whose elements are images, ``(images, labels, ...)``
  tuples (the first item is used) or dicts with an ``"image"`` key (TFDS).
  Elements of rank 3 ``(H, W, C)`` are unbatched and get batched here;
  elements of rank 4 ``(B, H, W, C)`` are batches, used as they come
  (``batch_size`` is then ignored).

Under a `tf.distribute` strategy (`distribute_stream`) every input
pipeline (one per worker) reads only its shard, with the image ids of the
whole input: an array's contiguous slice ``[i*N//n, (i+1)*N//n)`` (only
that slice is ever read), an unbatched dataset's elements ``i, i+n, ...``
and a batched dataset's batches ``i, i+n, ...`` (`tf.data.Dataset.shard`:
the model runs only on the shard, but the elements before the shard are
still produced by the dataset's own steps; shard the files of a costly
pipeline yourself, or give arrays).
"""

import re
from typing import Callable, NamedTuple, Optional

import numpy as np
import keras
import tensorflow as tf

from zfkeras.utils.inputs import (
    DEFAULT_BATCH_SIZE, check_image_dtype, check_image_shape, check_images, model_input_shape,
)
from zfkeras.utils.validation import positive_int


class ImageStream(NamedTuple):
    """A dataset of image batches and what is known of its size.

    Attributes:
        dataset: yields ``images`` batches, or ``(images, image_ids)`` when
            asked for ids (int64 indices in the order ``inputs`` yields).
        num_images: the number of images, or None when unknown in advance.
        num_batches: the number of batches, or None when unknown.
        shard: ``shard(count, index, batch_size)``: the dataset of one of
            ``count`` input pipelines, ``(images, image_ids)`` batches of
            at most ``batch_size`` (arrays and unbatched datasets) with the
            ids of the whole input (see the module docstring).
    """

    dataset: tf.data.Dataset
    num_images: Optional[int]
    num_batches: Optional[int]
    shard: Optional[Callable] = None


def resolve_layers(model, layers, purpose, maps_only=False):
    """Checks requested layer names against the model.

    Args:
        model: a `keras.Model`.
        layers: a layer name or a list of names (plain Keras names, or
            ``"outer/inner"`` inside nested models: `qualified_layer`).
        purpose: what the layers are for, for messages ("features").
        maps_only: require 4-D outputs (convolutional feature maps).

    Returns:
        ``(names, single)``: the list of distinct names, in order, and
        whether ``layers`` was one name.
    """
    single = isinstance(layers, str)
    if single:
        names = [layers]
    else:
        try:
            names = list(layers)
        except TypeError:
            raise TypeError(f"layers must be a layer name or a list of names, got {layers!r}") from None
        if not names:
            raise ValueError(f"layers is empty; give at least one layer name, e.g. {_candidates(model, maps_only)[:3]}")
        bad = [n for n in names if not isinstance(n, str)]
        if bad:
            raise TypeError(f"layer names must be strings, got {bad[0]!r} of type {type(bad[0]).__name__}")
        names = list(dict.fromkeys(names))
    for name in names:
        try:
            layer = qualified_layer(model, name)
        except ValueError:
            raise ValueError(
                f"unknown layer {name!r} for {purpose}; model {model.name!r} has "
                f"{'feature-map layers' if maps_only else 'layers'} {_candidates(model, maps_only)}"
            ) from None
        shape = _output_shape(model, layer)
        if maps_only and len(shape) != 4:
            raise ValueError(
                f"layer {name!r} ({type(layer).__name__}, output shape {shape}) is not a "
                f"convolutional feature map; {purpose} needs a 4-D (batch, height, width, "
                f"channels) output: choose one of {_candidates(model, True)}"
            )
    return names, single


def qualified_layer(model, name):
    """The layer ``name`` of ``model``: a plain Keras name, or ``"outer/inner"``
    for a layer inside a nested model (the names `zfkeras.Deconvnet` gives).

    Raises:
        ValueError: no such layer (or ``outer`` is not a model).
    """
    first, _, rest = name.partition("/")
    layer = model.get_layer(first)
    if not rest:
        return layer
    if not isinstance(layer, keras.Model):
        raise ValueError(f"layer {first!r} of model {model.name!r} is not a nested model")
    return qualified_layer(layer, rest)


def layer_output(model, name):
    """The symbolic output of layer ``name`` (see `qualified_layer`) in ``model``'s graph.

    A layer inside a nested model gets a path from the outer model's input:
    the nested model's layers up to it, called on the tensor the nested
    model is called on (its weights are shared, not copied).
    """
    first, _, rest = name.partition("/")
    layer = model.get_layer(first)
    if not rest:
        return layer.output
    qualified_layer(model, name)  # raises for an unknown name
    nested = keras.Model(layer.inputs, layer_output(layer, rest), name=f"{layer.name}_to_{rest.replace('/', '_')}")
    fed = _call_inputs(model, layer)
    return nested(fed[0] if len(fed) == 1 else fed)


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
        raise ValueError(f"nested model {nested.name!r} is called {len(nodes)} times in model {model.name!r}; "
                         "its layers have no single output to read")
    return list(next(iter(nodes.values())).input_tensors)


def _output_shape(model, layer):
    if isinstance(layer, keras.layers.InputLayer):
        raise ValueError(f"layer {layer.name!r} is the model's input, not a computed layer; give the images themselves")
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError) as e:
        raise ValueError(
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


def layer_output_model(model, names):
    """One `keras.Model` from the model's input to the layers' outputs.

    A single forward pass then gives every requested layer (the graph up to
    the deepest one is shared, nothing beyond it is computed).
    """
    outputs = [layer_output(model, name) for name in names]
    return keras.Model(model.inputs, outputs, name=f"{model.name}_layer_outputs")


def image_stream(model, inputs, batch_size=DEFAULT_BATCH_SIZE, with_ids=False):
    """Turns ``inputs`` into an `ImageStream` checked against ``model``'s input.

    Args:
        model: single-input image model.
        inputs: see the module docstring.
        batch_size: images per batch for arrays and unbatched datasets.
        with_ids: also yield each image's int64 index in input order.

    Returns:
        An `ImageStream`.

    Raises:
        ValueError: wrong image shape, empty inputs, NaN or inf in an
        array; TypeError: unsupported ``inputs``.
    """
    batch_size = positive_int(batch_size, "batch_size")
    expected = model_input_shape(model)
    if isinstance(inputs, tf.data.Dataset):
        return _dataset_stream(inputs, expected, model.name, batch_size, with_ids)
    return _array_stream(inputs, expected, model.name, batch_size, with_ids)


def _array_stream(inputs, expected, model_name, batch_size, with_ids):
    # dtype=None: no copy of the whole array; batches are cast on the way.
    images = check_images(inputs, expected, model_name, dtype=None)
    n = len(images)
    dataset = _array_batches(images, 0, n, batch_size)
    if with_ids:
        dataset = _attach_ids(dataset)

    def shard(count, index, shard_batch):
        start, stop = index * n // count, (index + 1) * n // count
        return _attach_ids(_array_batches(images, start, stop, shard_batch), start).prefetch(2)

    return ImageStream(dataset.prefetch(2), n, -(-n // batch_size), shard)


def _array_batches(images, start, stop, batch_size):
    """Batches of ``images[start:stop]``; nothing outside is read."""

    def batches():
        for first in range(start, stop, batch_size):
            # Slices are views: the array is never copied as a whole.
            yield images[first : min(first + batch_size, stop)]

    spec = tf.TensorSpec((None, *images.shape[1:]), tf.as_dtype(images.dtype))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=spec)
    return dataset.apply(tf.data.experimental.assert_cardinality(-(-(stop - start) // batch_size)))


def _dataset_stream(data, expected, model_name, batch_size, with_ids):
    pick = _images_of(data.element_spec)
    dataset = data if pick is None else data.map(pick)
    spec = dataset.element_spec
    rank = spec.shape.rank
    if rank not in (3, 4):
        raise ValueError(
            f"dataset images must be (H, W, C) or batches (B, H, W, C); got element shape {spec.shape} "
            f"and dtype {spec.dtype.name}" + (" (set shapes with tf.ensure_shape in a map)" if rank is None else "")
        )
    check_image_dtype(spec.dtype.as_numpy_dtype, "dataset images", tuple(spec.shape))
    check_image_shape(tuple(spec.shape[-3:]), expected, model_name, "dataset images")
    if any(g is None and w is not None for g, w in zip(spec.shape[-3:], expected)):
        # Shapes only known at run time: check each element against the
        # model's input (a mismatch raises InvalidArgumentError, which
        # `run_checked` turns into a ValueError).
        dataset = dataset.map(lambda x: tf.ensure_shape(x, [None] * (rank - 3) + list(expected)))
    cardinality = int(data.cardinality())
    if cardinality == 0:
        raise ValueError("inputs is an empty dataset (0 elements); give at least one image")
    known = cardinality if cardinality > 0 else None
    elements = dataset

    def shard(count, index, shard_batch):
        if rank == 3:
            ids = elements.enumerate().shard(count, index).batch(shard_batch)
            return ids.map(lambda i, images: (images, i)).prefetch(2)
        return _attach_ids(elements).shard(count, index).prefetch(2)

    if rank == 3:
        num_images, num_batches = known, None if known is None else -(-known // batch_size)
        dataset = dataset.batch(batch_size)
    else:
        num_images, num_batches = None, known
    if with_ids:
        dataset = _attach_ids(dataset)
    return ImageStream(dataset.prefetch(2), num_images, num_batches, shard)


def _images_of(spec):
    if isinstance(spec, tf.TensorSpec):
        return None  # the elements are the images
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], tf.TensorSpec):
        return lambda *x: x[0]
    if isinstance(spec, dict) and isinstance(spec.get("image"), tf.TensorSpec):
        return lambda x: x["image"]
    raise TypeError(
        "a dataset must yield images, (images, labels) tuples or {'image': ...} dicts; "
        f"got elements {spec}"
    )


def _attach_ids(dataset, first=0):
    def step(offset, images):
        count = tf.cast(tf.shape(images)[0], tf.int64)
        return offset + count, (images, offset + tf.range(count, dtype=tf.int64))

    return dataset.scan(tf.constant(first, tf.int64), step)


def distribute_stream(strategy, stream, batch_size):
    """The stream as a distributed dataset: each input pipeline its shard.

    Args:
        strategy: a `tf.distribute.Strategy`.
        stream: an `ImageStream` (from `image_stream`).
        batch_size: the global batch (each replica gets
            ``ceil(batch_size / replicas)`` images per step).

    Returns:
        ``(distributed dataset of (images, image_ids), steps or None)``:
        the steps of the longest shard when the size is known.
    """
    replicas = strategy.num_replicas_in_sync
    per_replica = -(-batch_size // replicas)

    def shard(context):
        return stream.shard(context.num_input_pipelines, context.input_pipeline_id, per_replica)

    dataset = strategy.distribute_datasets_from_function(shard)
    steps = None
    if stream.num_images is not None or stream.num_batches is not None:
        local = len(strategy.extended.worker_devices)
        pipelines = max(1, replicas // local)
        if stream.num_images is not None:
            batches = -(-(-(-stream.num_images // pipelines)) // per_replica)
        else:
            batches = -(-stream.num_batches // pipelines)
        steps = -(-batches // local)
    return dataset, steps


def run_checked(iterator_fn, expected):
    """Runs ``iterator_fn()`` turning an image-shape mismatch found by
    TensorFlow at run time (shapes unknown before) into a one-line
    ValueError; other errors pass through."""
    try:
        return iterator_fn()
    except tf.errors.InvalidArgumentError as e:
        message = str(getattr(e, "message", "") or e)
        if "not compatible with expected shape" not in message:
            raise
        first = next((line for line in message.splitlines() if "expected shape" in line), message)
        first = re.sub(r"\{\{.*?\}\}\s*", "", first)  # TensorFlow's function-node prefix
        raise ValueError(
            f"an image batch from inputs does not fit the model input {tuple(expected)}: "
            f"{first.strip()}; resize or convert the images"
        ) from None

