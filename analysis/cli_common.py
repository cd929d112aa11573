"""Shared pieces of the probe, transfer and ablate commands (no TensorFlow).

Arguments are checked by argparse types, so a bad value is reported as a
usage error before anything heavy is imported.
"""

import argparse
import sys


def positive_int(text):
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text):
    """argparse type: an int >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def fold_count(text):
    """argparse type: the number of folds, at least 2."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds (the paper uses 5), got {text!r}")
    return value


def open_run(parser, path):
    """The `RunFolder` at ``path``, or a usage error naming the problem."""
    from zfkeras.run_folder import RunFolder

    try:
        return RunFolder(path)
    except ValueError as error:
        parser.error(str(error))


def fail(prog, error):
    """Prints a one-line error for a failure after parsing; returns 1."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return 1
