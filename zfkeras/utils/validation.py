"""Argument checks shared by layers, the deconvnet, tools and callbacks.

Each function returns the normalised value or raises with a message that
names the argument and quotes the value received, as Keras' own layers do.
numpy integers count as integers; bools, strings and floats with a
fractional part do not (``"22"`` is not silently read as ``(2, 2)``).
Plain Python and numpy only: no TensorFlow import.
"""

import numbers
from zfkeras.utils.errors import InputError, InputTypeError


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _as_int(value, name, what):
    if _is_int(value):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise InputTypeError(f"{name} must be {what}, got {value!r} of type {type(value).__name__}")


def positive_int(value, name):
    """``value`` as an int >= 1.

    Raises:
        TypeError: not an integer; ValueError: < 1.
    """
    value_int = _as_int(value, name, "a positive integer")
    if value_int < 1:
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    return value_int


def non_negative_int(value, name):
    """``value`` as an int >= 0."""
    value_int = _as_int(value, name, "a non-negative integer")
    if value_int < 0:
        raise InputError(f"{name} must be a non-negative integer, got {value!r}")
    return value_int


def int_pair(value, name, allow_zero=False):
    """An int or a sequence of two ints, as a tuple of two positive ints.

    Args:
        value: ``3`` or ``(3, 2)`` (numpy integers accepted).
        name: the argument's name, for the message.
        allow_zero: accept 0 (paddings, croppings).

    Returns:
        ``(int, int)``.
    """
    check = non_negative_int if allow_zero else positive_int
    what = "a non-negative integer" if allow_zero else "a positive integer"
    if isinstance(value, (str, bytes)):
        raise InputTypeError(f"{name} must be {what} or a pair of them, got the string {value!r}")
    if _is_int(value):
        return (check(value, name),) * 2
    try:
        items = tuple(value)
    except TypeError:
        raise InputTypeError(
            f"{name} must be {what} or a pair of them, got {value!r} of type {type(value).__name__}"
        ) from None
    if len(items) != 2:
        raise InputError(f"{name} must be {what} or a pair of them, got {value!r} ({len(items)} values)")
    return tuple(check(v, name) for v in items)


def _as_float(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be a number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{name} must be finite, got {value!r}")
    return value


def positive_float(value, name):
    """``value`` as a finite float > 0."""
    result = _as_float(value, name)
    if result <= 0:
        raise InputError(f"{name} must be > 0, got {value!r}")
    return result


def float_in_range(value, name, low, high, low_inclusive=True, high_inclusive=True):
    """``value`` as a finite float within ``[low, high]`` (ends as asked).

    Args:
        low, high: bounds; None for no bound on that side.
    """
    result = _as_float(value, name)
    too_low = low is not None and (result < low if low_inclusive else result <= low)
    too_high = high is not None and (result > high if high_inclusive else result >= high)
    if too_low or too_high:
        left = "-inf" if low is None else low
        right = "inf" if high is None else high
        interval = f"{'[' if low_inclusive and low is not None else '('}{left}, {right}{']' if high_inclusive and high is not None else ')'}"
        raise InputError(f"{name} must be in {interval}, got {value!r}")
    return result


def one_of(value, name, choices):
    """``value`` if it is one of ``choices``; ValueError listing them."""
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def quote(value, limit=80):
    """``repr(value)`` cut to ``limit`` characters, for messages quoting what was received."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def index_array(value, name, length, count, what, of, broadcast=False):
    """``value`` as int64 ``(length,)``: one index in ``[0, count)`` per image.

    Class labels (`occlusion`, `invariance`) and feature-map channels
    (`Deconvnet.project`) are checked here.

    Args:
        value: a sequence or array of indices (integers, or floats with no
            fractional part), or one int when ``broadcast``.
        name: the argument's name, for the messages ("labels").
        length: the number of images.
        count: the number of classes or channels.
        what: one entry, for the messages ("class index").
        of: what has ``count`` of them, for the messages ("model 'net',
            which has 10 classes").
        broadcast: accept one int for every image.

    Raises:
        InputError: wrong shape, an index out of range; InputTypeError:
        not integers.
    """
    import numpy as np

    array = np.asarray(value)
    if broadcast and array.ndim == 0:
        array = np.full(length, array)
    if array.ndim != 1 or array.shape[0] != length:
        one = "an int or " if broadcast else ""
        raise InputError(f"{name} must be {one}a 1-D array with one {what} per image ({length}); "
                         f"got shape {array.shape}: {quote(value)}")
    if not np.issubdtype(array.dtype, np.integer):
        if not (np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array))):
            raise InputTypeError(f"{name} must be integers (one {what} per image), got dtype {array.dtype}: "
                                 f"{quote(value)}")
    array = array.astype(np.int64)
    bad = (array < 0) | (array >= count)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{name} must be in [0, {count}) for {of}; got {int(array[first])} at index {first}")
    return array
