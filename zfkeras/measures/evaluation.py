"""The paper's evaluation: predictions averaged over ten crops, top-k error.

Zeiler & Fergus (Sec. 3, following Krizhevsky et al.) report top-1 and
top-5 error of the class probabilities averaged over the ten 224x224 crops
(4 corners and the centre, each also flipped) of each 256x256 image.
"""

import numpy as np

from zfkeras.data.transforms import NUM_CROPS
from zfkeras.data.transforms import ten_crops
from zfkeras.graph.output import output_policy
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images, labelled_batches, model_input_shape
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import positive_int, quote


def _local_predictor(model):
    """Model outputs for one batch on the current device (numpy)."""
    import tensorflow as tf

    # A plain call, not `predict_on_batch`: under a model's multi-replica
    # strategy that one runs the whole batch on every replica and returns
    # the outputs once per replica.
    call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    return lambda images: np.asarray(call(images))


def _distributed_predictor(model, strategy):
    """Model outputs for one batch split over the replicas of `strategy`
    (every worker of a multi-worker strategy gives the same batch and gets
    all of its outputs back)."""
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync

    @tf.function(reduce_retracing=True)
    def step(batch):
        outputs = strategy.run(lambda x: model(x, training=False), args=(batch,))
        return strategy.gather(outputs, axis=0)  # replica order: the batch's

    def predict(images):
        count = int(images.shape[0])
        share = -(-count // replicas)
        # Zero images fill the last replicas' shares; their outputs are cut.
        padding = tf.zeros([share * replicas - count, *images.shape[1:]], images.dtype)
        padded = tf.concat([images, padding], axis=0)
        batch = strategy.experimental_distribute_values_from_function(
            lambda context: padded[context.replica_id_in_sync_group * share:
                                   (context.replica_id_in_sync_group + 1) * share])
        return np.asarray(step(batch))[:count]

    return predict


def _predictor(model, strategy):
    import tensorflow as tf

    if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
        raise InputTypeError(f"strategy must be a tf.distribute.Strategy or None, got {quote(strategy)} "
                             f"of type {type(strategy).__name__}")
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return _local_predictor(model)
    return _distributed_predictor(model, strategy)


def _ten_crop_average(predict, images, crop_size, policy):
    import tensorflow as tf

    crops = ten_crops(tf.convert_to_tensor(images), crop_size)
    total = 0.0
    # One crop position per call keeps the batch, and so the memory, at the
    # dataset's batch size.
    for k in range(NUM_CROPS):
        predictions = predict(crops[:, k])
        if predictions.ndim != 2:
            raise InputError(
                f"ten-crop evaluation expects (B, K) model outputs, got shape {predictions.shape}; "
                "the model must end in a class layer"
            )
        total = total + policy.probabilities(predictions).astype(np.float64)
    return (total / NUM_CROPS).astype(np.float32)


def _predict(model, inputs, crop_size, from_logits, batch_size, strategy, verbose, need_labels):
    crop_size = positive_int(crop_size, "crop_size")
    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    channels = model_input_shape(model)[2]
    policy = output_policy(model, from_logits)
    predict = _predictor(model, strategy)
    batches, num_batches = labelled_batches(inputs, batch_size)
    progress = progress_bar(num_batches, verbose, "batch")
    outputs, labels = [], []
    for images, batch_labels in batches:
        if need_labels and batch_labels is None:
            raise InputError("ten_crop_metrics needs a dataset of (images, labels) batches; got "
                             f"images without labels (a batch of shape {np.shape(images)})")
        # Full-size images, larger than the crops the model takes: only their
        # channels are compared with the model's.
        images = check_images(images, (None, None, channels), model.name)
        outputs.append(_ten_crop_average(predict, images, crop_size, policy))
        if need_labels:
            labels.append(np.asarray(batch_labels).reshape(-1))
        if progress is not None:
            progress.add(1)
    if not outputs:
        raise InputError("ten-crop evaluation: the dataset is empty (no batch); give at least one image")
    return np.concatenate(outputs), (np.concatenate(labels) if need_labels else None)


def predict_ten_crop(model, inputs, crop_size=224, from_logits=None, batch_size=DEFAULT_BATCH_SIZE,
                     strategy=None, verbose="auto"):
    """Averages a model's class probabilities over the 10 crops of each image.

    Args:
        model: Keras model mapping ``(B, crop_size, crop_size, C)`` to
            ``(B, K)`` class probabilities or logits (see ``from_logits``).
        inputs: full-size images ``(N, H, W, C)``: an array, or a
            `tf.data.Dataset` (or list) of batches or of single images (e.g.
            `zfkeras.data.image_folder_dataset(..., mode="full")`),
            optionally as ``(images, labels)`` pairs (labels are ignored);
            see `zfkeras.utils.inputs.labelled_batches`.
        crop_size: side of the crops.
        from_logits: None (detect: logits unless the model's last layer
            applies a softmax; `zfkeras.graph.output`), True (softmax the
            outputs before averaging) or False (they are probabilities).
        batch_size: images per batch for arrays and datasets of single
            images (batched datasets are used as they come).
        verbose: 0, 1 (a progress bar over the batches) or "auto": a bar
            over more than 20 batches of known number.
        strategy: a `tf.distribute.Strategy` whose replicas share each
            batch's crops (e.g. the `MirroredStrategy` the model was built
            under; with `MultiWorkerMirroredStrategy` every worker calls
            with the same inputs and gets every prediction), or None: the
            current device (also for a model built under a strategy).

    Returns:
        float32 numpy array ``(N, K)``: mean probabilities, in dataset order.

    Raises:
        InputError: images or model outputs of the wrong rank, crops larger
            than the images, or empty inputs.
    """
    return _predict(model, inputs, crop_size, from_logits, batch_size, strategy, verbose, need_labels=False)[0]


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
        InputTypeError, InputError: bad ``k``, shapes or label values.
    """
    k = positive_int(k, "k")
    probabilities = np.asarray(probabilities)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise InputError(
            f"probabilities must be a non-empty (N, K) array, got shape {probabilities.shape}"
        )
    if labels.shape != (len(probabilities),):
        raise InputError(
            f"labels must have shape ({len(probabilities)},) to match probabilities "
            f"{probabilities.shape}, got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputTypeError(f"labels must be integers, got dtype {labels.dtype}")
    num_classes = probabilities.shape[1]
    if labels.min() < 0 or labels.max() >= num_classes:
        raise InputError(
            f"labels must be in [0, {num_classes}), got values from {labels.min()} to {labels.max()}"
        )
    label_scores = probabilities[np.arange(len(labels)), labels]
    # Rank of the label = the number of classes scoring strictly higher.
    ranks = (probabilities > label_scores[:, None]).sum(axis=1)
    return float(np.mean(ranks < k))


def ten_crop_metrics(model, inputs, crop_size, from_logits=None, batch_size=DEFAULT_BATCH_SIZE, strategy=None,
                     verbose="auto"):
    """The paper's evaluation: top-1 and top-5 accuracy over 10-crop averages.

    Args:
        model: Keras model giving ``(B, K)`` class probabilities or logits.
        inputs: a `tf.data.Dataset` (or list) of ``(images, labels)`` of
            full-size images (e.g. `zfkeras.data.image_folder_dataset(...,
            mode="full")`).
        crop_size: side of the crops the model takes.
        from_logits, batch_size, strategy, verbose: as for
            `predict_ten_crop`.

    Returns:
        dict with ``ten_crop_accuracy`` (top-1) and ``ten_crop_top5``.
    """
    probabilities, labels = _predict(model, inputs, crop_size, from_logits, batch_size, strategy, verbose,
                                     need_labels=True)
    return {
        "ten_crop_accuracy": top_k_accuracy(probabilities, labels, 1),
        "ten_crop_top5": top_k_accuracy(probabilities, labels, 5),
    }
