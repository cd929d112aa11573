"""Request parameters, checked: every route reads its query through here.

A bad value raises `BadRequest`, which the routes answer with HTTP 400 and
``{"error": message}``; nothing a client sends reaches the model unchecked.
Plain Python: no TensorFlow.
"""

import re

MAX_TEXT = 512
# An integer as the page writes one: ASCII digits, an optional leading minus
# (so "-1" is answered as out of range), nothing else: int() alone would take
# "3_0" as 30, "+3", " 3" and non-ASCII digits such as "\u0663".
_INTEGER = re.compile(r"-?[0-9]{1,18}")


class BadRequest(ValueError):
    """A request the explorer refuses (answered with ``status``, 400 by default, and the message).

    Args:
        message: what was wrong, quoting what was received.
        status: the HTTP status (413 too large, 503 busy, ...).
        retry_after: seconds, sent as ``Retry-After`` (503 only).
    """

    def __init__(self, message, status=400, retry_after=None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def text(args, name, default=None, max_length=MAX_TEXT):
    """A required (or defaulted) text parameter, without control characters."""
    value = args.get(name, default)
    if value is None or value == "":
        raise BadRequest(f"missing parameter {name!r}")
    if not isinstance(value, str) or len(value) > max_length:
        raise BadRequest(f"parameter {name!r} is longer than {max_length} characters")
    if any(ord(ch) < 32 for ch in value):
        raise BadRequest(f"parameter {name!r} holds control characters")
    return value


def integer(args, name, low, high, default=None):
    """An int parameter in ``[low, high]`` (inclusive)."""
    raw = args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(f"missing parameter {name!r}")
        return default
    if not isinstance(raw, str) or _INTEGER.fullmatch(raw) is None:
        raise BadRequest(f"parameter {name!r} must be an integer (ASCII digits), got {str(raw)[:40]!r}")
    value = int(raw, 10)
    if not low <= value <= high:
        raise BadRequest(f"parameter {name!r} must be in {low}..{high}, got {value}")
    return value


def choice(args, name, choices, default=None):
    """A parameter that must be one of ``choices``."""
    value = args.get(name) or default
    if value not in choices:
        raise BadRequest(f"parameter {name!r} must be one of {', '.join(map(str, choices))}; got {str(value)[:40]!r}")
    return value


def layer(args, layers):
    """A layer name among ``layers`` (the ones the explorer offers for a run)."""
    name = text(args, "layer")
    if name not in layers:
        shown = ", ".join(list(layers)[:12]) + (", ..." if len(layers) > 12 else "")
        raise BadRequest(f"unknown layer {name[:80]!r}; choose one of {shown}")
    return name
