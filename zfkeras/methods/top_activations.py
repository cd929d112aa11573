"""Top-k mining of feature maps over a dataset (paper Fig. 2).

For every feature map (channel) of each requested convolutional layer,
`top_activations` finds the ``k`` images whose strongest activation of that
map is largest, each at that strongest position: one entry per image, as
in the paper's Fig. 2, where each of the 9 patches of a map comes from a
different image.

Tie rule (deterministic): within an image, the strongest position is the
first maximum in row-major order (as ``np.argmax`` on the flattened map);
between images, equal values rank the smaller image id first.

Memory: the running top-k of every map plus one batch of activations;
the dataset's activations are never held.

How it runs: one multi-output sub-model gives all requested layers in one
forward pass; inside the same `tf.function`, each map of each image is
reduced to its maximum (rows, then columns), the running top-k is merged
with the batch's on the device (one stable ``top_k`` per layer), and the
position is searched only for entries that enter the top k (reading
``C*k*(H+W)`` values instead of the batch's activations). Under a
`tf.distribute` strategy (also `MultiWorkerMirroredStrategy` across
processes or hosts) each worker reads only its shard of the inputs, with
the image ids of the whole input (`zfkeras.utils.inputs.distribute_stream`),
each replica keeps its own running top-k, and the replicas' lists are
gathered on every worker (a collective all-gather) and merged once at the
end with the tie rule: the result equals one process's.
"""

import contextlib
import dataclasses
import functools
import weakref

import numpy as np
import tensorflow as tf

from zfkeras.graph.addressing import layer_output_model, qualified_layer, resolve_layers
from zfkeras.utils.inputs import (
    DEFAULT_BATCH_SIZE, distribute_stream, image_stream, model_input_shape, run_checked,
)
from zfkeras.keras_objects.precision import float32_model, is_float32
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import positive_int, quote
from zfkeras.plot.inline import ShowsItself

# Placeholder of an unfilled slot: ranks after every real entry.
_NO_IMAGE = np.iinfo(np.int64).max


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class TopActivations(ShowsItself):
    """The top-k images of every feature map of one layer.

    Attributes:
        values: float32 ``(C, k)``, each row descending: the strongest
            activation of map ``c`` in each of its top images.
        image_ids: int64 ``(C, k)``: index of the image in the order the
            inputs yield them.
        positions: int64 ``(C, k, 2)``: ``(y, x)`` of that activation in the
            layer's output.
    """

    values: np.ndarray
    image_ids: np.ndarray
    positions: np.ndarray

    @property
    def k(self):
        """Entries per map."""
        return self.values.shape[1]

    @property
    def num_maps(self):
        """Number of feature maps (channels) C."""
        return self.values.shape[0]


class MiningResult(dict):
    """What `top_activations` returns: a dict layer name -> `TopActivations`.

    Attributes:
        num_images: the images mined (all workers together).
        local_images: the images this process ran through the model (its
            shard under a multi-worker strategy; ``num_images`` otherwise).
    """

    def __init__(self, layers, num_images, local_images):
        super().__init__(layers)
        self.num_images = num_images
        self.local_images = local_images


def top_activations(model, inputs, layers, k=9, batch_size=DEFAULT_BATCH_SIZE, strategy=None, verbose="auto"):
    """The ``k`` images that most strongly activate each feature map.

    Args:
        model: a single-input `keras.Model` taking ``(N, H, W, C)`` images.
        inputs: an image array ``(N, H, W, C)``, or a `tf.data.Dataset` of
            images, of ``(images, labels)`` tuples or of ``{"image": ...}``
            dicts, batched (rank-4 elements, used as they come) or not
            (rank 3, batched here by ``batch_size``).
        layers: a layer name or a list of names (plain Keras names as
            `model.get_layer` takes them, or ``"outer/inner"`` inside a nested
            model) whose outputs are 4-D maps.
        k: images kept per map; at most the number of images.
        batch_size: global batch size (split over replicas under a
            strategy); ignored for already batched datasets.
        strategy: a `tf.distribute.Strategy` to run on (e.g.
            `MirroredStrategy` over GPUs or logical CPUs,
            `MultiWorkerMirroredStrategy` over processes: every worker
            calls with the same model and inputs and reads only its
            shard), or None for the current device. Build the model in
            ``strategy.scope()`` to have its weights mirrored on every
            replica's device.
        verbose: 0 (silent), 1 (a progress bar over batches) or "auto"
            (a bar over more than 20 batches of known number).

    Returns:
        `MiningResult`: dict layer name -> `TopActivations`, in the order
        of ``layers``; every worker of a strategy gets the same result.

    Raises:
        ValueError: unknown layer (lists the valid ones), a layer whose
        output is not a 4-D feature map, ``k`` larger than the number of
        images, empty inputs, images of the wrong shape, NaN in the images.
    """
    k = positive_int(k, "k")
    check_verbose(verbose)
    if strategy is not None and not isinstance(strategy, tf.distribute.Strategy):
        raise InputTypeError(f"strategy must be a tf.distribute.Strategy or None, got {quote(strategy)} "
                             f"of type {type(strategy).__name__}")
    if not is_float32(model):  # mixed precision: rank activations in float32
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model = float32_model(model)
    names, _ = resolve_layers(model, layers, "top_activations", maps_only=True)
    stream = image_stream(model, inputs, batch_size, with_ids=True)
    if stream.num_images is not None and k > stream.num_images:
        raise InputError(_too_few(k, stream.num_images))
    shapes = [tuple(qualified_layer(model, n).output.shape[1:]) for n in names]
    if any(None in shape for shape in shapes):
        raise InputError(
            f"layer output shapes {dict(zip(names, shapes))} are not fixed; give the model a "
            "fixed input size (keras.Input((H, W, C)))"
        )
    channels = [shape[2] for shape in shapes]
    step = _cached_step(model, names, k, strategy)
    if strategy is None:
        run = functools.partial(_run_local, step, stream, channels, k, verbose)
    else:
        run = functools.partial(_run_distributed, step, stream, channels, k, strategy, batch_size, verbose)
    count, local_count, nan_batches, lists = run_checked(run, model_input_shape(model))
    if count == 0:
        raise InputError("inputs yielded no images; give at least one image")
    if nan_batches:
        raise InputError(
            f"{nan_batches} batch(es) of inputs contain NaN or infinite pixels or give NaN activations; "
            "clean or drop those images (or check the model's weights)"
        )
    if k > count:
        raise InputError(_too_few(k, count))
    return MiningResult({
        name: _as_result(*merge_lists(*lists[i], k), shape[1])
        for i, (name, shape) in enumerate(zip(names, shapes))
    }, count, local_count)


def _too_few(k, count):
    return f"k={k} is larger than the number of images ({count}); ask for k <= {count} or give more images"


def _as_result(values, ids, flat_positions, width):
    positions = np.stack([flat_positions // width, flat_positions % width], axis=-1).astype(np.int64)
    return TopActivations(values.astype(np.float32), ids.astype(np.int64), positions)


def merge_lists(values, ids, positions, k):
    """Merges candidate lists ``(C, M)`` into the top ``k`` per row (numpy).

    Order: value descending, then image id ascending (the tie rule).
    ``positions`` is ``(C, M)`` or ``(C, M, 2)`` and follows its entries.
    """
    values, ids, positions = np.asarray(values), np.asarray(ids), np.asarray(positions)
    order = np.lexsort((ids, -values.astype(np.float64)), axis=-1)[:, :k]
    position_order = order.reshape(order.shape + (1,) * (positions.ndim - 2))
    return (
        np.take_along_axis(values, order, axis=1),
        np.take_along_axis(ids, order, axis=1),
        np.take_along_axis(positions, position_order, axis=1),
    )


def merge_top_activations(parts, k=None, offsets=None):
    """Combines the results of shards mined separately into one result.

    Args:
        parts: list of dicts layer -> `TopActivations` (or of
            `TopActivations`), one per shard, same layers.
        k: entries to keep (default: the largest k of the parts).
        offsets: per part, the global index of its first image (added to
            its ``image_ids``); None if the ids are already global.

    Returns:
        The same structure as one part, as if mined in one pass.
    """
    if not parts:
        raise InputError("parts is empty; give the results of at least one shard")
    if offsets is not None and len(offsets) != len(parts):
        raise InputError(f"offsets has {len(offsets)} entries for {len(parts)} parts; give one per part")
    if isinstance(parts[0], TopActivations):
        return merge_top_activations([{"_": p} for p in parts], k, offsets)["_"]
    offsets = [0] * len(parts) if offsets is None else [int(o) for o in offsets]
    merged = {}
    for name in parts[0]:
        chunks = [p[name] for p in parts]
        keep = max(c.k for c in chunks) if k is None else positive_int(k, "k")
        values = np.concatenate([c.values for c in chunks], axis=1)
        if keep > values.shape[1]:
            raise InputError(_too_few(keep, values.shape[1]))
        ids = np.concatenate([c.image_ids + o for c, o in zip(chunks, offsets)], axis=1)
        positions = np.concatenate([c.positions for c in chunks], axis=1)
        merged[name] = TopActivations(*merge_lists(values, ids, positions, keep))
    return merged


# --- graph side --------------------------------------------------------------


def _initial_state(channels, k):
    """Per layer an empty running list (values, ids, flat positions), plus
    the image count and the number of batches with non-finite pixels."""
    lists = tuple(
        (
            tf.fill([c, k], tf.constant(-np.inf, tf.float32)),
            tf.fill([c, k], tf.constant(_NO_IMAGE, tf.int64)),
            tf.zeros([c, k], tf.int32),
        )
        for c in channels
    )
    return tf.constant(0, tf.int64), tf.constant(0, tf.int64), lists


def _mine_batch(sub, k, batch, state):
    """One batch: forward pass, per-image maxima, merge into ``state``.
    A replica's share of a last, short batch can be empty: then nothing
    runs."""
    images, ids = batch
    return tf.cond(
        tf.shape(images)[0] > 0, lambda: _mine_images(sub, k, images, ids, state), lambda: state
    )


def _mine_images(sub, k, images, ids, state):
    count, nan_batches, lists = state
    bad = tf.constant(False)
    if images.dtype.is_floating:
        bad = tf.logical_not(tf.reduce_all(tf.math.is_finite(images)))
    outputs = sub(tf.cast(images, sub.inputs[0].dtype), training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    # Batch rows in image-id order, so that the stable top_k below ranks
    # equal values by id (the running list holds only earlier ids: batches
    # arrive in data order, and a replica gets a slice of each batch).
    order = tf.argsort(ids, stable=True)
    ids = tf.gather(ids, order)
    merged = []
    for maps, running in zip(outputs, lists):
        entry, nan_maps = _merge_layer(tf.cast(maps, tf.float32), running, ids, order, k)
        merged.append(entry)
        bad = tf.logical_or(bad, nan_maps)
    return count + tf.cast(tf.size(ids), tf.int64), nan_batches + tf.cast(bad, tf.int64), tuple(merged)


def _merge_layer(maps, running, ids, order, k):
    """Merges one layer's batch of maps into its running top-k.

    Only maxima are computed for the whole batch (two cheap reductions);
    positions are searched only for the entries that enter the top k.
    """
    run_values, run_ids, run_positions = running
    row_max = tf.reduce_max(maps, axis=2)  # (B, H, C)
    values = tf.gather(tf.reduce_max(row_max, axis=1), order)  # (B, C), id order
    num_maps, batch = tf.shape(run_ids)[0], tf.size(ids)
    all_values = tf.concat([run_values, tf.transpose(values)], axis=1)
    all_ids = tf.concat([run_ids, tf.broadcast_to(ids[None, :], [num_maps, batch])], axis=1)
    # top_k is stable: equal values keep their order (running list first,
    # then the batch by id), which is the id order.
    top_values, top = tf.math.top_k(all_values, k=k, sorted=True)
    from_batch = top >= k
    rows = tf.gather(order, tf.clip_by_value(top - k, 0, batch - 1))  # batch row of each entry
    new_positions = first_max_positions(maps, row_max, rows, top_values)
    positions = tf.where(from_batch, new_positions, tf.gather(run_positions, tf.minimum(top, k - 1), batch_dims=1))
    nan_maps = tf.reduce_any(tf.math.is_nan(values))
    return (top_values, tf.gather(all_ids, top, batch_dims=1), positions), nan_maps


def first_max_positions(maps, row_max, rows, values):
    """Row-major index ``y * W + x`` of the first occurrence of ``values``.

    Args:
        maps: ``(B, H, W, C)`` activations.
        row_max: ``maps`` reduced over W, ``(B, H, C)``.
        rows: int ``(C, k)``: the image (batch row) of each entry; entry
            ``(c, j)`` looks at channel ``c``.
        values: ``(C, k)``: the maximum of that map.

    Returns:
        int32 ``(C, k)``: first row ``y`` whose maximum equals the value,
        then the first ``x`` in that row (the first maximum in row-major
        order, as ``np.argmax`` on the flattened map). Only ``C*k*(H+W)``
        values are read, not the batch.
    """
    shape = tf.shape(maps, out_type=tf.int64)
    height, width, channels = shape[1], shape[2], shape[3]
    rows = tf.cast(rows, tf.int64)[..., None]  # (C, k, 1)
    channel = tf.range(channels)[:, None, None]
    ys = tf.range(height)[None, None, :]
    candidates = tf.gather(tf.reshape(row_max, [-1]), (rows * height + ys) * channels + channel)
    y = _first_equal(candidates, values, height)
    xs = tf.range(width)[None, None, :]
    candidates = tf.gather(tf.reshape(maps, [-1]), ((rows * height + y[..., None]) * width + xs) * channels + channel)
    x = _first_equal(candidates, values, width)
    return tf.cast(y * width + x, tf.int32)


def _first_equal(candidates, values, size):
    """Index of the first candidate equal to ``values`` along the last axis
    (clipped into range when none is, e.g. for NaN maps)."""
    hits = tf.equal(candidates, values[..., None])
    index = tf.reduce_min(tf.where(hits, tf.range(size)[None, None, :], size), axis=-1)
    return tf.minimum(index, size - 1)


# model -> {(layers, k, strategy id): traced step}: a second call on the same
# model reuses the graph (as `model.predict` reuses its predict function).
_STEPS = weakref.WeakKeyDictionary()


def _cached_step(model, names, k, strategy):
    steps = _STEPS.setdefault(model, {})
    key = (tuple(names), k, id(strategy))
    if key not in steps:
        if len(steps) > 8:
            steps.clear()
        sub = layer_output_model(model, names)
        replica_step = functools.partial(_mine_batch, sub, k)
        if strategy is None:
            steps[key] = tf.function(replica_step, reduce_retracing=True)
        else:
            steps[key] = tf.function(
                functools.partial(_distributed_step, strategy, replica_step), reduce_retracing=True
            )
    return steps[key]


def _distributed_step(strategy, replica_step, batch, state):
    return strategy.run(replica_step, args=(batch, state))


def _run_steps(step, dataset, state, num_steps, verbose):
    bar = progress_bar(num_steps, verbose, "batch")
    for i, batch in enumerate(dataset):
        state = step(batch, state)
        if bar is not None:
            bar.update(i + 1)
    return state


def _run_local(step, stream, channels, k, verbose):
    count, nan_batches, lists = _run_steps(step, stream.dataset, _initial_state(channels, k), stream.num_batches, verbose)
    return int(count), int(count), int(nan_batches), [tuple(t.numpy() for t in entry) for entry in lists]


def _run_distributed(step, stream, channels, k, strategy, batch_size, verbose):
    """Each replica merges its share of its worker's shard into its own
    running list; the lists of all replicas (all workers) are gathered at
    the end."""
    with strategy.scope():
        state = strategy.experimental_distribute_values_from_function(lambda _: _initial_state(channels, k))
    dataset, num_steps = distribute_stream(strategy, stream, batch_size)
    state = _run_steps(step, dataset, state, num_steps, verbose)
    local = sum(int(c) for c in strategy.experimental_local_results(state[0]))
    total, bad, lists = _gather_replicas(strategy, state)
    return total, local, bad, lists


def _gather_replicas(strategy, state):
    """Sums the counts and concatenates the running lists of all replicas
    along the k axis: ``(C, k * replicas)`` candidates per layer."""

    @tf.function
    def gather(state):
        count, nan_batches, lists = state
        total = strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None)
        bad = strategy.reduce(tf.distribute.ReduceOp.SUM, nan_batches, axis=None)
        return total, bad, tf.nest.map_structure(lambda t: strategy.gather(t, axis=1), lists)

    total, bad, lists = gather(state)
    return int(total), int(bad), [tuple(t.numpy() for t in entry) for entry in lists]
