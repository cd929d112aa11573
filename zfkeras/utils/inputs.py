"""The one check of image batches against a model's input.

Every entry point that takes images (`top_activations`, `features`,
`occlusion`, `invariance`, `correspondence`, `predict_ten_crop`,
`Deconvnet.project`, the `FeatureEvolution` callback) checks them here, so
that the same mistake gets the same message everywhere, and each message
quotes what was received (the shape, the dtype).

What is checked, in this order:

* a numeric array: real numbers, floating or integer (uint8 images, as
  TFDS gives them, are cast to float); bool, complex, strings and objects
  are refused;
* rank 4, ``(N, H, W, C)`` (a single image gets the ``images[None]`` hint);
* ``N >= min_images`` (1 unless a method needs more);
* height, width and channels equal to the model's input where both are
  known;
* every value finite (scanned in chunks, so the check itself never holds
  a second copy of a large array).

Also `DEFAULT_BATCH_SIZE`, the one default of every entry point.
"""

import numpy as np

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


def model_input_shape(model):
    """``(H, W, C)`` of a single-input image model (entries may be None).

    Raises:
        TypeError: not a `keras.Model`; ValueError: no defined input,
        several inputs, or inputs that are not images.
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has no defined input; build it with keras.Input(...) "
            "or call it once on a batch of images"
        )
    if len(inputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(inputs)} inputs; only single-input image models are supported")
    shape = tuple(inputs[0].shape[1:])
    if len(shape) != 3:
        raise ValueError(
            f"model {model.name!r} takes inputs of shape {tuple(inputs[0].shape)}; "
            "expected images (batch, height, width, channels)"
        )
    return shape


def check_image_dtype(dtype, name="inputs", shape=None):
    """Raises TypeError unless ``dtype`` is real numbers (float or integer)."""
    dtype = np.dtype(dtype)
    if dtype == bool or not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
        received = f"dtype {dtype}" + ("" if shape is None else f" (shape {tuple(shape)})")
        raise TypeError(
            f"{name} must be images of real numbers (float, or integers such as uint8), got {received}"
        )


def check_image_shape(got, expected, model_name=None, name="inputs"):
    """Raises ValueError when ``(H, W, C)`` ``got`` differs from the model's.

    Entries that are None on either side (unknown sizes) are not compared.
    """
    got, expected = tuple(got), tuple(expected)
    for axis, (g, w) in enumerate(zip(got, expected)):
        if g is not None and w is not None and int(g) != int(w):
            model = "model" if model_name is None else f"model {model_name!r}"
            raise ValueError(
                f"{name} have {_AXES[axis]} {g} but the model expects {w} (got images shaped "
                f"{got}; {model} takes {expected}); resize them or convert their channels to {expected}"
            )


def check_images(inputs, expected=None, model_name=None, name="inputs", min_images=1,
                 dtype="float32", finite=True):
    """``inputs`` as a checked numpy image batch ``(N, H, W, C)``.

    Args:
        inputs: an image array (numpy, `tf.Tensor`, or anything `np.asarray`
            takes).
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
        TypeError: not an array of real numbers; ValueError: wrong rank,
        too few images, a shape the model does not take, NaN or inf.
    """
    if hasattr(inputs, "numpy") and not isinstance(inputs, np.ndarray):
        inputs = inputs.numpy()  # a tf.Tensor or an eager Keras tensor
    try:
        array = np.asarray(inputs)
    except Exception as error:  # ragged lists and such
        raise TypeError(
            f"{name} must be an image array (N, H, W, C) or a tf.data.Dataset; could not read "
            f"the {type(inputs).__name__} given as an array: {error}"
        ) from None
    check_image_dtype(array.dtype, name, array.shape)
    if array.ndim != 4:
        hint = "; one image? add a batch axis: images[None]" if array.ndim == 3 else ""
        raise ValueError(
            f"{name} must be 4-D, a batch of images shaped (N, H, W, C); got shape {array.shape} "
            f"and dtype {array.dtype}{hint}"
        )
    if len(array) < min_images:
        what = "is empty" if len(array) == 0 else f"has {len(array)} image(s)"
        raise ValueError(
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
            raise ValueError(
                f"{name} contain NaN or infinite values (first in image {first} of the batch of shape "
                f"{array.shape}, dtype {array.dtype}); clean or drop those images"
            )


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
