"""The one progress helper: Keras' ``verbose`` as a `keras.utils.Progbar`.

Every entry point that loops over batches, files or positions takes
``verbose`` as Keras' ``fit``/``predict`` do: 0 quiet, 1 a progress bar, and
``"auto"`` (the default): a bar only when there is much to do (the number of
steps is known and larger than the function's ``auto_minimum``), so that
checking a folder of ImageNet or mining a test set shows progress while the
small calls of a script or a test stay quiet.
"""

from zfkeras.utils.validation import one_of

VERBOSE_CHOICES = (0, 1, "auto")

# verbose="auto" shows a bar above this many steps (batches, positions) unless
# a function says otherwise.
AUTO_MINIMUM_STEPS = 20


def check_verbose(verbose):
    """``verbose`` if it is 0, 1 or "auto"; ValueError listing them."""
    return one_of(verbose, "verbose", VERBOSE_CHOICES)


def progress_bar(total, verbose, unit_name, auto_minimum=AUTO_MINIMUM_STEPS):
    """A `keras.utils.Progbar`, or None when no progress is to be shown.

    Args:
        total: number of steps, or None if unknown.
        verbose: 0 (quiet), 1 (a bar), or ``"auto"``: a bar when ``total``
            is known and larger than ``auto_minimum``.
        unit_name: what a step is (``"file"``, ``"batch"``, ``"position"``).
        auto_minimum: the number of steps above which ``"auto"`` shows a bar.

    Returns:
        `keras.utils.Progbar` or None.

    Raises:
        ValueError: ``verbose`` is not 0, 1 or "auto".
    """
    import keras  # here, so that importing this module stays cheap

    verbose = check_verbose(verbose)
    if verbose == "auto":
        verbose = int(total is not None and total > auto_minimum)
    return keras.utils.Progbar(total, verbose=1, unit_name=unit_name) if verbose else None
