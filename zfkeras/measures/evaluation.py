"""The paper's evaluation: predictions averaged over ten crops, top-k error.

Zeiler & Fergus (Sec. 3, following Krizhevsky et al.) report top-1 and
top-5 error of the class probabilities averaged over the ten 224x224 crops
(4 corners and the centre, each also flipped) of each 256x256 image.
"""

import numpy as np
import tensorflow as tf

from zfkeras.utils.compat import renamed_arguments
from zfkeras.data.transforms import NUM_CROPS
from zfkeras.data.transforms import ten_crops
from zfkeras.graph.output import output_policy
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images, model_input_shape
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import positive_int


def _batches(inputs, batch_size):
    """``inputs`` as an iterable of batches, and their number (or None).

    Arrays are cut into ``batch_size`` images; a `tf.data.Dataset` of single
    images (rank 3) is batched; batched datasets and lists of batches are
    used as they come.
    """
    if isinstance(inputs, np.ndarray) or tf.is_tensor(inputs):
        array = np.asarray(inputs)
        if array.ndim != 4:
            return [array], 1  # the image check names the shape
        starts = range(0, len(array), batch_size)
        return (array[i:i + batch_size] for i in starts), len(starts)
    if isinstance(inputs, tf.data.Dataset):
        spec = inputs.element_spec
        spec = spec[0] if isinstance(spec, (tuple, list)) else spec
        spec = spec.get("image") if isinstance(spec, dict) else spec
        if isinstance(spec, tf.TensorSpec) and spec.shape.rank == 3:
            inputs = inputs.batch(batch_size)
    try:
        return inputs, len(inputs)
    except TypeError:  # a tf.data.Dataset of unknown length
        return inputs, None


def _images_and_labels(element, channels, model_name):
    """Splits a batch into (checked float32 images, labels or None)."""
    labels = None
    if isinstance(element, (tuple, list)):
        images = element[0]
        labels = element[1] if len(element) > 1 else None
    else:
        images = element
    if isinstance(images, dict):
        images = images["image"]
    images = np.asarray(images)
    if images.ndim == 3:  # one image of a list
        images = images[np.newaxis]
        labels = None if labels is None else np.reshape(labels, (1,))
    # Full-size images, larger than the crops the model takes: only their
    # channels are compared with the model's.
    images = check_images(images, (None, None, channels), model_name)
    return tf.convert_to_tensor(images), labels


def _ten_crop_average(model, images, crop_size, from_logits):
    crops = ten_crops(images, crop_size)
    total = 0.0
    # One crop position per call keeps the batch, and so the memory, at the
    # dataset's batch size.
    for k in range(NUM_CROPS):
        predictions = np.asarray(model.predict_on_batch(crops[:, k]))
        if predictions.ndim != 2:
            raise ValueError(
                f"ten-crop evaluation expects (B, K) model outputs, got shape {predictions.shape}; "
                "the model must end in a class layer"
            )
        predictions = output_policy(model, from_logits).probabilities(predictions)  # the one output policy
        total = total + predictions.astype(np.float64)
    return (total / NUM_CROPS).astype(np.float32)


def _predict(model, inputs, crop_size, from_logits, batch_size, verbose, need_labels):
    crop_size = positive_int(crop_size, "crop_size")
    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    channels = model_input_shape(model)[2]
    batches, num_batches = _batches(inputs, batch_size)
    progress = progress_bar(num_batches, verbose, "batch")
    outputs, labels = [], []
    for element in batches:
        images, batch_labels = _images_and_labels(element, channels, model.name)
        if need_labels and batch_labels is None:
            raise ValueError("ten_crop_metrics needs a dataset of (images, labels) batches")
        outputs.append(_ten_crop_average(model, images, crop_size, from_logits))
        if need_labels:
            labels.append(np.asarray(batch_labels).reshape(-1))
        if progress is not None:
            progress.add(1)
    if not outputs:
        raise ValueError("ten-crop evaluation: the dataset is empty (no batch); give at least one image")
    return np.concatenate(outputs), (np.concatenate(labels) if need_labels else None)


@renamed_arguments(dataset="inputs")
def predict_ten_crop(model, inputs, crop_size=224, from_logits=None, batch_size=DEFAULT_BATCH_SIZE,
                     verbose="auto"):
    """Averages a model's class probabilities over the 10 crops of each image.

    Args:
        model: Keras model mapping ``(B, crop_size, crop_size, C)`` to
            ``(B, K)`` softmax probabilities (or logits, see ``from_logits``).
        inputs: full-size images ``(N, H, W, C)``: an array, or a
            `tf.data.Dataset` (or list) of batches or of single images (e.g.
            `zfkeras.data.image_folder_dataset(..., mode="full")`),
            optionally as ``(images, labels)`` pairs (labels are ignored).
        crop_size: side of the crops.
        from_logits: None (detect: logits unless the model ends in a
            softmax), True (apply softmax before averaging) or False
            (`zfkeras.graph.output`).
        batch_size: images per batch for arrays and datasets of single
            images (batched datasets are used as they come).
        verbose: 0, 1 (a progress bar over the batches) or "auto": a bar
            over more than 20 batches of known number.

    Returns:
        float32 numpy array ``(N, K)``: mean probabilities, in dataset order.

    Raises:
        ValueError: images or model outputs of the wrong rank, crops larger
            than the images, or empty inputs.
    """
    return _predict(model, inputs, crop_size, from_logits, batch_size, verbose, need_labels=False)[0]


def top_k_accuracy(probabilities, labels, k):
    """The fraction of examples whose label is among the k top classes.

    As in `tf.math.in_top_k`, classes tied with the k-th highest score
    count as within the top k; with ``k`` at least the number of classes
    every example counts.

    Args:
        probabilities: ``(N, K)`` class scores.
        labels: ``(N,)`` integer labels in ``[0, K)``.
        k: number of top classes, e.g. 1 or 5.

    Returns:
        float in ``[0, 1]``.

    Raises:
        TypeError, ValueError: bad ``k``, shapes or label values.
    """
    k = positive_int(k, "k")
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError(
            f"probabilities must be a non-empty (N, K) array, got shape {probabilities.shape}"
        )
    if labels.shape != (len(probabilities),):
        raise ValueError(
            f"labels must have shape ({len(probabilities)},) to match probabilities "
            f"{probabilities.shape}, got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    num_classes = probabilities.shape[1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must be in [0, {num_classes}), got values from {labels.min()} to {labels.max()}"
        )
    label_scores = probabilities[np.arange(len(labels)), labels]
    # Rank of the label = the number of classes scoring strictly higher.
    ranks = (probabilities > label_scores[:, None]).sum(axis=1)
    return float(np.mean(ranks < k))


@renamed_arguments(dataset="inputs")
def ten_crop_metrics(model, inputs, crop_size, batch_size=DEFAULT_BATCH_SIZE, verbose="auto"):
    """The paper's evaluation: top-1 and top-5 accuracy over 10-crop averages.

    Args:
        model: Keras model giving ``(B, K)`` class probabilities.
        inputs: a `tf.data.Dataset` of ``(images, labels)`` of full-size
            images (e.g. `zfkeras.data.image_folder_dataset(..., mode="full")`).
        crop_size: side of the crops the model takes.
        batch_size, verbose: as for `predict_ten_crop`.

    Returns:
        dict with ``ten_crop_accuracy`` (top-1) and ``ten_crop_top5``.
    """
    probabilities, labels = _predict(model, inputs, crop_size, None, batch_size, verbose, need_labels=True)
    return {
        "ten_crop_accuracy": top_k_accuracy(probabilities, labels, 1),
        "ten_crop_top5": top_k_accuracy(probabilities, labels, 5),
    }
