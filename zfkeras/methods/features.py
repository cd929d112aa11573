"""Features of any layer of a Keras model, streamed batch by batch.

The inputs of linear probes (paper Table 6) and transfer classifiers. All
requested layers come from one multi-output sub-model, in one pass over the
data; only the (reduced) features are kept, plus one batch of activations.

Reduction of convolutional maps (``pool``, ``grid``): a map of shape
``(H, W, C)`` is cut into a ``grid`` of ``gh x gw`` cells and each cell is
reduced to one value per channel -- adaptive pooling with the bin rule of
PyTorch's ``AdaptiveMaxPool2d``: cell ``i`` spans rows
``floor(i*H/gh) .. ceil((i+1)*H/gh)`` (end-exclusive; cells overlap when
``H`` is not a multiple of ``gh``), likewise columns. The default is 2x2
max pooling: max matches what the paper looks at (a unit's strongest
response anywhere in a region), and a 2x2 grid keeps coarse layout (which
quadrant) while making every conv layer's feature count ``4*C`` (1,024 for
ZFNet's conv5 instead of 43,264 raw), small enough for an SVM per layer.
``pool="avg"`` averages instead; ``pool=None`` returns the raw maps
flattened. Features are ordered cell-major: ``(gy, gx, channel)``.
Outputs that are not 4-D (Dense, Flatten) are returned flattened as they are.

``inputs``: see `zfkeras.utils.inputs` (image arrays, or `tf.data.Dataset` of
images, ``(images, labels)`` or ``{"image": ...}``, batched or not).

``strategy``: under a `tf.distribute` strategy (also
`MultiWorkerMirroredStrategy` across processes) each worker reads only its
shard (`zfkeras.utils.inputs.distribute_stream`), and the rows of all
replicas are gathered on every worker (padded to equal size, one
collective all-gather) and put back in input order by image id: every
worker gets the rows one process returns.

The module is named apart from the function, so ``zfkeras.features`` is
always the function, whatever was imported before.
"""

import functools

import numpy as np
import tensorflow as tf

from zfkeras.graph.addressing import layer_output_model, qualified_layer, resolve_layers
from zfkeras.utils.inputs import (
    DEFAULT_BATCH_SIZE, distribute_stream, image_stream, model_input_shape, run_checked,
)
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import int_pair, one_of, quote

POOLS = (None, "max", "avg")


def features(model, inputs, layers, pool="max", grid=(2, 2), batch_size=DEFAULT_BATCH_SIZE, strategy=None,
             verbose="auto"):
    """The features of one layer (or several) for every image of ``inputs``.

    Args:
        model: a single-input `keras.Model` taking ``(N, H, W, C)`` images.
        inputs: an image array ``(N, H, W, C)`` or a `tf.data.Dataset` (see
            the module docstring).
        layers: a layer name (plain Keras name, as `model.get_layer` takes)
            or a list of names.
        pool: ``"max"`` (default), ``"avg"`` or None (raw maps, flattened)
            for 4-D outputs.
        grid: cells of the pooling grid, an int or ``(gh, gw)``; default 2x2.
        batch_size: images per forward pass, over all replicas under a
            strategy (ignored for batched datasets).
        strategy: a `tf.distribute.Strategy` (see the module docstring),
            or None for the current device.
        verbose: 0 (silent), 1 (a progress bar over batches) or "auto"
            (a bar over more than 20 batches of known number).

    Returns:
        float32 numpy ``(N, D)`` for one layer name, or a dict name ->
        ``(N, D)`` for a list; rows in the order ``inputs`` yields the images.

    Raises:
        ValueError: unknown layer (the message lists the valid ones), images
        of the wrong shape, empty inputs, bad ``pool``/``grid``.
    """
    pool = one_of(pool, "pool", POOLS)
    grid = int_pair(grid, "grid")
    check_verbose(verbose)
    if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
        raise InputTypeError(f"strategy must be a tf.distribute.Strategy or None, got {quote(strategy)} "
                             f"of type {type(strategy).__name__}")
    names, single = resolve_layers(model, layers, "features")
    stream = image_stream(model, inputs, batch_size)
    sub = layer_output_model(model, names)
    # A partial of a module-level function: TensorFlow keys its retracing
    # warning on the Python function, and each call traces its own graph.
    replica_step = functools.partial(_features_step, sub, pool, grid)
    if strategy is None:
        step = tf.function(replica_step, reduce_retracing=True)
        run = functools.partial(_collect, step, stream, len(names), verbose)
    else:
        step = tf.function(functools.partial(_distributed_step, strategy, replica_step), reduce_retracing=True)
        widths = [_width(model, name, pool, grid) for name in names]
        run = functools.partial(_collect_distributed, step, stream, strategy, batch_size, widths, verbose)
    collected = run_checked(run, model_input_shape(model))
    return collected[0] if single else dict(zip(names, collected))


def _features_step(sub, pool, grid, images):
    outputs = sub(tf.cast(images, sub.inputs[0].dtype), training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [reduce_output(o, pool, grid) for o in outputs]


def _distributed_step(strategy, replica_step, batch):
    images, ids = batch
    return strategy.run(lambda x, i: (replica_step(x), i), args=(images, ids))


def _width(model, name, pool, grid):
    """Features per image of one layer (from its static output shape; 0 when not fixed)."""
    shape = qualified_layer(model, name).output.shape[1:]
    if None in shape:
        return 0
    return int(reduce_output(tf.zeros((0, *shape)), pool, grid).shape[1])


def _collect_distributed(step, stream, strategy, batch_size, widths, verbose):
    """Runs ``step`` on every worker's shard, then gathers every replica's
    rows on every worker and orders them by image id."""
    dataset, num_steps = distribute_stream(strategy, stream, batch_size)
    bar = progress_bar(num_steps, verbose, "batch")
    local = len(strategy.extended.worker_devices)
    parts = [[] for _ in range(local)]  # per local replica: (ids, [rows per layer]) per step
    for i, batch in enumerate(dataset):
        outputs, ids = step(batch)
        replica_ids = strategy.experimental_local_results(ids)
        replica_rows = [strategy.experimental_local_results(o) for o in outputs]
        for j in range(local):
            parts[j].append((replica_ids[j].numpy(), [rows[j].numpy() for rows in replica_rows]))
        if bar is not None:
            bar.update(i + 1)
    ids, rows = _all_gather_rows(strategy, parts, widths)
    if len(ids) == 0:
        raise InputError("inputs yielded no images; give at least one image")
    order = np.argsort(ids, kind="stable")
    return [r[order] for r in rows]


def _all_gather_rows(strategy, parts, widths):
    """Every replica's ``(ids, rows)`` on every worker: padded to the
    largest replica's count (ids -1), gathered, padding dropped."""
    ids = [np.concatenate([p[0] for p in part]) if part else np.zeros(0, np.int64) for part in parts]
    rows = [[np.concatenate([p[1][l] for p in part]) if part else np.zeros((0, w), np.float32)
             for l, w in enumerate(widths)] for part in parts]
    local = len(parts)

    def per_replica(values):
        return strategy.experimental_distribute_values_from_function(
            lambda context: values[context.replica_id_in_sync_group % local])

    gather = tf.function(lambda v: tf.nest.map_structure(lambda t: strategy.gather(t, axis=0), v))
    most = int(gather(per_replica([tf.constant([len(i)], tf.int64) for i in ids])).numpy().max())
    padded = per_replica([
        (tf.constant(np.pad(i, (0, most - len(i)), constant_values=-1)),
         [tf.constant(np.pad(r, ((0, most - len(r)), (0, 0)))) for r in replica_rows])
        for i, replica_rows in zip(ids, rows)
    ])
    all_ids, all_rows = tf.nest.map_structure(lambda t: t.numpy(), gather(padded))
    keep = all_ids >= 0
    return all_ids[keep], [r[keep] for r in all_rows]


def _collect(step, stream, num_layers, verbose):
    """Runs ``step`` over the stream; preallocates when N is known."""
    bar = progress_bar(stream.num_batches, verbose, "batch")
    chunks = [[] for _ in range(num_layers)]
    arrays, filled = None, 0
    for i, images in enumerate(stream.dataset):
        batch = [r.numpy() for r in step(images)]
        if stream.num_images is not None:
            if arrays is None:
                arrays = [np.empty((stream.num_images, b.shape[1]), b.dtype) for b in batch]
            for out, b in zip(arrays, batch):
                out[filled : filled + len(b)] = b
        else:
            for chunk, b in zip(chunks, batch):
                chunk.append(b)
        filled += len(batch[0])
        if bar is not None:
            bar.update(i + 1)
    if filled == 0:
        raise InputError("inputs yielded no images; give at least one image")
    if arrays is not None:
        return arrays
    return [np.concatenate(chunk) for chunk in chunks]


def reduce_output(output, pool, grid):
    """A layer output ``(B, ...)`` as features ``(B, D)``.

    4-D maps are pooled to ``grid`` with ``pool`` (see the module docstring)
    unless ``pool`` is None; anything else is flattened.
    """
    if pool is None or output.shape.rank != 4:
        # The static width when known: -1 cannot be inferred for an empty
        # batch (a replica's share of a short last batch).
        width = output.shape[1:].num_elements()
        return tf.reshape(output, [tf.shape(output)[0], -1 if width is None else width])
    return adaptive_pool(output, grid, pool)


def adaptive_pool(maps, grid, pool="max"):
    """Adaptive max/avg pooling of ``(B, H, W, C)`` maps to ``(B, gh*gw*C)``.

    Cell ``(i, j)`` covers rows ``floor(i*H/gh)`` to ``ceil((i+1)*H/gh)``
    and the same rule for columns; the result is ordered ``(gy, gx, c)``.
    """
    gh, gw = grid
    height, width = _spatial(maps)
    reduce = tf.reduce_max if pool == "max" else tf.reduce_mean
    cells = []
    for i in range(gh):
        top, bottom = (i * height) // gh, -((-(i + 1) * height) // gh)
        for j in range(gw):
            left, right = (j * width) // gw, -((-(j + 1) * width) // gw)
            cells.append(reduce(maps[:, top:bottom, left:right, :], axis=[1, 2]))
    pooled = tf.stack(cells, axis=1)  # (B, cells, C)
    return tf.reshape(pooled, [tf.shape(maps)[0], -1])


def _spatial(maps):
    """Static height and width when known (plain slicing), else tensors."""
    static = maps.shape[1:3]
    dynamic = tf.shape(maps)
    return tuple(static[k] if static[k] is not None else dynamic[k + 1] for k in range(2))
