"""Top-k mining for the explorer: reused from the run folder, or computed once in the background.

`MiningJobs.result(session, layer)` answers at once: the layer's top 9
from ``RUN_DIR/mined/`` (`zfkeras.runs.mined.load_top_activations`, with
the parameters this source mines with), from memory, or a progress report
while a background worker mines it (`zfkeras.top_activations` over chunks
of the images, merged by `zfkeras.methods.top_activations.merge_top_activations`) and then
stores it with `zfkeras.runs.mined.save_top_activations`, so the next
TensorBoard, the report and ``zfkeras mine`` reuse it.

At most `WORKERS` passes run at once and `QUEUE` more wait (one more is
a 503 with a retry hint); each chunk's model call takes a turn of the
explorer's `zfkeras.explore.limits.Gate`, as requests do. A stored result
whose image ids are not among the images is mined again; nothing is
written where the run folder's ``mined/`` resolves outside the run folder
(`zfkeras.explore.sources.write_stays_inside`): then it is kept in memory.
"""

import logging
import threading
from queue import SimpleQueue

import numpy as np

logger = logging.getLogger(__name__)

K = 9
CHUNKS = 20  # progress steps of one pass
WORKERS = 1  # passes at once
QUEUE = 8    # passes waiting; one more is a 503


class MiningError(RuntimeError):
    """Mining failed (the message says why); answered with 500 and the message."""


class _Job:
    def __init__(self):
        self.done, self.total = 0, 1
        self.result = self.error = None


def chunk_bounds(count, chunks=CHUNKS, minimum=K):
    """``[(start, stop)]`` covering ``count`` images in at most ``chunks`` parts of at least ``minimum``."""
    parts = max(1, min(chunks, count // minimum))
    edges = np.linspace(0, count, parts + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def mine(session, layer, progress=None, gate=None):
    """The top `K` of every map of ``layer`` over the session's images (one pass, in chunks).

    Args:
        gate: a `zfkeras.explore.limits.Gate` each chunk waits its turn of (None: none).
    """
    import contextlib

    from zfkeras.methods.top_activations import merge_top_activations, top_activations

    raw, _ = session.test_raw()
    bounds = chunk_bounds(len(raw))
    parts = []
    for i, (start, stop) in enumerate(bounds):
        with gate.turn(f"mining {layer}", patient=True) if gate is not None else contextlib.nullcontext():
            x = session.source.preprocess(raw[start:stop])
            with session.lock:
                parts.append(top_activations(session.model, x, [layer], k=K, verbose=0)[layer])
        if progress is not None:
            progress(i + 1, len(bounds))
    return merge_top_activations(parts, k=K, offsets=[start for start, _ in bounds])


class MiningJobs:
    """Mining results and running passes, per (source, layer)."""

    def __init__(self, gate=None, workers=WORKERS, queue=QUEUE):
        self._lock = threading.Lock()
        self._jobs = {}
        self.gate, self.queue = gate, queue
        # daemon workers (not a ThreadPoolExecutor, whose threads Python joins at exit:
        # a pass under way would keep TensorBoard from quitting)
        self._waiting = SimpleQueue()
        self._workers = [threading.Thread(target=self._work, name=f"zfkeras-mine-{i}", daemon=True)
                         for i in range(workers)]
        self._started = False
        self._pending = 0

    def _work(self):
        while True:
            job, session, layer = self._waiting.get()
            try:
                self._run(job, session, layer)
            except Exception as error:  # noqa: BLE001 - the worker lives on; the page gets the message
                logger.exception("zfkeras explorer: mining %s of %s failed", layer, session.source.id)
                job.error = f"mining {layer} failed: {type(error).__name__}: {error}"

    def _params(self, session):
        return dict(session.source.mining_params)

    def result(self, session, layer):
        """``("ready", TopActivations)`` or ``("mining", fraction done)``; starts a pass when needed.

        Raises:
            MiningError: the pass failed.
            BadRequest: 503, `QUEUE` passes already wait.
        """
        key = (session.source.id, layer)
        with self._lock:
            job = self._jobs.get(key)
        if job is None:
            stored = self._stored(session, layer)
            with self._lock:
                job = self._jobs.get(key)
                if job is None:
                    job = _Job()
                    if stored is not None:
                        job.result = stored
                    else:
                        if self._pending >= self.queue:
                            from zfkeras.explore.limits import RETRY_AFTER
                            from zfkeras.explore.params import BadRequest

                            raise BadRequest(f"the explorer is busy ({self._pending} mining passes waiting); "
                                             f"try again in {RETRY_AFTER} s", status=503, retry_after=RETRY_AFTER)
                        self._pending += 1
                        if not self._started:
                            self._started = True
                            for worker in self._workers:
                                worker.start()
                        self._waiting.put((job, session, layer))
                    self._jobs[key] = job
        if job.error is not None:
            raise MiningError(job.error)
        if job.result is not None:
            return "ready", job.result
        return "mining", job.done / job.total

    def _stored(self, session, layer):
        """The run folder's stored result, or None (missing, stale, or naming images that are not there)."""
        from zfkeras.explore.sources import check_regular_files
        from zfkeras.runs.mined import load_top_activations

        check_regular_files(session.source.folder.path, ("mined",))  # a FIFO there would block np.load
        stored = load_top_activations(session.source.folder, layer, k=K, **self._params(session))
        if stored is None:
            return None
        ids, count = np.asarray(stored.image_ids), len(session.test_raw()[0])
        if ids.size and (ids.min() < 0 or ids.max() >= count):
            logger.warning("zfkeras explorer: the stored top %d of %s in %s name images outside 0..%d: mining "
                           "it again", K, layer, session.source.id, count - 1)
            return None
        return stored

    def _run(self, job, session, layer):
        from zfkeras.explore.sources import write_stays_inside
        from zfkeras.runs.mined import layer_path, save_top_activations

        def progress(done, total):
            job.done, job.total = done, total

        with self._lock:
            self._pending -= 1
        try:
            result = mine(session, layer, progress, self.gate)
        except Exception as error:  # noqa: BLE001 - reported to the page, logged in full
            logger.exception("zfkeras explorer: mining %s of %s failed", layer, session.source.id)
            job.error = f"mining {layer} failed: {type(error).__name__}: {error}"
            return
        params = dict(self._params(session), num_images=int(len(session.test_raw()[0])))
        folder = session.source.folder
        if not write_stays_inside(folder.path, layer_path(folder, layer)):
            logger.warning("zfkeras explorer: %s's mined/ leads out of the run folder: the mined %s is kept "
                           "in memory only", session.source.id, layer)
        else:
            try:
                save_top_activations(folder, layer, result, params)
            except OSError as error:  # a read-only log folder: keep it in memory only
                logger.warning("zfkeras explorer: cannot store the mined %s in %s: %s", layer, session.source.id,
                               error)
        job.result = result
