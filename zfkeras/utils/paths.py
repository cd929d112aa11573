"""Checks of the files a command reads and the folders it writes, made before any work.

`check_readable_file` tells a file this process may not read (a permission
problem: `UnreadableInputError`, never "corrupt") from a missing one, a
folder, or a FIFO / device (which would block or never end);
`check_writable_folder` tries to create a file where a command will write,
so a read-only folder or file system is reported before the computation,
not after it. Only the standard library.
"""

import errno
import os
import stat
import tempfile

from zfkeras.utils.errors import InputError, MissingInputError, UnreadableInputError, UnwritableOutputError

# OSError numbers that mean "the environment refuses", not "zfkeras has a bug".
PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM}
READ_ONLY_ERRNOS = {errno.EROFS}
FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def check_readable_file(path, what="file"):
    """Checks that `path` is a regular file this process can open for reading.

    Args:
        path: the file.
        what: how the message names it (``"model file"``, ``"--class-names"``).

    Returns:
        `path`.

    Raises:
        MissingInputError: nothing is at `path`.
        InputError: `path` is a folder, a FIFO, a device or a socket.
        UnreadableInputError: the file exists but may not be read (its
            permissions): the message says so, and never calls it damaged.
    """
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise MissingInputError(f"{what} {name!r} does not exist") from None
    except PermissionError:
        raise _unreadable(name, what) from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{what} {name!r} is a folder; pass a file")
    if not stat.S_ISREG(mode):
        raise InputError(f"{what} {name!r} is not a regular file (a FIFO, device or socket); pass a file")
    try:
        with open(name, "rb"):
            pass
    except PermissionError:
        raise _unreadable(name, what) from None
    return path


def _unreadable(name, what):
    return UnreadableInputError(
        f"{what} {name!r} cannot be read: permission denied (the file itself may be fine); give this user read "
        "access (chmod / chown) or run as its owner"
    )


def check_readable_folder(path, what="folder"):
    """Checks that `path` is a folder whose entries this process can list and open.

    Raises:
        MissingInputError, InputError, UnreadableInputError: as
        `check_readable_file`.
    """
    name = os.fspath(path)
    if not os.path.lexists(name):
        raise MissingInputError(f"{what} {name!r} does not exist")
    if not os.path.isdir(name):
        raise InputError(f"{what} {name!r} is a file, not a folder; pass a folder")
    if not os.access(name, os.R_OK | os.X_OK):
        raise UnreadableInputError(f"{what} {name!r} cannot be read: permission denied; give this user read "
                                   "access (chmod / chown) or run as its owner")
    return path


def check_writable_folder(path, what="output folder"):
    """Checks that files can be created at `path` (or where it would be created).

    Tries it: a temporary file is created and removed in `path`, or in its
    nearest existing parent when `path` does not exist yet (nothing is left
    behind). Root passes permission checks, a read-only file system it
    does not, so this is the only honest test.

    Args:
        path: the folder a command will write into (or create).
        what: how the message names it (``"--out"``, ``"OUT_DIR"``).

    Returns:
        `path`.

    Raises:
        InputError: `path` (or a parent of it) is a file.
        UnwritableOutputError: the folder is read-only for this process.
    """
    name = os.path.abspath(os.fspath(path))
    existing = name
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        if existing == name:
            raise InputError(f"{what} {os.fspath(path)!r} is a file, not a folder; name a folder")
        raise InputError(f"{what} {os.fspath(path)!r} cannot be created: {existing} is a file")
    try:
        handle, probe = tempfile.mkstemp(prefix=".tmp-write-check-", dir=existing)
    except OSError as error:
        if error.errno in PERMISSION_ERRNOS | READ_ONLY_ERRNOS:
            raise UnwritableOutputError(
                f"{what} {os.fspath(path)!r} cannot be written: {existing} is "
                f"{'on a read-only file system' if error.errno in READ_ONLY_ERRNOS else 'read-only for this user'}"
                "; choose a folder you can write, or change its permissions"
            ) from None
        if error.errno in FULL_ERRNOS:
            raise UnwritableOutputError(f"{what} {os.fspath(path)!r} cannot be written: the disk of {existing} "
                                        "is full; free some space or choose another folder") from None
        raise
    os.close(handle)
    os.remove(probe)
    return path


def _tf_path(text):
    """The first path in a TensorFlow error message ('...; No space left on device' after it), or None."""
    import re

    found = re.search(r"(/[^\s;:'\"]+)", text)
    return found.group(1) if found else None


def environment_error_message(error):
    """One line for an OSError the machine caused (permission, read-only or full disk), else None.

    Args:
        error: an exception.

    Returns:
        str or None.
    """
    if not isinstance(error, OSError):
        # TensorFlow's file system raises its own errors (a SavedModel, a
        # checkpoint): recognised by their module and the system's words.
        if type(error).__module__.startswith("tensorflow"):
            text = str(error)
            for words, code in (("No space left on device", errno.ENOSPC), ("Read-only file system", errno.EROFS),
                                ("Permission denied", errno.EACCES)):
                if words in text:
                    return environment_error_message(OSError(code, words, _tf_path(text)))
        return None
    if error.errno is None:
        return None
    where = f" {error.filename}" if error.filename else ""
    if error.errno in PERMISSION_ERRNOS:
        return f"permission denied:{where}; change its permissions or run as its owner (nothing was replaced)"
    if error.errno in READ_ONLY_ERRNOS:
        return f"read-only file system:{where}; write somewhere else (nothing was replaced)"
    if error.errno in FULL_ERRNOS:
        return f"no space left on the disk:{where}; free some space and rerun (nothing was replaced)"
    return None
