"""Shared argument handling for the pooling layers (private)."""

import math

import tensorflow as tf


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


def _same_pads(n, k, s):
    out = -(-n // s)
    total = tf.maximum((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pool_padding(h, w, dyn_shape, pool_size, strides, padding):
    """TF 'SAME' padding per side as ``((top, bottom), (left, right))``.

    Uses static sizes when known (python ints), else the dynamic shape.
    """
    if padding == "valid":
        return (0, 0), (0, 0)
    pads = []
    for axis, n in ((0, h), (1, w)):
        k, s = pool_size[axis], strides[axis]
        if n is not None:
            out = math.ceil(n / s)
            total = max((out - 1) * s + k - n, 0)
            pads.append((total // 2, total - total // 2))
        else:
            pads.append(_same_pads(dyn_shape[axis + 1], k, s))
    return tuple(pads)
