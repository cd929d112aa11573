"""The ``zfkeras`` command: `dispatch` (the verb table and ``main``, the
console script's entry point) and `verbs` (what every verb shares: help
formatting, argument types, the error handler). Plain Python: no
TensorFlow import."""

from zfkeras.cli.dispatch import VERBS, main

__all__ = ["VERBS", "main"]
