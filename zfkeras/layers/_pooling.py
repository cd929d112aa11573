"""Shared argument handling for the pooling layers (private)."""

import math


def _pair(value, name):
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return value


def normalize_pool_args(pool_size, strides, padding):
    """Returns ``(pool_size, strides, padding)`` as two pairs and a lowercase string."""
    pool_size = _pair(pool_size, "pool_size")
    strides = pool_size if strides is None else _pair(strides, "strides")
    padding = str(padding).lower()
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
    if min(pool_size + strides) < 1:
        raise ValueError(f"pool_size and strides must be positive, got {pool_size}, {strides}")
    return pool_size, strides, padding


def pooled_size(n, k, s, padding):
    """Output length of a pool/conv along one axis (None stays None)."""
    if n is None:
        return None
    if padding == "same":
        return math.ceil(n / s)
    return (n - k) // s + 1
