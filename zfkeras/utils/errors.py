"""The errors that mean "what you gave is wrong", as opposed to a bug.

zfkeras raises `InputError` (or `InputTypeError`, `MissingInputError`,
`UnreadableInputError`) where its own checks
find a problem with what the user gave: an argument value, a run folder, a
data folder, an image file, a configuration. The ``zfkeras`` commands print
these as one line and exit with status 2; any other exception is a bug (in
zfkeras or a library it uses) and is shown with its traceback
(`zfkeras.cli.verbs`).

Each subclasses the built-in error it refines, so ``except ValueError``,
``except TypeError``, ``except FileNotFoundError`` and ``except PermissionError``
keep catching them. Plain Python: no
TensorFlow import.
"""


class InputError(ValueError):
    """A value, file or folder the user gave is unusable; the message says why and what to do."""


class InputTypeError(InputError, TypeError):
    """A value the user gave has the wrong type (a string where a number belongs, ...)."""


class MissingInputError(InputError, FileNotFoundError):
    """A file or folder the user named (or zfkeras needs from them) does not exist."""


class UnreadableInputError(InputError, PermissionError):
    """A file or folder the user named exists but this process may not read (or write) it.

    Never a sign of damage: the message says to fix the permissions, never
    to delete the file.
    """


class UnwritableOutputError(InputError, PermissionError):
    """An output file or folder the user named cannot be written (permission, read-only file system)."""
