"""Real faults for the safety tests (a helper module): another user, a full disk, file digests.

We run as root, and root reads a mode-000 file and writes a read-only
folder. So "unreadable" and "read-only" are made real by running the
command as the unprivileged user ``nobody`` (`as_nobody`: ``setpriv``
drops to uid/gid 65534 with no groups) in a folder it may read
(`shared_folder`, under /tmp with mode 755). A full disk is a 64 KiB
tmpfs (`full_disk`). docs/RELIABILITY.md lists what each case uses.
"""

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from tests.subprocess_helpers import quiet_env

NOBODY = 65534


def tree_digests(root):
    """``{relative path: sha256}`` of every file under `root` (what a test checks survived).

    A FIFO or other special file is listed by its kind (opening one would block).
    """
    import stat

    digests = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if not stat.S_ISREG(mode):
                digests[os.path.relpath(path, root)] = f"special {stat.S_IFMT(mode):o}"
                continue
            with open(path, "rb") as f:
                digests[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digests


@contextlib.contextmanager
def shared_folder():
    """A fresh folder under /tmp that ``nobody`` may read (mode 755, owned by root); removed after."""
    path = tempfile.mkdtemp(prefix="zfkeras-fault-", dir="/tmp")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def open_to_all(path):
    """Makes `path` (a file or a tree) readable by every user (dirs 755, files 644)."""
    for folder, _, names in os.walk(path):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o644)
    if os.path.isfile(path):
        os.chmod(path, 0o644)


def give_to_nobody(path):
    """Makes `path` (a folder, recursively) owned by ``nobody``: writable for `as_nobody`."""
    for folder, _, names in os.walk(path):
        os.chown(folder, NOBODY, NOBODY)
        for name in names:
            os.chown(os.path.join(folder, name), NOBODY, NOBODY)


def zfkeras(*args, user=None, cwd=None, timeout=300, env=None):
    """Runs ``python -m zfkeras ARGS`` (as ``nobody`` when ``user="nobody"``).

    Returns:
        `subprocess.CompletedProcess` with text stdout and stderr.
    """
    command = [sys.executable, "-m", "zfkeras", *map(str, args)]
    environment = dict(quiet_env(), **(env or {}))
    if user == "nobody":
        home = tempfile.mkdtemp(prefix="zfkeras-nobody-home-", dir="/tmp")
        os.chown(home, NOBODY, NOBODY)
        environment.update(HOME=home, MPLCONFIGDIR=home, KERAS_HOME=os.path.join(home, ".keras"))
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
        try:
            return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment,
                                  timeout=timeout)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=timeout)


def one_line_user_error(result, prog):
    """Asserts a user error: exit 2, one ``prog: error:`` line, no traceback; returns that line."""
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-4000:])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr[-4000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(lines) == 1, result.stderr[-4000:]
    return lines[0]


@contextlib.contextmanager
def _tmpfs(prefix, options):
    """A tmpfs mounted with `options` on a new folder, unmounted and removed after."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], check=False)
        os.rmdir(path)


def full_disk(size="64k"):
    """A mounted tmpfs of `size` (a disk that fills at once), unmounted after."""
    return _tmpfs("zfkeras-full-", f"size={size},mode=0777")


def read_only_mount(size="1m"):
    """A tmpfs mounted read-only (EROFS even for root), unmounted after."""
    return _tmpfs("zfkeras-ro-", f"size={size},ro")
