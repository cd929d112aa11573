"""Shared argument handling for the pooling layers (private)."""

from zfkeras.graph.window import axis_window
from zfkeras.utils.errors import InputTypeError
from zfkeras.utils.validation import int_pair, one_of


def normalize_pool_args(pool_size, strides, padding):
    """Returns ``(pool_size, strides, padding)`` as two pairs and a lowercase string.

    Raises:
        InputTypeError / InputError: naming the argument and quoting its value.
    """
    pool_size = int_pair(pool_size, "pool_size")
    strides = pool_size if strides is None else int_pair(strides, "strides")
    if not isinstance(padding, str):
        raise InputTypeError(f"padding must be 'valid' or 'same', got {padding!r}")
    padding = one_of(padding.lower(), "padding", ("valid", "same"))
    return pool_size, strides, padding


def pooled_size(n, k, s, padding):
    """Output length of a pool along one axis (None stays None): the model
    graph's window arithmetic, so the layer and every tool agree."""
    return axis_window(n, k, s, padding)[2]
