"""Progress bars for long data work: shown when asked, or when it is long.

``verbose="auto"`` (the default of the data and evaluation functions) shows
a Keras progress bar only when there is much to do, so that checking a
folder of ImageNet shows progress while the small calls of a script or a
test stay quiet.
"""

import keras

from zfkeras.validation import one_of

VERBOSE_CHOICES = (0, 1, "auto")


def progress_bar(total, verbose, unit_name, auto_minimum):
    """A `keras.utils.Progbar`, or None when no progress is to be shown.

    Args:
        total: number of items to process, or None if unknown.
        verbose: 0 (quiet), 1 (a bar), or ``"auto"``: a bar when ``total``
            is known and larger than ``auto_minimum``.
        unit_name: what an item is (``"file"``, ``"batch"``).
        auto_minimum: the number of items above which ``"auto"`` shows a bar.

    Returns:
        `keras.utils.Progbar` or None.

    Raises:
        ValueError: ``verbose`` is not 0, 1 or "auto".
    """
    verbose = one_of(verbose, "verbose", VERBOSE_CHOICES)
    if verbose == "auto":
        verbose = int(total is not None and total > auto_minimum)
    return keras.utils.Progbar(total, verbose=1, unit_name=unit_name) if verbose else None
