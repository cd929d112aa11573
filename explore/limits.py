"""What bounds the explorer's work and memory: a gate, an LRU cache, memory trimming.

`Gate` lets at most ``workers`` heavy requests (loading a model, uploads,
projections, occlusion, mining chunks) compute at once and at most
``queue`` more wait for a turn; one more is refused at once with 503 and
a ``Retry-After`` hint (`BadRequest` with ``status=503``), as is one that
waited `WAIT_SECONDS` in vain. Once the gate has been idle for
`IDLE_SECONDS` after a burst, `trim_memory` (in a timer thread, off the
requests' path) hands freed memory back to the operating system.

`LRUCache` keeps the last ``size`` loaded sessions (each a model and its
images); the least recently used is dropped when another is loaded.
Standard library only.
"""

import ctypes
import ctypes.util
import gc
import os
import threading
from collections import OrderedDict

from zfkeras.explore.params import BadRequest

WORKERS_ENV, QUEUE_ENV, SESSIONS_ENV = "ZFKERAS_EXPLORE_WORKERS", "ZFKERAS_EXPLORE_QUEUE", "ZFKERAS_EXPLORE_SESSIONS"
WORKERS = 2          # heavy requests computing at once (the model calls share the CPU cores anyway)
QUEUE = 16           # heavy requests waiting for a turn; one more is a 503
SESSIONS = 4         # loaded models kept (each also holds up to ~512 MB of test images)
WAIT_SECONDS = 60.0  # a request that waited this long for a turn is answered 503
RETRY_AFTER = 2      # seconds, the hint a 503 carries
IDLE_SECONDS = 0.5   # the gate trims memory once it has been idle this long


def setting(name, default):
    """A positive int from the environment variable ``name``, else ``default``."""
    value = os.environ.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and int(value) > 0 else default


def trim_memory():
    """Collects garbage and returns freed heap pages to the operating system.

    Why: a decoded 25-megapixel upload or a batch of projections is freed
    by Python and numpy, but glibc's allocator keeps the pages (arenas of
    other threads above all), so TensorBoard's resident memory would only
    grow; ``malloc_trim(0)`` gives them back. Elsewhere than glibc: only
    the garbage collection.

    Returns:
        True when ``malloc_trim`` ran.
    """
    gc.collect()
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


_LIBC = []


def _libc():
    if not _LIBC:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
            libc = None
        _LIBC.append(libc)
    return _LIBC[0]


class Gate:
    """At most ``workers`` holders at once and ``queue`` waiting; more is a 503.

    Use as ``with gate.turn(what): ...``.

    Args:
        workers: holders at once.
        queue: waiters at most.
        wait_seconds: the longest a waiter waits before its 503.
        on_idle: called in a timer thread once the gate has been idle
            for ``idle_seconds`` after some work.
    """

    def __init__(self, workers=None, queue=None, wait_seconds=WAIT_SECONDS, on_idle=trim_memory,
                 idle_seconds=IDLE_SECONDS):
        self.workers = workers or setting(WORKERS_ENV, WORKERS)
        self.queue = queue if queue is not None else setting(QUEUE_ENV, QUEUE)
        self.wait_seconds, self.idle_seconds = wait_seconds, idle_seconds
        self.on_idle = on_idle
        self._timer = None
        self.trims = 0
        self._condition = threading.Condition()
        self.running = self.waiting = 0
        self.refused = 0
        self._local = threading.local()

    def _busy(self, what, why):
        self.refused += 1
        return BadRequest(f"the explorer is busy ({why}); {what} was not started: try again in "
                          f"{RETRY_AFTER} s", status=503, retry_after=RETRY_AFTER)

    def turn(self, what="the request", patient=False):
        """A context manager holding a turn; ``patient``: wait as long as it takes, outside the queue
        (the mining workers, themselves bounded)."""
        return _Turn(self, what, patient)

    def _enter(self, what, patient=False):
        depth = getattr(self._local, "depth", 0)
        if depth:  # a holder asking again (a route that loads a model) keeps its turn
            self._local.depth = depth + 1
            return
        with self._condition:
            if patient:
                self._condition.wait_for(lambda: self.running < self.workers)
            elif self.running >= self.workers:
                if self.waiting >= self.queue:
                    raise self._busy(what, f"{self.running} computing, {self.waiting} waiting")
                self.waiting += 1
                try:
                    if not self._condition.wait_for(lambda: self.running < self.workers, self.wait_seconds):
                        raise self._busy(what, f"no turn within {self.wait_seconds:g} s")
                finally:
                    self.waiting -= 1
            self.running += 1
        self._local.depth = 1

    def _leave(self):
        self._local.depth -= 1
        if self._local.depth:
            return
        with self._condition:
            self.running -= 1
            self._condition.notify_all()
            if self.running == 0 and self.waiting == 0 and self.on_idle is not None and self._timer is None:
                self._timer = threading.Timer(self.idle_seconds, self._idle)
                self._timer.daemon = True
                self._timer.start()

    def _idle(self):
        with self._condition:
            self._timer = None
            if self.running or self.waiting:
                return  # busy again: the next idle moment trims
        self.on_idle()
        self.trims += 1


class _Turn:
    def __init__(self, gate, what, patient):
        self.gate, self.what, self.patient = gate, what, patient

    def __enter__(self):
        self.gate._enter(self.what, self.patient)
        return self

    def __exit__(self, *exc):
        self.gate._leave()
        return False


class LRUCache:
    """``key -> value``, at most ``size`` entries, the least recently used dropped first.

    Args:
        size: entries kept.
        on_drop: called with each dropped value (outside the lock).
    """

    def __init__(self, size=None, on_drop=None):
        self.size = size or setting(SESSIONS_ENV, SESSIONS)
        self.on_drop = on_drop
        self._lock = threading.Lock()
        self._items = OrderedDict()

    def get(self, key):
        """The value, marked as used, or None."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            dropped = []
            while len(self._items) > self.size:
                dropped.append(self._items.popitem(last=False)[1])
        for old in dropped:
            if self.on_drop is not None:
                self.on_drop(old)
        return value

    def keys(self):
        with self._lock:
            return list(self._items)

    def __len__(self):
        with self._lock:
            return len(self._items)
