"""The one batch loop: a function over batches of numpy arrays."""

import numpy as np

from zfkeras.utils.progress import progress_bar

__all__ = ["batched"]


def batched(fn, arrays, batch_size, verbose, unit_name="batch"):
    """``fn(*batch_tensors)`` over batches of the numpy ``arrays``, the
    results concatenated as numpy.

    Args:
        fn: takes one `tf.Tensor` per array (None for None entries) and
            returns a tensor or a tuple of tensors.
        arrays: numpy arrays of equal length N (or None).
        batch_size: images per call.
        verbose: as everywhere (a bar over batches).
        unit_name: what the progress bar counts.

    Returns:
        A numpy array, or a tuple of them when ``fn`` returns a tuple.
    """
    import tensorflow as tf

    n = len(next(a for a in arrays if a is not None))
    bar = progress_bar(-(-n // batch_size), verbose, unit_name)
    parts = []
    for start in range(0, n, batch_size):
        part = slice(start, start + batch_size)
        out = fn(*[None if a is None else tf.constant(a[part]) for a in arrays])
        parts.append(tuple(np.asarray(o) for o in out) if isinstance(out, (tuple, list)) else np.asarray(out))
        if bar is not None:
            bar.add(1)
    if parts and isinstance(parts[0], tuple):
        return tuple(np.concatenate(column, axis=0) for column in zip(*parts))
    return np.concatenate(parts, axis=0)
