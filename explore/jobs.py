"""Top-k mining for the explorer: reused from the run folder, or computed once in the background.

`MiningJobs.result(session, layer)` answers at once: the layer's top 9
from ``RUN_DIR/mined/`` (`zfkeras.runs.mined.load_top_activations`, with
the parameters this source mines with), from memory, or a progress report
while a background thread mines it (`zfkeras.top_activations` over chunks
of the images, merged by `zfkeras.methods.top_activations.merge_top_activations`) and then
stores it with `zfkeras.runs.mined.save_top_activations`, so the next
TensorBoard, the report and ``zfkeras mine`` reuse it.
"""

import logging
import threading

import numpy as np

logger = logging.getLogger(__name__)

K = 9
CHUNKS = 20  # progress steps of one pass


class MiningError(RuntimeError):
    """Mining failed (the message says why); answered with 500 and the message."""


class _Job:
    def __init__(self):
        self.done, self.total = 0, 1
        self.result = self.error = None
        self.thread = None


def chunk_bounds(count, chunks=CHUNKS, minimum=K):
    """``[(start, stop)]`` covering ``count`` images in at most ``chunks`` parts of at least ``minimum``."""
    parts = max(1, min(chunks, count // minimum))
    edges = np.linspace(0, count, parts + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist()))


def mine(session, layer, progress=None):
    """The top `K` of every map of ``layer`` over the session's images (one pass, in chunks)."""
    from zfkeras.methods.top_activations import merge_top_activations, top_activations

    raw, _ = session.test_raw()
    bounds = chunk_bounds(len(raw))
    parts = []
    for i, (start, stop) in enumerate(bounds):
        x = session.source.preprocess(raw[start:stop])
        with session.lock:
            parts.append(top_activations(session.model, x, [layer], k=K, verbose=0)[layer])
        if progress is not None:
            progress(i + 1, len(bounds))
    return merge_top_activations(parts, k=K, offsets=[start for start, _ in bounds])


class MiningJobs:
    """Mining results and running passes, per (source, layer)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs = {}

    def _params(self, session):
        return dict(session.source.mining_params)

    def result(self, session, layer):
        """``("ready", TopActivations)`` or ``("mining", fraction done)``; starts a pass when needed.

        Raises:
            MiningError: the pass failed.
        """
        from zfkeras.runs.mined import load_top_activations

        key = (session.source.id, layer)
        with self._lock:
            job = self._jobs.get(key)
            if job is None:
                stored = load_top_activations(session.source.folder, layer, k=K, **self._params(session))
                job = self._jobs[key] = _Job()
                if stored is not None:
                    job.result = stored
                else:
                    job.thread = threading.Thread(target=self._run, args=(job, session, layer),
                                                  name=f"zfkeras-mine-{layer}", daemon=True)
                    job.thread.start()
        if job.error is not None:
            raise MiningError(job.error)
        if job.result is not None:
            return "ready", job.result
        return "mining", job.done / job.total

    def _run(self, job, session, layer):
        from zfkeras.runs.mined import save_top_activations

        def progress(done, total):
            job.done, job.total = done, total

        try:
            result = mine(session, layer, progress)
        except Exception as error:  # noqa: BLE001 - reported to the page, logged in full
            logger.exception("zfkeras explorer: mining %s of %s failed", layer, session.source.id)
            job.error = f"mining {layer} failed: {type(error).__name__}: {error}"
            return
        params = dict(self._params(session), num_images=int(len(session.test_raw()[0])))
        try:
            save_top_activations(session.source.folder, layer, result, params)
        except OSError as error:  # a read-only log folder: keep it in memory only
            logger.warning("zfkeras explorer: cannot store the mined %s in %s: %s", layer, session.source.id, error)
        job.result = result
