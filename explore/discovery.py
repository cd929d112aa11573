"""Which folders under the log folder the explorer shows, and nothing else.

A *source* is a run folder ``zfkeras train`` wrote (`zfkeras.runs.layout`:
its configuration beside a model or checkpoints) or an entry ``zfkeras
explore`` prepared (`zfkeras.explore.entry.ENTRY_FILE`). `Discovery` finds
them by a walk bounded in depth that never follows symbolic links nor
enters a run's own data folders, and keeps the answer a few seconds, so
TensorBoard's frequent ``is_active`` calls cost a cached lookup.

`Discovery.resolve` is the only way a request names a source: the id must
be a relative path of plain components (no ``..``, no absolute path, no
backslash) whose real path lies inside the log folder (a symbolic link out
of it is refused) and that the walk found. Standard library only.
"""

import os
import threading
import time

from zfkeras.explore.entry import ENTRY_FILE
from zfkeras.explore.params import BadRequest, text
from zfkeras.runs import layout

MAX_DEPTH = 4
CACHE_SECONDS = 5.0
# Folders of a run that hold no run: never walked into.
_SKIP = {layout.CHECKPOINTS, layout.LOGS, layout.EVOLUTION, layout.REPORT, layout.MINED, "export", "__pycache__"}


def source_kind(folder):
    """``"run"``, ``"entry"`` or None for one folder (two ``stat`` calls or so)."""
    if os.path.isfile(os.path.join(folder, ENTRY_FILE)):
        return "entry"
    if os.path.isfile(os.path.join(folder, layout.CONFIG)) and (
            os.path.isfile(os.path.join(folder, layout.MODEL))
            or os.path.isdir(os.path.join(folder, layout.CHECKPOINTS))):
        return "run"
    return None


def find_sources(logdir, max_depth=MAX_DEPTH):
    """``{id: kind}`` of every source under ``logdir`` (ids: relative posix paths, ``"."`` for logdir itself)."""
    found = {}
    root = os.path.realpath(logdir)

    def walk(folder, rel, depth):
        kind = source_kind(folder)
        if kind is not None:
            found[rel or "."] = kind
        if depth >= max_depth:
            return
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(".") or entry.name in _SKIP:
                continue
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            walk(entry.path, f"{rel}/{entry.name}" if rel else entry.name, depth + 1)

    if os.path.isdir(root):
        walk(root, "", 0)
    return found


class Discovery:
    """The sources under one log folder, re-scanned at most every `CACHE_SECONDS`.

    Args:
        logdir: the log folder TensorBoard serves (None: no source).
    """

    def __init__(self, logdir, cache_seconds=CACHE_SECONDS, clock=time.monotonic):
        self.logdir = None if not logdir else os.path.realpath(os.path.expanduser(logdir))
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._found, self._when = {}, None

    def sources(self, refresh=False):
        """``{id: kind}``, cached."""
        if self.logdir is None:
            return {}
        with self._lock:
            now = self._clock()
            if refresh or self._when is None or now - self._when > self._cache_seconds:
                self._found, self._when = find_sources(self.logdir), now
            return dict(self._found)

    def resolve(self, args):
        """The request's ``run`` parameter -> ``(id, absolute path, kind)``.

        Raises:
            BadRequest: not a plain relative path inside the log folder, or not a source.
        """
        run_id = text(args, "run")
        parts = run_id.split("/")
        if ("\\" in run_id or run_id.startswith("/") or os.path.isabs(run_id) or ":" in parts[0]
                or any(part in ("", "..") or (part == "." and run_id != ".") for part in parts)):
            raise BadRequest(f"run {run_id[:80]!r} must be a relative path inside the log folder, "
                             "as the run list gives it")
        if self.logdir is None:
            raise BadRequest("TensorBoard was started without a --logdir: there is no run")
        path = os.path.realpath(os.path.join(self.logdir, run_id))
        if os.path.commonpath([path, self.logdir]) != self.logdir:
            raise BadRequest(f"run {run_id[:80]!r} leaves the log folder")
        sources = self.sources()
        if run_id not in sources:
            sources = self.sources(refresh=True)
        if run_id not in sources:
            raise BadRequest(f"no zfkeras run or explore entry {run_id[:80]!r} under the log folder")
        return run_id, path, sources[run_id]
