"""Which folders under the log folder the explorer shows, and nothing else.

A *source* is a run folder ``zfkeras train`` wrote (`zfkeras.runs.layout`:
its configuration beside a model or checkpoints) or an entry ``zfkeras
explore`` prepared (`zfkeras.explore.entry.ENTRY_FILE`). `Discovery` finds
them by a walk bounded in depth (`MAX_DEPTH`) and size (`MAX_ENTRIES`)
that never enters a run's own data folders, and keeps the answer
`CACHE_SECONDS`, so TensorBoard's frequent ``is_active`` calls, and
requests naming an unknown run, cost a cached lookup (a forced rescan, the
run list's, at most once every `REFRESH_SECONDS`).

Symbolic links are treated as TensorBoard treats them: a link placed in
the log folder is followed, whether it is a whole run (``logdir/b ->
/data/exp/b``) or a file or folder inside one; a link back to a folder
being walked is skipped. Whoever can place links in the log folder
decides what TensorBoard, and the explorer, read. The explorer never
writes outside a run's folder as resolved (`sources.write_stays_inside`).

`Discovery.resolve` is the only way a request names a source: the id must
be a relative path of plain components (no ``..``, no absolute path, no
backslash) that the walk found. Standard library only.
"""

import os
import threading
import time

from zfkeras.explore.entry import ENTRY_FILE
from zfkeras.explore.params import BadRequest, text
from zfkeras.runs import layout

MAX_DEPTH = 4
MAX_ENTRIES = 20000    # directory entries one walk looks at, at most
CACHE_SECONDS = 5.0
REFRESH_SECONDS = 1.0  # a forced rescan (the run list) at most this often
# Folders of a run that hold no run: never walked into.
_SKIP = {layout.CHECKPOINTS, layout.LOGS, layout.EVOLUTION, layout.REPORT, layout.MINED, layout.VISUALIZED,
         "export", "__pycache__"}


def source_kind(folder):
    """``"run"``, ``"entry"`` or None for one folder (two ``stat`` calls or so)."""
    if os.path.isfile(os.path.join(folder, ENTRY_FILE)):
        return "entry"
    if os.path.isfile(os.path.join(folder, layout.CONFIG)) and (
            os.path.isfile(os.path.join(folder, layout.MODEL))
            or os.path.isdir(os.path.join(folder, layout.CHECKPOINTS))):
        return "run"
    return None


def find_sources(logdir, max_depth=MAX_DEPTH, max_entries=MAX_ENTRIES):
    """``{id: kind}`` of every source under ``logdir`` (ids: relative posix paths, ``"."`` for logdir itself).

    Follows symbolic links to folders (not into a folder it is walking:
    no cycle), at most ``max_depth`` levels and ``max_entries`` entries.
    """
    found = {}
    root = os.path.realpath(logdir)
    budget = [max_entries]

    def walk(folder, rel, depth, ancestors):
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
            budget[0] -= 1
            if budget[0] < 0:
                return
            if entry.name.startswith(".") or entry.name in _SKIP:
                continue
            try:
                if not entry.is_dir(follow_symlinks=True):
                    continue
                real = os.path.realpath(entry.path)
            except OSError:
                continue
            if real in ancestors:  # a link back up: a cycle
                continue
            walk(entry.path, f"{rel}/{entry.name}" if rel else entry.name, depth + 1, ancestors | {real})

    if os.path.isdir(root):
        walk(root, "", 0, frozenset([root]))
    return found


class Discovery:
    """The sources under one log folder, re-scanned at most every `CACHE_SECONDS`.

    Args:
        logdir: the log folder TensorBoard serves (None: no source).
    """

    def __init__(self, logdir, cache_seconds=CACHE_SECONDS, clock=time.monotonic, refresh_seconds=REFRESH_SECONDS):
        self.logdir = None if not logdir else os.path.realpath(os.path.expanduser(logdir))
        self._cache_seconds, self._refresh_seconds = cache_seconds, refresh_seconds
        self.scans = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._found, self._when = {}, None

    def sources(self, refresh=False):
        """``{id: kind}``, cached `CACHE_SECONDS` (``refresh``: `REFRESH_SECONDS`)."""
        if self.logdir is None:
            return {}
        with self._lock:
            now = self._clock()
            age = None if self._when is None else now - self._when
            if age is None or age > (self._refresh_seconds if refresh else self._cache_seconds):
                self._found, self._when = find_sources(self.logdir), now
                self.scans += 1
            return dict(self._found)

    def resolve(self, args):
        """The request's ``run`` parameter -> ``(id, absolute path, kind)``.

        Raises:
            BadRequest: not a plain relative path, or not a source the walk found.
        """
        run_id = text(args, "run")
        parts = run_id.split("/")
        if ("\\" in run_id or run_id.startswith("/") or os.path.isabs(run_id) or ":" in parts[0]
                or any(part in ("", "..") or (part == "." and run_id != ".") for part in parts)):
            raise BadRequest(f"run {run_id[:80]!r} must be a relative path inside the log folder, "
                             "as the run list gives it")
        if self.logdir is None:
            raise BadRequest("TensorBoard was started without a --logdir: there is no run")
        sources = self.sources()  # an unknown id costs no rescan: the cache is at most CACHE_SECONDS old
        if run_id not in sources:
            raise BadRequest(f"no zfkeras run or explore entry {run_id[:80]!r} under the log folder")
        # the run folder as resolved: links placed in the log folder followed, as TensorBoard does
        return run_id, os.path.realpath(os.path.join(self.logdir, run_id)), sources[run_id]
