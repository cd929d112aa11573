"""tf.data pipelines sized to the machine they run on.

By default every zfkeras pipeline uses tf.data's autotuned parallelism and
prefetching (``tf.data.AUTOTUNE``), which is what a machine with many cores
(and GPUs to feed) needs. On a machine with two cores or fewer the
one-thread mode is chosen instead: autotuning off, a private one-thread
pool, one batch prefetched. On the 2-core machine this project was built on,
`fit` on a default pipeline sometimes ran on one core (2x slower); the
one-thread mode kept both cores busy, because the input pipeline no longer
competes with the model's intra-op threads (docs/BENCHMARKS_data.md).

`set_data_threads(n)` (``zfkeras train --data-threads N``) overrides the
choice: ``n`` >= 1 gives every pipeline a private pool of ``n`` threads
without autotuning, 0 goes back to the automatic choice.
"""

import os

import numpy as np
import tensorflow as tf

from zfkeras.utils.validation import non_negative_int, positive_int
from zfkeras.utils.errors import InputError

# Machines with at most this many cores get the one-thread mode by default.
SMALL_MACHINE_CORES = 2
_setting = {"threads": 0}


def available_cores():
    """Cores this process may run on (its CPU affinity, else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_data_threads(threads=0):
    """Sets the threads of every pipeline built afterwards in this process.

    Args:
        threads: 0 = automatic (one thread on <= 2 cores, else autotuned);
            N >= 1 = a private pool of N threads, autotuning off.

    Returns:
        The previous setting.
    """
    previous = _setting["threads"]
    _setting["threads"] = non_negative_int(threads, "data_threads")
    return previous


def data_threads():
    """The effective pool size: N >= 1 threads, or 0 for tf.data autotuning."""
    if _setting["threads"]:
        return _setting["threads"]
    return 1 if available_cores() <= SMALL_MACHINE_CORES else 0


def two_core_options(threads=1):
    """`tf.data.Options` of the fixed-pool mode: autotuning off, a private
    pool of `threads` threads (1: the mode that keeps a 2-core CPU busy)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = positive_int(threads, "threads")
    return options


def pipeline_options():
    """The `tf.data.Options` every zfkeras pipeline uses (see `data_threads`):
    the fixed-pool options, or tf.data's defaults (autotuning on)."""
    threads = data_threads()
    return two_core_options(threads) if threads else tf.data.Options()


def parallel_calls():
    """``num_parallel_calls`` for maps: the pool size, or ``tf.data.AUTOTUNE``."""
    return data_threads() or tf.data.AUTOTUNE


def finish(dataset):
    """Applies `pipeline_options` and prefetches (one batch with a fixed
    pool, ``AUTOTUNE`` otherwise): the last step of every pipeline."""
    return dataset.with_options(pipeline_options()).prefetch(1 if data_threads() else tf.data.AUTOTUNE)


def array_dataset(x, y, batch_size, shuffle=False, seed=None, preprocess=None):
    """Builds a batched `tf.data.Dataset` from in-memory arrays.

    Args:
        x: numpy array of inputs, first axis the examples.
        y: numpy array of labels with the same first dimension, or None.
        batch_size: examples per batch.
        shuffle: reshuffle the whole array every epoch.
        seed: shuffle seed, for reproducible orders.
        preprocess: optional function applied to each batch, called as
            ``preprocess(x_batch, y_batch)`` (or ``preprocess(x_batch)`` when
            ``y`` is None) and returning the same structure.

    Returns:
        `tf.data.Dataset` of ``(x_batch, y_batch)`` (or ``x_batch``),
        finished by `finish` (the machine's options and prefetching).

    Raises:
        TypeError, ValueError: bad batch size or mismatched array lengths.
    """
    batch_size = positive_int(batch_size, "batch_size")
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise InputError(f"x must be a non-empty array of examples, got shape {x.shape}")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            raise InputError(
                f"x has {len(x)} examples but y has shape {y.shape}; pass one label per example"
            )
        data = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        data = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if preprocess is not None:
        data = data.map(preprocess, num_parallel_calls=parallel_calls())
    return finish(data)
