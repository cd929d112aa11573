"""Writing files and folders so that readers never see half of them.

Every writer here works under a temporary name beside the target (same
folder, so the final `os.replace` is an atomic rename on one file system)
and renames it onto the target only when the work succeeded. A process
killed mid-write leaves at most a temporary named ``.tmp-...``, which no
reader takes for the real file and `remove_temporaries` deletes.

Needs only the standard library (no TensorFlow).
"""

import contextlib
import json
import os
import secrets
import shutil

TEMP_PREFIX = ".tmp-"


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


@contextlib.contextmanager
def atomic_directory(path, replace=False):
    """Context manager: fill the yielded temporary folder, get folder `path`.

    On success the temporary folder is renamed to `path`; if the block
    raises, it is deleted and `path` is left as it was.

    Args:
        path: the folder to create.
        replace: allow replacing an existing non-empty folder at `path`
            (the old one is deleted after the new one is in place).

    Yields:
        str: an empty temporary folder beside `path`.

    Raises:
        ValueError: `path` is a non-empty folder and ``replace`` is False,
            or `path` is a file.
    """
    path = os.path.abspath(os.fspath(path))
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ValueError(f"atomic_directory: {path} exists and is not a folder; remove it or choose another path")
    if _non_empty_dir(path) and not replace:
        raise ValueError(
            f"atomic_directory: {path} already exists and is not empty; pass replace=True to replace it"
        )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = temporary_name(path)
    os.makedirs(tmp)
    try:
        yield tmp
        for root, _, files in os.walk(tmp):
            for name in files:
                _fsync_file(os.path.join(root, name))
        if _non_empty_dir(path):
            if not replace:
                raise ValueError(
                    f"atomic_directory: {path} was filled by someone else meanwhile; pass replace=True to replace it"
                )
            # Move the old folder aside (a rename), put the new one in place,
            # then delete the old: a reader sees the old or the new folder.
            old = temporary_name(path)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)  # onto nothing, or onto an empty folder
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
