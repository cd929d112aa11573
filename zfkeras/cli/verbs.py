"""What every ``zfkeras <verb>`` shares: its help formatter and its error handler.

`HelpFormatter` shows each option's default once. `cli_main` wraps a
verb's ``main(argv)``: an `zfkeras.utils.errors.InputError` (zfkeras' own checks
of what the user gave) becomes one line and exit status 2, any other
exception is a bug and is shown with its traceback (exit status 1), so an
internal failure never reads like a mistake of the user's. An `OSError` the
machine caused (permission denied, read-only or full disk) is the user's to
fix: one line, exit status 2. Plain Python:
no TensorFlow import.
"""

import argparse
import functools
import sys
import traceback

from zfkeras.utils.errors import InputError
from zfkeras.utils.paths import environment_error_message

USER_ERROR_STATUS = 2  # as argparse's usage errors
INTERNAL_ERROR_STATUS = 1


def format_default(value):
    """A default as it is typed on the command line: ``1 2 5`` for a sequence."""
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return str(value)


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help, once.

    Nothing is appended where the help already states the default (one
    computed at run time, e.g. "(default: RUN_DIR/report)") or where there
    is none to show: ``None`` (the help says what happens) or ``False`` of
    an on/off flag.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "(default" in text or "%(default)" in text
                or default is None or default is False or default is argparse.SUPPRESS):
            return text
        # argparse %-formats the help text: a % in the default is escaped
        return f"{text} (default: {format_default(default).replace('%', '%%')})"


def int_argument(minimum):
    """The argparse integer type of every verb: the text as an int of at least ``minimum``.

    A bad value is a usage error (``argument --k: must be a positive
    integer, got '0'``) before anything heavy is imported.

    Args:
        minimum: the smallest value accepted (1: positive, 0: non-negative).

    Returns:
        A callable for ``add_argument(type=...)``.
    """
    what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = f"int_argument({minimum})"
    return parse


positive_int_argument = int_argument(1)  # --max-images 10, an export --version, --epochs
non_negative_int_argument = int_argument(0)  # --seed 0


def verb_parser(prog, description):
    """The argument parser of a verb: its name, its description, `HelpFormatter`."""
    return argparse.ArgumentParser(prog=prog, description=description, formatter_class=HelpFormatter)


def user_error(prog, error):
    """Prints ``prog: error: ...`` (one line); returns the exit status of a user error."""
    print(f"{prog}: error: {error}", file=sys.stderr)
    return USER_ERROR_STATUS


def _report_bug(prog, error):
    print(
        f"{prog}: internal error: {type(error).__name__}: {error}\n"
        "This is a bug in zfkeras or a library it uses, not a problem with your input. "
        "The traceback follows; please include it when you report the bug.",
        file=sys.stderr,
    )
    traceback.print_exc()


def cli_main(prog):
    """Decorator for a verb's ``main(argv)``: user errors in one line, bugs with their traceback."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv)
            except InputError as error:
                return user_error(prog, error)
            except Exception as error:  # noqa: BLE001 - shown in full, never swallowed
                # A permission, read-only or full disk the machine refuses
                # with is the user's to fix: one line (atomic writers left
                # nothing half-written). Anything else is a bug, in full.
                message = environment_error_message(error)
                if message is not None:
                    return user_error(prog, message)
                _report_bug(prog, error)
                return INTERNAL_ERROR_STATUS

        run.cli_prog = prog  # lets the tests check that every verb goes through here
        return run

    return wrap
