"""tf.data pipelines that keep both CPU cores busy during `fit`.

On the 2-core machine this project was built on, `fit` on numpy arrays or on
a default `tf.data` pipeline sometimes ran on one core (2x slower). Turning
off tf.data autotuning and giving the pipeline a private one-thread pool,
then prefetching one batch, made every epoch use both cores: the input
pipeline no longer competes with the model's intra-op threads
(docs/BENCHMARKS_data.md).
"""

import numpy as np
import tensorflow as tf

from zfkeras.validation import positive_int


def two_core_options():
    """Returns the `tf.data.Options` used by every zfkeras pipeline.

    Autotuning is off and the pipeline gets a private one-thread pool, so
    that on a small CPU the input pipeline leaves the cores to the model's
    own threads instead of competing with them (see the module docstring).

    Returns:
        `tf.data.Options` with autotuning disabled and a private thread pool
        of size 1.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return options


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
        `tf.data.Dataset` of ``(x_batch, y_batch)`` (or ``x_batch``) with
        `two_core_options()` applied and one batch prefetched.

    Raises:
        TypeError, ValueError: bad batch size or mismatched array lengths.
    """
    batch_size = positive_int(batch_size, "batch_size")
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"x must be a non-empty array of examples, got shape {x.shape}")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(x):
            raise ValueError(
                f"x has {len(x)} examples but y has shape {y.shape}; pass one label per example"
            )
        data = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        data = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if preprocess is not None:
        data = data.map(preprocess)
    return data.with_options(two_core_options()).prefetch(1)
