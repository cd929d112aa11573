"""Where a command writes: checked before the work, replaced without loss.

Every ``zfkeras`` verb that writes a folder plans it here first
(`plan_output_folder`), before any model is loaded or anything computed:

* missing or empty: written in one step (`zfkeras.utils.atomic.atomic_directory`);
* a file, or a folder this process cannot write: refused (one line, exit 2);
* holding a training run (its ``config.json``) while the verb is not
  ``zfkeras train``: refused, even with ``--overwrite``; a run is never
  the output of another verb;
* holding the verb's own kind of output (``is_own``): replaced in one step
  when allowed (``--overwrite``, or always where rerunning is the point);
  the old copy is deleted only once the new one is in place;
* holding anything else: refused unless ``--overwrite``; then the old
  content is moved aside to ``NAME.old-<UTC time>`` beside it, in one
  rename after the new output is complete, and never deleted.

A command that fails leaves the folder as it was. docs/RELIABILITY.md
describes the policy and the tests that hold it. Only the standard library.
"""

import contextlib
import dataclasses
import os
import sys

from zfkeras.runs import layout
from zfkeras.utils.atomic import ASIDE_INFIX, atomic_directory, is_temporary
from zfkeras.utils.errors import InputError
from zfkeras.utils.paths import check_writable_folder

NEW, OWN, FOREIGN = "new", "own", "foreign"
OVERWRITE_HELP = (f"replace an existing output folder; content this command did not write is moved aside to "
                  f"NAME{ASIDE_INFIX}<time>, never deleted (a run folder is always refused)")


def is_run_folder(path):
    """Whether `path` holds a training run (a ``config.json`` as ``zfkeras train`` writes)."""
    return os.path.lexists(os.path.join(os.fspath(path), layout.CONFIG))


def visible_entries(path):
    """The names in folder `path`, without the temporaries of killed writers."""
    return sorted(name for name in os.listdir(path) if not is_temporary(name))


def describe_entries(names, limit=3):
    """``a.txt, b/, c`` or ``a.txt, b, c and 4 more``."""
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


class OutputFolderError(InputError):
    """The output folder holds what the command may not replace."""


@dataclasses.dataclass
class OutputPlan:
    """What `plan_output_folder` found, and how the output will be written.

    Attributes:
        path: the output folder.
        state: `NEW` (missing or empty), `OWN` (the verb's own output) or
            `FOREIGN` (anything else; moved aside when written).
        prog: the verb, for the message about a moved folder.
        moved: where the old content went, once written (else None).
    """

    path: str
    state: str
    prog: str = "zfkeras"
    moved: str = None

    @contextlib.contextmanager
    def directory(self):
        """`atomic_directory` for the planned folder: yields a temporary folder to fill."""
        moved = []
        with atomic_directory(self.path, replace=self.state != NEW, keep_old=self.state == FOREIGN,
                              moved=moved) as tmp:
            yield tmp
        if moved:
            self.moved = moved[0]
            print(f"{self.prog}: moved the previous content of {self.path} to {self.moved}", file=sys.stderr)


def plan_output_folder(path, *, prog, flag, is_own=None, overwrite=False, own_replaced=False):
    """Checks the folder a verb will write, before any work (see the module docstring).

    Args:
        path: the output folder.
        prog: the verb (``"zfkeras occlude"``), for messages.
        flag: how the user named the folder (``"--out"``), for messages.
        is_own: callable(path) -> bool: the folder holds this verb's own
            output (None: nothing counts as own).
        overwrite: the user passed ``--overwrite``.
        own_replaced: the verb's own output is replaced without
            ``--overwrite`` (a rerun updates it: explore entries).

    Returns:
        `OutputPlan`.

    Raises:
        OutputFolderError: a run folder, or content that may not be
            replaced without ``--overwrite``.
        InputError, UnwritableOutputError: a file, or not writable.
    """
    path = os.fspath(path)
    check_writable_folder(path, flag)
    if not os.path.isdir(path) or not visible_entries(path):
        return OutputPlan(path, NEW, prog)
    if is_run_folder(path):
        raise OutputFolderError(
            f"{flag} {path!r} is a training run folder (it holds {layout.CONFIG}); {prog} never writes over a "
            f"run, with or without --overwrite: choose another {flag}"
        )
    entries = visible_entries(path)
    if is_own is not None and is_own(path):
        if overwrite or own_replaced:
            return OutputPlan(path, OWN, prog)
        raise OutputFolderError(f"{flag} {path!r} already holds {prog} output; pass --overwrite to replace it, "
                                f"or choose another {flag}")
    if not overwrite:
        raise OutputFolderError(
            f"{flag} {path!r} is not empty and was not written by {prog} (it holds {describe_entries(entries)}); "
            f"choose another {flag}, or pass --overwrite to move its content aside to {path}{ASIDE_INFIX}<time>"
        )
    return OutputPlan(path, FOREIGN, prog)


def only_entries(allowed):
    """An `is_own` test: the folder holds only names matching ``allowed(name)`` (and at least one)."""

    def test(path):
        names = visible_entries(path)
        return bool(names) and all(allowed(name) for name in names)

    return test
