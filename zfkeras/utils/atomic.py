"""Writing files and folders so that readers never see half of them.

Every writer here works under a temporary name beside the target (same
folder, so the final `os.replace` is an atomic rename on one file system)
and renames it onto the target only when the work succeeded. A process
killed mid-write leaves at most a temporary named ``.tmp-...``, which no
reader takes for the real file and `remove_temporaries` deletes.

What a reader of the target sees, at any moment:

* a file (`atomic_path`, `write_json_atomic`): the old file or the new one,
  never part of either (one rename replaces it);
* a new folder (`atomic_directory` where none was): nothing, then the
  whole new folder;
* a replaced folder (`atomic_directory(..., replace=True)` onto a
  non-empty one): on Linux, where the file system can exchange two names
  in one step (``renameat2(RENAME_EXCHANGE)``: ext4, XFS, Btrfs, tmpfs,
  ...), the old folder or the new one, never neither. Elsewhere (no
  exchange: other systems, some network file systems) two renames are
  needed, and for the instant between them no folder is at the target
  (still never a partial one); a process killed in that instant leaves the
  old folder under a temporary name. `exchange_supported` says which holds.
  Either way the old folder is deleted once the new one is in place, so a
  reader already inside it (listing it, about to open its files) sees its
  files disappear: open what you need from one folder, or retry.

Needs only the standard library (no TensorFlow).
"""

import contextlib
import ctypes
import errno
import json
import os
import secrets
import shutil
import sys

from zfkeras.utils.errors import InputError

TEMP_PREFIX = ".tmp-"
ASIDE_INFIX = ".old-"  # NAME.old-<time>: a replaced folder kept (`aside_name`)


def temporary_name(path):
    """A fresh temporary path beside `path`, ending like `path`.

    The name keeps the target's suffix (``model.keras``, ``.npz``) because
    some writers insist on it, and starts with `TEMP_PREFIX` so that it is
    hidden and recognisable as a leftover.

    Args:
        path: the final path.

    Returns:
        str path in the same folder; nothing is created.
    """
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    return os.path.join(folder, f"{TEMP_PREFIX}{token}-{name}")


def is_temporary(name):
    """Whether a file or folder name is a temporary of this module."""
    return os.path.basename(os.fspath(name)).startswith(TEMP_PREFIX)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _fsync_file(path):
    # Durability: the data reaches the disk before the rename makes it the
    # real file. Directories (a writer may create one) are skipped.
    if os.path.isfile(path):
        with open(path, "rb") as f:
            os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path):
    """Context manager: write to the yielded temporary path, get `path`.

    On success the temporary is renamed onto `path` (replacing it); if the
    block raises, the temporary is removed and `path` is left as it was.
    The parent folder is created if missing.

    Args:
        path: the file to write.

    Yields:
        str: a path that does not exist yet, in the same folder as `path`
        and with the same suffix; the block creates the file there.

    Example:
        >>> with atomic_path("run/model.keras") as tmp:  # doctest: +SKIP
        ...     model.save(tmp)
    """
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        if not os.path.lexists(tmp):
            raise FileNotFoundError(f"atomic_path: nothing was written to the temporary {tmp} for {path}")
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def write_json_atomic(path, data, indent=1):
    """Writes `data` as JSON (sorted keys) to `path`, atomically.

    Args:
        path: the JSON file.
        data: JSON-serialisable object.
        indent: JSON indentation.

    Returns:
        `path`.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=indent, sort_keys=True)
    return path


def _non_empty_dir(path):
    return os.path.isdir(path) and bool(os.listdir(path))


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# errno values meaning "this system or file system cannot exchange"
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without renameat2 (glibc < 2.28)
        return None


def _exchange(first, second):
    """Swaps the names of two existing paths in one step.

    Args:
        first, second: paths on one file system.

    Returns:
        True when swapped; False when the system or file system cannot
        exchange (nothing was changed).

    Raises:
        OSError: the exchange failed for another reason.
    """
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in _NO_EXCHANGE:
        return False
    raise OSError(code, os.strerror(code), os.fspath(first), None, os.fspath(second))


def exchange_supported(folder):
    """Whether folders in `folder` are replaced without a moment of absence.

    Tries an exchange of two empty temporary folders there (see the module
    docstring).

    Args:
        folder: an existing folder.

    Returns:
        bool.
    """
    first, second = temporary_name(os.path.join(folder, "a")), temporary_name(os.path.join(folder, "b"))
    os.makedirs(first)
    os.makedirs(second)
    try:
        return _exchange(first, second)
    finally:
        _remove(first)
        _remove(second)


def aside_name(path, stamp=None, infix=ASIDE_INFIX):
    """A free name beside `path` for its old content: ``NAME.old-<UTC time>``.

    Args:
        path: the folder (or file) being replaced.
        stamp: the time part (default: now, ``YYYYmmddTHHMMSSZ``).
        infix: what goes between the name and the time.

    Returns:
        str path that does not exist (``-2``, ``-3``, ... appended when taken).
    """
    import time

    path = os.path.abspath(os.fspath(path))
    stamp = stamp or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    candidate, n = f"{path}{infix}{stamp}", 1
    while os.path.lexists(candidate):
        n += 1
        candidate = f"{path}{infix}{stamp}-{n}"
    return candidate


def install_directory(tmp, path, replace=False, keep_old=False):
    """Renames the filled folder `tmp` to `path`, in one step where it can.

    Args:
        tmp: a complete folder beside `path` (same file system).
        path: the target.
        replace: allow replacing a non-empty folder at `path`.
        keep_old: the replaced folder is renamed to `aside_name` (kept)
            instead of deleted.

    Returns:
        The path the old folder was moved to (``keep_old``), else None.

    Raises:
        InputError: `path` is a non-empty folder and ``replace`` is False
            (someone filled it meanwhile); `tmp` is left as it was.
    """
    path = os.path.abspath(os.fspath(path))
    if not _non_empty_dir(path):
        os.replace(tmp, path)  # onto nothing, or onto an empty folder
        return None
    if not replace:
        raise InputError(f"{path} was filled by another command meanwhile; nothing was replaced: "
                         "run one command at a time on one folder")
    aside = aside_name(path) if keep_old else None
    if _exchange(tmp, path):
        # one step: the old folder now has the temporary name
        if keep_old:
            os.replace(tmp, aside)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        return aside
    # Two renames: for the instant between them nothing is at `path` (never
    # a partial folder).
    old = aside or temporary_name(path)
    os.replace(path, old)
    os.replace(tmp, path)
    if not keep_old:
        shutil.rmtree(old, ignore_errors=True)
    return aside


@contextlib.contextmanager
def atomic_directory(path, replace=False, keep_old=False, moved=None):
    """Context manager: fill the yielded temporary folder, get folder `path`.

    On success the temporary folder is renamed to `path`; if the block
    raises, it is deleted and `path` is left as it was.

    Args:
        path: the folder to create.
        replace: allow replacing an existing non-empty folder at `path`
            (the old one is deleted after the new one is in place; what a
            reader sees meanwhile: the module docstring).
        keep_old: with ``replace``, the old folder is renamed to
            `aside_name` (``NAME.old-<time>``) instead of deleted.
        moved: a list; the path the old folder was moved to is appended.

    Yields:
        str: an empty temporary folder beside `path`.

    Raises:
        InputError (a ValueError): `path` is a non-empty folder and
            ``replace`` is False, or `path` is a file.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.lexists(path) and not os.path.isdir(path):
        raise InputError(f"{path} exists and is not a folder; remove it or choose another path")
    if _non_empty_dir(path) and not replace:
        raise InputError(f"{path} already exists and is not empty; pass replace=True to replace it")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = temporary_name(path)
    os.makedirs(tmp)
    try:
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                _fsync_file(os.path.join(root, name))
        aside = install_directory(tmp, path, replace=replace, keep_old=keep_old)
        if aside is not None and moved is not None:
            moved.append(aside)
    except BaseException:
        _remove(tmp)
        raise


def remove_temporaries(folder):
    """Deletes the temporaries a killed writer left directly in `folder`.

    Only call it when no other process is writing into `folder`.

    Args:
        folder: the folder to clean (missing folders are fine).

    Returns:
        Sorted list of the names removed.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    removed = sorted(name for name in os.listdir(folder) if is_temporary(name))
    for name in removed:
        _remove(os.path.join(folder, name))
    return removed
