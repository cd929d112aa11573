"""Shared argument handling for the pooling layers (private)."""

import math

from zfkeras.validation import int_pair, one_of


def normalize_pool_args(pool_size, strides, padding):
    """Returns ``(pool_size, strides, padding)`` as two pairs and a lowercase string.

    Raises:
        TypeError / ValueError: naming the argument and quoting its value.
    """
    pool_size = int_pair(pool_size, "pool_size")
    strides = pool_size if strides is None else int_pair(strides, "strides")
    if not isinstance(padding, str):
        raise TypeError(f"padding must be 'valid' or 'same', got {padding!r}")
    padding = one_of(padding.lower(), "padding", ("valid", "same"))
    return pool_size, strides, padding


def pooled_size(n, k, s, padding):
    """Output length of a pool/conv along one axis (None stays None)."""
    if n is None:
        return None
    if padding == "same":
        return math.ceil(n / s)
    return (n - k) // s + 1
