"""Old keyword names kept working for one release, with a DeprecationWarning.

    @renamed_arguments(labels="targets")
    def grad_cam(model, inputs, targets=None, ...): ...

``grad_cam(model, x, labels=y)`` then runs as ``targets=y`` and warns,
naming the new keyword and the release that removes the old one
(`REMOVED_IN`). The signature users see (``help``, ``inspect``) is the new
one. The renames and their removals are listed in CHANGELOG.md.
"""

import functools
import warnings

from zfkeras.utils.errors import InputTypeError

# The release that removes the old names this release deprecates: a rename
# warns for one release (CHANGELOG.md lists each).
REMOVED_IN = "0.4.0"


def progress_to_verbose(progress):
    """The old ``progress=True/False`` as Keras' ``verbose`` (1 or 0)."""
    return 1 if progress else 0


def renamed_arguments(**renames):
    """Decorator mapping deprecated keyword names to their new names.

    Args:
        **renames: ``old="new"``, or ``old=("new", convert)`` when the old
            value needs converting (``convert(old_value)``).

    Returns:
        The decorator; the warning says the old names go in zfkeras
        `REMOVED_IN`.

    Raises (from the decorated function):
        InputTypeError: both the old and the new name were passed (a
            TypeError, as Python's own "multiple values for argument").
    """
    table = {old: new if isinstance(new, tuple) else (new, None) for old, new in renames.items()}

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for old in table.keys() & kwargs.keys():
                new, convert = table[old]
                if new in kwargs:
                    raise InputTypeError(
                        f"{function.__qualname__}() got both {old!r} (deprecated) and {new!r}; pass only {new!r}"
                    )
                warnings.warn(
                    f"{function.__qualname__}(): the argument {old!r} is deprecated and will be removed "
                    f"in zfkeras {REMOVED_IN}; use {new!r}",
                    DeprecationWarning, stacklevel=2,
                )
                value = kwargs.pop(old)
                kwargs[new] = value if convert is None else convert(value)
            return function(*args, **kwargs)

        wrapper.renamed_arguments = {old: new for old, (new, _) in table.items()}  # old -> new, for tests and docs
        return wrapper

    return decorate
