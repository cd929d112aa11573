"""Background jobs for the explorer (`BackgroundJobs`), and top-k mining, the first of them.

`BackgroundJobs` keeps one `Job` per key: a result read back from the run
folder, or computed once by a daemon worker and then stored there
(`zfkeras.explore.visualization.VisualizationJobs` is the other kind).

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


class JobError(RuntimeError):
    """A background job failed (the message says why); answered with 500 and the message."""


class MiningError(JobError):
    """Mining failed (the message says why); answered with 500 and the message."""


class Job:
    """One result being computed: its progress, what is done so far, and what the page asks for first.

    Attributes:
        done, total: progress steps.
        result: the whole result once ready (None until then).
        error: the failure's one-line message, or None.
        partial: parts ready before the whole (a job's own; e.g. chunk index -> images).
        wanted: what the last request asked for (a job may compute it first).
    """

    def __init__(self):
        self.done, self.total = 0, 1
        self.result = self.error = None
        self.partial, self.wanted = {}, None

    def progress(self, done, total):
        self.done, self.total = done, total


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


class BackgroundJobs:
    """Results per key, from the run folder, from memory, or computed once by a background worker.

    A subclass names what it computes (``what``: a layer, a target and its
    settings) and says how: ``_key(session, what)``, ``_stored(session,
    what)`` (the run folder's result or None), ``_compute(session, what,
    job)`` (calling ``job.progress(done, total)`` as it goes, taking its own
    gate turns; it may publish parts in ``job.partial``), ``_path(session,
    what)`` (where it is stored) and ``_save(session, what, result)``. `result` answers at once; the worker stores the result
    where `write_stays_inside` allows it, else keeps it in memory only.

    At most ``workers`` jobs run at once and ``queue`` more wait (one more
    is a 503 with a retry hint).
    """

    noun = "job"                 # in messages: "mining", "visualising"
    error_type = JobError
    thread_name = "zfkeras-job"

    def __init__(self, gate=None, workers=WORKERS, queue=QUEUE):
        self._lock = threading.Lock()
        self._jobs = {}
        self.gate, self.queue = gate, queue
        # daemon workers (not a ThreadPoolExecutor, whose threads Python joins at exit:
        # a job under way would keep TensorBoard from quitting)
        self._waiting = SimpleQueue()
        self._workers = [threading.Thread(target=self._work, name=f"{self.thread_name}-{i}", daemon=True)
                         for i in range(workers)]
        self._started = False
        self._pending = 0

    # -- what a subclass says ---------------------------------------------------

    def _key(self, session, what):
        return (session.source.id, what)

    def _describe(self, what):
        return f"{self.noun} {what}"

    def _stored(self, session, what):
        return None

    def _compute(self, session, what, job):
        raise NotImplementedError

    def _path(self, session, what):
        raise NotImplementedError

    def _save(self, session, what, result):
        raise NotImplementedError

    # -- the machinery ----------------------------------------------------------

    def _work(self):
        while True:
            job, session, what = self._waiting.get()
            try:
                self._run(job, session, what)
            except Exception as error:  # noqa: BLE001 - the worker lives on; the page gets the message
                logger.exception("zfkeras explorer: %s of %s failed", self._describe(what), session.source.id)
                job.error = f"{self._describe(what)} failed: {type(error).__name__}: {error}"

    def result(self, session, what):
        """``("ready", result)`` or ``("running", fraction done)``; starts a job when needed (`job`)."""
        job = self.job(session, what)
        if job.result is not None:
            return "ready", job.result
        return "running", job.done / job.total

    def job(self, session, what, wanted=None):
        """The `Job` of ``what``: done (read back from the run folder or computed) or under way; started
        when needed, with ``wanted`` as its `Job.wanted` (set before its worker can look).

        Raises:
            JobError: the job failed (`error_type`).
            BadRequest: 503, ``queue`` jobs already wait.
        """
        key = self._key(session, what)
        with self._lock:
            job = self._jobs.get(key)
        if job is None:
            stored = self._stored(session, what)
            with self._lock:
                job = self._jobs.get(key)
                if job is None:
                    job = Job()
                    job.wanted = wanted
                    if stored is not None:
                        job.result = stored
                    else:
                        if self._pending >= self.queue:
                            from zfkeras.explore.limits import RETRY_AFTER
                            from zfkeras.explore.params import BadRequest

                            raise BadRequest(f"the explorer is busy ({self._pending} {self.noun} jobs waiting); "
                                             f"try again in {RETRY_AFTER} s", status=503, retry_after=RETRY_AFTER)
                        self._pending += 1
                        if not self._started:
                            self._started = True
                            for worker in self._workers:
                                worker.start()
                        self._waiting.put((job, session, what))
                    self._jobs[key] = job
        if job.error is not None:
            raise self.error_type(job.error)
        return job

    def _run(self, job, session, what):
        from zfkeras.explore.sources import write_stays_inside

        with self._lock:
            self._pending -= 1
        try:
            result = self._compute(session, what, job)
        except Exception as error:  # noqa: BLE001 - reported to the page, logged in full
            logger.exception("zfkeras explorer: %s of %s failed", self._describe(what), session.source.id)
            job.error = f"{self._describe(what)} failed: {type(error).__name__}: {error}"
            return
        folder = session.source.folder
        if not write_stays_inside(folder.path, self._path(session, what)):
            logger.warning("zfkeras explorer: %s's %s leads out of the run folder: the result of %s is kept in "
                           "memory only", session.source.id, self._path(session, what).parent.name,
                           self._describe(what))
        else:
            try:
                self._save(session, what, result)
            except OSError as error:  # a read-only log folder: keep it in memory only
                logger.warning("zfkeras explorer: cannot store the result of %s in %s: %s", self._describe(what),
                               session.source.id, error)
        job.result = result
        job.partial = {}  # the whole result holds them


class MiningJobs(BackgroundJobs):
    """Mining results and running passes, per (source, layer)."""

    noun = "mining"
    error_type = MiningError
    thread_name = "zfkeras-mine"

    def _describe(self, layer):
        return f"mining {layer}"

    def _params(self, session):
        return dict(session.source.mining_params)

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

    def _compute(self, session, layer, job):
        return mine(session, layer, job.progress, self.gate)

    def _path(self, session, layer):
        from zfkeras.runs.mined import layer_path

        return layer_path(session.source.folder, layer)

    def _save(self, session, layer, result):
        from zfkeras.runs.mined import save_top_activations

        params = dict(self._params(session), num_images=int(len(session.test_raw()[0])))
        save_top_activations(session.source.folder, layer, result, params)
