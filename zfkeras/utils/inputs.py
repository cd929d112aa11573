"""The one input adapter: images as arrays or `tf.data.Dataset`s, checked once.

Every entry point that takes images (`explain`, `Deconvnet.project`,
`grad_cam`, `occlusion`, `top_activations`, `features`, `invariance`,
`correspondence`, `faithfulness`, `predict_ten_crop`, the
`FeatureEvolution` callback) reads them here, so that the same inputs are
accepted everywhere, and the same mistake gets the same message, quoting
what was received (the shape, the dtype). Keras' ``data_adapters`` is the
model: one module turns what the user gives into what the methods use.

Accepted ``inputs``:

* an image array ``(N, H, W, C)`` (numpy, a `tf.Tensor`, or anything
  `np.asarray` takes);
* a `tf.data.Dataset` whose elements are images, ``(images, labels, ...)``
  tuples (the first item is used) or dicts with an ``"image"`` key (TFDS).
  Elements of rank 3 ``(H, W, C)`` are single images; elements of rank 4
  ``(B, H, W, C)`` are batches, used as they come.

Two ways to read them:

* `check_images`: the checked numpy batch of all the images (a dataset is
  read to the end: methods computing a map per image keep them all
  anyway). What is checked, in this order: real numbers, floating or
  integer (uint8 images, as TFDS gives them, are cast to float; bool,
  complex, strings and objects are refused); rank 4 (a single image gets
  the ``images[None]`` hint); ``N >= min_images``; height, width and
  channels equal to the model's input where both are known; every value
  finite (scanned in chunks, so the check never holds a second copy of a
  large array).
* `image_stream`: batches one at a time, for the methods that keep only
  per-batch results (`top_activations`, `features`), with
  `distribute_stream` under a `tf.distribute` strategy: every input
  pipeline (one per worker) reads only its shard, with the image ids of
  the whole input: an array's contiguous slice ``[i*N//n, (i+1)*N//n)``
  (only that slice is ever read), an unbatched dataset's elements ``i,
  i+n, ...`` and a batched dataset's batches ``i, i+n, ...``
  (`tf.data.Dataset.shard`: the model runs only on the shard, but the
  elements before the shard are still produced by the dataset's own steps;
  shard the files of a costly pipeline yourself, or give arrays).
  `labelled_batches` is the same for the ten-crop evaluation, with labels.

Also the one model check (`check_model`, used by the graph walk too) and
`DEFAULT_BATCH_SIZE`, the one default of every entry point. Importing this
module does not import TensorFlow.
"""

import re
import sys
from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote

# One default for every entry point: 64. It bounds the memory of the
# heaviest per-batch work, the deconvnet, which keeps every layer's
# activations and switches of a batch for the way down (occlusion likewise
# runs a batch of occluded copies through every layer): ZFNet's feature maps
# at 224 px are 2.5 M floats, ~10 MB per image, so a batch of 64 holds
# ~0.64 GB of them, which fits a laptop or a small GPU beside the weights.
# Mining and features keep only per-map results; for them a larger batch
# only amortises per-call overhead, which is already small at 64.
DEFAULT_BATCH_SIZE = 64

_AXES = ("height", "width", "channel count")

# Images scanned at a time for NaN/inf (bounds the temporary boolean array).
_FINITE_CHUNK = 256


def check_model(model, single_output=False):
    """The one model check: a built, single-input `keras.Model`.

    Args:
        model: what the user gave as the model.
        single_output: also require a single output (the graph walk).

    Returns:
        ``model``.

    Raises:
        InputTypeError: not a `keras.Model`; InputError: not built (no
        defined input), several inputs (or outputs).
    """
    import keras

    if not isinstance(model, keras.Model):
        raise InputTypeError(f"zfkeras needs a keras.Model, got {quote(model)} of type {type(model).__name__}")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise InputError(
            f"model {model.name!r} is not built, it has no defined input: build it on keras.Input(...) "
            "(or give it input_shape=), or call it once on a batch of images"
        )
    if len(inputs) != 1 or (single_output and len(outputs) != 1):
        what = "single-input, single-output" if single_output else "single-input"
        raise InputError(
            f"zfkeras needs a {what} model; model {model.name!r} has {len(inputs)} inputs "
            f"and {len(outputs)} outputs"
        )
    return model


def model_input_shape(model):
    """``(H, W, C)`` of a single-input image model (entries may be None).

    Raises:
        InputTypeError: not a `keras.Model`; InputError: no defined input,
        several inputs, or inputs that are not images.
    """
    inputs = check_model(model).inputs
    shape = tuple(inputs[0].shape[1:])
    if len(shape) != 3:
        raise InputError(
            f"model {model.name!r} takes inputs of shape {tuple(inputs[0].shape)}; "
            "expected images (batch, height, width, channels)"
        )
    return shape


def is_dataset(value):
    """Whether ``value`` is a `tf.data.Dataset` (without importing TensorFlow:
    if it is not imported yet, nothing can be a dataset)."""
    tf = sys.modules.get("tensorflow")
    data = getattr(tf, "data", None)
    return data is not None and isinstance(value, data.Dataset)


def check_image_dtype(dtype, name="inputs", shape=None):
    """Raises InputTypeError unless ``dtype`` is real numbers (float or integer)."""
    dtype = np.dtype(dtype)
    if dtype == bool or not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        received = f"dtype {dtype}" + ("" if shape is None else f" (shape {tuple(shape)})")
        raise InputTypeError(
            f"{name} must be images of real numbers (float, or integers such as uint8), got {received}"
        )


def check_image_shape(got, expected, model_name=None, name="inputs"):
    """Raises InputError when ``(H, W, C)`` ``got`` differs from the model's.

    Entries that are None on either side (unknown sizes) are not compared.
    """
    got, expected = tuple(got), tuple(expected)
    for axis, (g, w) in enumerate(zip(got, expected)):
        if g is not None and w is not None and int(g) != int(w):
            model = "model" if model_name is None else f"model {model_name!r}"
            raise InputError(
                f"{name} have {_AXES[axis]} {g} but the model expects {w} (got images shaped "
                f"{got}; {model} takes {expected}); resize them or convert their channels to {expected}"
            )


def check_images(inputs, expected=None, model_name=None, name="inputs", min_images=1,
                 dtype="float32", finite=True):
    """``inputs`` as a checked numpy image batch ``(N, H, W, C)``.

    Args:
        inputs: an image array (numpy, `tf.Tensor`, or anything `np.asarray`
            takes), or a `tf.data.Dataset` (see the module docstring), read
            to the end.
        expected: the model's ``(H, W, C)`` (entries may be None), or None
            to check only rank, count, dtype and values.
        model_name: named in the shape message.
        name: the argument's name, for the messages.
        min_images: the smallest N accepted.
        dtype: the dtype returned (no copy when it already is), or None to
            keep the array's own (streaming casts batch by batch).
        finite: refuse NaN and infinite values.

    Returns:
        The numpy array.

    Raises:
        InputTypeError: not an array of real numbers (or a dataset of
        them); InputError: wrong rank, too few images, a shape the model
        does not take, NaN or inf, an infinite dataset.
    """
    if is_dataset(inputs):
        inputs = dataset_images(inputs, expected, model_name, name)
    elif hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):
        inputs = inputs.numpy()  # a tf.Tensor or an eager Keras tensor
    try:
        array = np.asarray(inputs)
    except Exception as error:  # ragged lists and such
        raise InputTypeError(
            f"{name} must be an image array (N, H, W, C) or a tf.data.Dataset; could not read "
            f"the {type(inputs).__name__} given as an array: {error}"
        ) from None
    check_image_dtype(array.dtype, name, array.shape)
    if array.ndim != 4:
        hint = "; one image? add a batch axis: images[None]" if array.ndim == 3 else ""
        raise InputError(
            f"{name} must be 4-D, a batch of images shaped (N, H, W, C); got shape {array.shape} "
            f"and dtype {array.dtype}{hint}"
        )
    if len(array) < min_images:
        what = "is empty" if len(array) == 0 else f"has {len(array)} image(s)"
        raise InputError(
            f"{name} {what} (shape {array.shape}); give at least {min_images} image(s): N >= {min_images}"
        )
    if expected is not None:
        check_image_shape(array.shape[1:], expected, model_name, name)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if finite and np.issubdtype(array.dtype, np.floating):
        _check_finite(array, name)
    return array


def _check_finite(array, name):
    for start in range(0, len(array), _FINITE_CHUNK):
        bad = ~np.isfinite(array[start:start + _FINITE_CHUNK])
        if bad.any():
            first = start + int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
            raise InputError(
                f"{name} contain NaN or infinite values (first in image {first} of the batch of shape "
                f"{array.shape}, dtype {array.dtype}); clean or drop those images"
            )


def dataset_images(dataset, expected=None, model_name=None, name="inputs"):
    """All the images of a `tf.data.Dataset`, as one numpy array (unchecked
    values: `check_images` checks them).

    Raises:
        InputError: an infinite or empty dataset, images the model does not
        take, images of different sizes; InputTypeError: elements that are
        not images.
    """
    import tensorflow as tf

    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise InputError(f"{name} is an infinite dataset (a repeat() without a count?); "
                         "give a finite one, e.g. dataset.take(n)")
    expected = (None, None, None) if expected is None else tuple(expected)
    stream = _dataset_stream(dataset, expected, model_name, DEFAULT_BATCH_SIZE, False, name)
    batches = run_checked(lambda: [np.asarray(b) for b in stream.dataset.as_numpy_iterator()], expected)
    if not batches:
        raise InputError(f"{name} is an empty dataset (no element); give at least one image")
    sizes = {b.shape[1:] for b in batches}
    if len(sizes) > 1:
        raise InputError(f"{name}: the dataset's images have different sizes {sorted(sizes)}; "
                         "resize them to one size (e.g. a map with tf.image.resize)")
    return np.concatenate(batches, axis=0)


def stored_images(model, inputs, preprocess=None, min_images=1):
    """Images as stored, for methods that edit them before ``preprocess``.

    `invariance` and `correspondence` transform or mask the images first and
    preprocess them afterwards, so the images may be of another size than
    the model's input: with a ``preprocess`` they are checked without the
    model's shape, and every preprocessed batch is checked against it.

    Returns:
        ``(images, to_model)``: the checked float32 images, and a function
        mapping a batch of them to checked model inputs.
    """
    expected = model_input_shape(model)
    images = check_images(inputs, expected if preprocess is None else None, model.name, min_images=min_images)

    def to_model(batch):
        x = batch if preprocess is None else preprocess(batch)
        check_image_shape(np.shape(x)[1:], expected, model.name, "preprocess(inputs)")
        return x

    return images, to_model


class ImageStream(NamedTuple):
    """A dataset of image batches and what is known of its size.

    Attributes:
        dataset: a `tf.data.Dataset` yielding ``images`` batches, or
            ``(images, image_ids)`` when asked for ids (int64 indices in the
            order ``inputs`` yields).
        num_images: the number of images, or None when unknown in advance.
        num_batches: the number of batches, or None when unknown.
        shard: ``shard(count, index, batch_size)``: the dataset of one of
            ``count`` input pipelines, ``(images, image_ids)`` batches of
            at most ``batch_size`` (arrays and unbatched datasets) with the
            ids of the whole input (see the module docstring).
    """

    dataset: Any
    num_images: Optional[int]
    num_batches: Optional[int]
    shard: Optional[Callable] = None


def image_stream(model, inputs, batch_size=DEFAULT_BATCH_SIZE, with_ids=False):
    """Turns ``inputs`` into an `ImageStream` checked against ``model``'s input.

    Args:
        model: single-input image model.
        inputs: an image array or a `tf.data.Dataset` (module docstring).
        batch_size: images per batch for arrays and unbatched datasets.
        with_ids: also yield each image's int64 index in input order.

    Returns:
        An `ImageStream`.

    Raises:
        InputError: wrong image shape, empty inputs, NaN or inf in an
        array; InputTypeError: unsupported ``inputs``.
    """
    from zfkeras.utils.validation import positive_int

    batch_size = positive_int(batch_size, "batch_size")
    expected = model_input_shape(model)
    if is_dataset(inputs):
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
    import tensorflow as tf

    def batches():
        for first in range(start, stop, batch_size):
            # Slices are views: the array is never copied as a whole.
            yield images[first : min(first + batch_size, stop)]

    spec = tf.TensorSpec((None, *images.shape[1:]), tf.as_dtype(images.dtype))
    dataset = tf.data.Dataset.from_generator(batches, output_signature=spec)
    return dataset.apply(tf.data.experimental.assert_cardinality(-(-(stop - start) // batch_size)))


def _dataset_stream(data, expected, model_name, batch_size, with_ids, name="inputs"):
    pick, _ = _element_parts(data.element_spec, name)
    dataset = data.map(pick)
    spec = dataset.element_spec
    rank = spec.shape.rank
    if rank not in (3, 4):
        raise InputError(
            f"{name}: dataset images must be (H, W, C) or batches (B, H, W, C); got element shape {spec.shape} "
            f"and dtype {spec.dtype.name}" + (" (set shapes with tf.ensure_shape in a map)" if rank is None else "")
        )
    check_image_dtype(spec.dtype.as_numpy_dtype, f"{name} (dataset images)", tuple(spec.shape))
    check_image_shape(tuple(spec.shape[-3:]), expected, model_name, f"{name} (dataset images)")
    if any(g is None and w is not None for g, w in zip(spec.shape[-3:], expected)):
        import tensorflow as tf

        # Shapes only known at run time: check each element against the
        # model's input (a mismatch raises InvalidArgumentError, which
        # `run_checked` turns into an InputError).
        dataset = dataset.map(lambda x: tf.ensure_shape(x, [None] * (rank - 3) + list(expected)))
    cardinality = int(data.cardinality())
    if cardinality == 0:
        raise InputError(f"{name} is an empty dataset (0 elements); give at least one image")
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


def _whole(x):
    return x


def _first(*x):
    return x[0]


def _second(*x):
    return x[1]


def _image_item(x):
    return x["image"]


def _label_item(x):
    return x["label"]


def _element_parts(spec, name="inputs"):
    """``(images, labels)``: functions for `tf.data.Dataset.map` picking the
    images and the labels (None when the elements have none) of an element."""
    import tensorflow as tf

    # Named functions, not lambdas: AutoGraph cannot tell two lambdas of
    # one line apart and warns.
    if isinstance(spec, tf.TensorSpec):
        return _whole, None  # the elements are the images
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], tf.TensorSpec):
        return _first, (_second if len(spec) > 1 else None)
    if isinstance(spec, dict) and isinstance(spec.get("image"), tf.TensorSpec):
        return _image_item, (_label_item if "label" in spec else None)
    raise InputTypeError(
        f"{name}: a dataset must yield images, (images, labels) tuples or {{'image': ...}} dicts; "
        f"got elements {spec}"
    )


def _attach_ids(dataset, first=0):
    import tensorflow as tf

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
    InputError; other errors pass through."""
    import tensorflow as tf

    try:
        return iterator_fn()
    except tf.errors.InvalidArgumentError as e:
        message = str(getattr(e, "message", "") or e)
        if "not compatible with expected shape" not in message:
            raise
        first = next((line for line in message.splitlines() if "expected shape" in line), message)
        first = re.sub(r"\{\{.*?\}\}\s*", "", first)  # TensorFlow's function-node prefix
        raise InputError(
            f"an image batch from inputs does not fit the model input {tuple(expected)}: "
            f"{first.strip()}; resize or convert the images"
        ) from None


def labelled_batches(inputs, batch_size, name="inputs"):
    """``inputs`` as numpy ``(images, labels or None)`` batches, for the
    ten-crop evaluation (whose images are larger than the model's input).

    Arrays are cut into ``batch_size`` images; a `tf.data.Dataset` of single
    images is batched, a batched one used as it comes (elements as in the
    module docstring; labels are the second item of a tuple or a dict's
    ``"label"``); any other iterable (a list of batches or of single images,
    as tuples with labels or not) is read element by element. The images
    are not checked: give each batch to `check_images`.

    Returns:
        ``(batches, count)``: an iterable of ``(images, labels)`` and the
        number of batches, or None when unknown.
    """
    if is_dataset(inputs):
        pick, labels = _element_parts(inputs.element_spec, name)
        rank = inputs.map(pick).element_spec.shape.rank
        if rank not in (3, 4):
            raise InputError(f"{name}: dataset images must be (H, W, C) or batches (B, H, W, C); got "
                             f"elements {inputs.element_spec}")
        if labels is None:
            dataset = inputs.map(pick)
        else:
            def both(*x):
                return pick(*x), labels(*x)

            dataset = inputs.map(both)
        if rank == 3:
            dataset = dataset.batch(batch_size)
        count = int(dataset.cardinality())
        if count == -1:  # INFINITE_CARDINALITY
            raise InputError(f"{name} is an infinite dataset (a repeat() without a count?); "
                             "give a finite one, e.g. dataset.take(n)")
        pairs = (b if labels is not None else (b, None) for b in dataset.as_numpy_iterator())
        return pairs, (count if count >= 0 else None)
    if isinstance(inputs, np.ndarray) or hasattr(inputs, "numpy"):
        array = np.asarray(inputs)
        if array.ndim != 4:
            return [(array, None)], 1  # the image check names the shape
        starts = range(0, len(array), batch_size)
        return ((array[i:i + batch_size], None) for i in starts), len(starts)
    try:
        count = len(inputs)
    except TypeError:
        count = None
    return (_split_element(element) for element in inputs), count


def _split_element(element):
    """``(images, labels or None)`` of one element of a list of batches."""
    labels = None
    if isinstance(element, (tuple, list)):
        images, labels = element[0], (element[1] if len(element) > 1 else None)
    elif isinstance(element, dict):
        images, labels = element["image"], element.get("label")
    else:
        images = element
    images = np.asarray(images)
    if images.ndim == 3:  # one image of a list
        images = images[np.newaxis]
        labels = None if labels is None else np.reshape(labels, (1,))
    return images, labels
