"""Feature visualisation for the explorer: a unit's and a class's optimised image, in the background.

`VisualizationJobs.result(session, (target, method, steps, seed))` answers
at once, as `zfkeras.explore.jobs.MiningJobs` does for the top 9: the
target's images from ``RUN_DIR/visualized/`` (`zfkeras.runs.visualized`,
reused when made with the same model file, settings and spectrum images),
from memory, or the progress of a background job that optimises them with
`zfkeras.feature_visualization` and then stores them.

A target is a whole layer (`zfkeras.runs.visualized.layer_target`: one
image per feature map, ``Unit(layer, c)``, the map's mean maximised) or
the model's classes (`CLASSES`: one image per class, its score before any
softmax). A whole layer is one job, however many of its maps are asked
for: the library optimises a batch of objectives in one graph, so a map
costs much less in a batch than alone (docs/EXPLORER.md has the
measurement). The job calls the library on `CHUNK` objectives at a time,
each call one progress step and one patient turn of the explorer's gate
(`zfkeras.explore.limits.Gate`), on the session's second copy of the model
(`Session.visualization_model`), so that the top 9, projections and
occlusion never wait for an optimisation; every chunk has the same ``seed``, so a chunk's images are
exactly ``feature_visualization(model, chunk, seed=seed, ...)``'s.

MaCo's magnitude spectrum comes from the source's own images
(`Session.spectrum`: a run's training images, an entry's images), its
valid range from the source's preprocessing (``--preprocess`` of an entry),
grey or colour alike. Defaults: MaCo, `STEPS` steps (the library's 256 are
for a final figure; the explorer's few are for a quick look), seed 0.
"""

import dataclasses
from typing import Optional

import numpy as np

from zfkeras.explore.jobs import BackgroundJobs
from zfkeras.runs.visualized import CLASSES, layer_target  # noqa: F401 - the targets, named once

METHODS = ("maco", "fourier")
METHOD = "maco"
STEPS = 64          # the explorer's default steps (the library's: 256 MaCo, 512 Lucid)
STEPS_ENV = "ZFKERAS_EXPLORE_FV_STEPS"  # sets another default (tests, fast or slow machines)
MAX_STEPS = 512
MAX_SEED = 2 ** 31 - 1
CHUNK = 16          # objectives per library call: a progress step and a gate turn
CROPS = 8           # MaCo's random crops per image and step (the library's 32: 4x the cost)


@dataclasses.dataclass(frozen=True, eq=False)
class Visualized:
    """Optimised images as the explorer keeps them (computed or read back).

    Attributes:
        pixels: uint8 ``(K, H, W, C)``.
        values: float32 ``(K,)``.
        transparency: float32 ``(K, H, W)`` in [0, 1] (MaCo), or None.
        method, steps, seed: the settings that made them.
    """

    pixels: np.ndarray
    values: np.ndarray
    transparency: Optional[np.ndarray]
    method: str
    steps: int
    seed: int

    def entry(self, index):
        """``(pixels (H, W, C), value, transparency (H, W) or None)`` of objective ``index``."""
        alpha = None if self.transparency is None else self.transparency[index]
        return self.pixels[index], float(self.values[index]), alpha


def default_steps():
    """`STEPS`, or the positive int in ``ZFKERAS_EXPLORE_FV_STEPS``."""
    from zfkeras.explore.limits import setting

    return setting(STEPS_ENV, STEPS)


def objectives(session, target):
    """The objectives of ``target``: ``Unit(layer, c)`` for every map, or every class index."""
    from zfkeras import Unit

    if target == CLASSES:
        return list(range(class_count(session)))
    layer = target[len("layer:"):]
    return [Unit(layer, c) for c in range(session.layers[layer][2])]


def class_count(session):
    """How many classes the model's output scores."""
    return int(session.model.outputs[0].shape[-1])


def chunks(count, size=CHUNK):
    """``[(start, stop)]`` covering ``count`` objectives, ``size`` at a time."""
    return [(start, min(count, start + size)) for start in range(0, count, size)]


def visualize(session, target, method=METHOD, steps=STEPS, seed=0, crops=CROPS, chunk=CHUNK, job=None, gate=None):
    """The optimised images of every objective of ``target``, ``chunk`` at a time.

    Args:
        job: a `zfkeras.explore.jobs.Job` or None: its ``progress`` is
            called after each chunk, each chunk's `Visualized` is put in
            its ``partial`` (chunk index -> images) at once, and the chunk
            its ``wanted`` names (the page's map) is optimised next.
        gate: a `zfkeras.explore.limits.Gate` each chunk waits its turn of (None: none).

    Returns:
        `Visualized` of every objective, in order.
    """
    import contextlib

    from zfkeras import feature_visualization

    wanted = objectives(session, target)
    inputs = None
    if method == "maco":
        raw, _ = session.spectrum()
        inputs = session.source.preprocess(raw)
    bounds = chunks(len(wanted), chunk)
    done = {}
    while len(done) < len(bounds):
        asked = None if job is None else job.wanted
        index = asked if asked in range(len(bounds)) and asked not in done else min(
            set(range(len(bounds))) - set(done))
        start, stop = bounds[index]
        with gate.turn(f"visualising {target}", patient=True) if gate is not None else contextlib.nullcontext():
            with session.visualization_lock:
                found = feature_visualization(session.visualization_model(), wanted[start:stop], method=method,
                                              inputs=inputs,
                                              preprocess=session.source.preprocess, steps=steps, seed=seed,
                                              crops=crops, verbose=0)
        done[index] = Visualized(pixels=found.pixels, values=found.values, transparency=found.transparency,
                                 method=method, steps=int(steps), seed=int(seed))
        if job is not None:
            job.partial[index] = done[index]
            job.progress(len(done), len(bounds))
    parts = [done[i] for i in range(len(bounds))]
    alpha = None if parts[0].transparency is None else np.concatenate([p.transparency for p in parts])
    return Visualized(pixels=np.concatenate([p.pixels for p in parts]),
                      values=np.concatenate([p.values for p in parts]), transparency=alpha, method=method,
                      steps=int(steps), seed=int(seed))


class VisualizationJobs(BackgroundJobs):
    """Optimised images per (source, target, method, steps, seed), computed once in the background.

    Args:
        chunk: objectives per library call (`CHUNK`).
        crops: MaCo's crops per image and step (`CROPS`).
    """

    noun = "visualising"
    thread_name = "zfkeras-visualize"

    def __init__(self, gate=None, chunk=CHUNK, crops=CROPS, **kwargs):
        super().__init__(gate, **kwargs)
        self.chunk, self.crops = chunk, crops

    def _describe(self, what):
        target, method, steps, seed = what
        return f"visualising {target} ({method}, {steps} steps, seed {seed})"

    def _params(self, session, what):
        """What else made the images, besides the target and settings (stored, and compared on reuse)."""
        target, method, _, _ = what
        params = {"chunk": self.chunk, "objectives": len(objectives(session, target))}
        if method == "maco":
            params.update(crops=self.crops, spectrum=session.spectrum()[1])
        return params

    def entries(self, session, what, indices):
        """``(job, {index: Visualized.entry(index)})`` of the ``indices`` ready so far (all, once the job is
        done); starts the job when needed. One index not ready yet (the unit view's map) is optimised next
        (`Job.wanted`)."""
        first = indices[0] // self.chunk if len(indices) == 1 else None
        job = self.job(session, what, wanted=first)
        ready = {}
        for index in indices:
            result = job.result  # read once: the worker sets it, then drops the parts
            part = None if result is not None else job.partial.get(index // self.chunk)
            if result is not None:
                ready[index] = result.entry(index)
            elif part is not None:
                ready[index] = part.entry(index % self.chunk)
        if first is not None and not ready:
            job.wanted = first
        return job, ready

    def _stored(self, session, what):
        from zfkeras.explore.sources import check_regular_files
        from zfkeras.runs.visualized import load_visualization

        check_regular_files(session.source.folder.path, ("visualized",))  # a FIFO there would block np.load
        target, method, steps, seed = what
        loaded = load_visualization(session.source.folder, target, method, steps, seed,
                                    **self._params(session, what))
        if loaded is None:
            return None
        arrays, _ = loaded
        if tuple(arrays["pixels"].shape[1:]) != tuple(session.source.input_shape):
            return None
        return Visualized(pixels=arrays["pixels"], values=arrays["values"], transparency=arrays.get("transparency"),
                          method=method, steps=int(steps), seed=int(seed))

    def _compute(self, session, what, job):
        target, method, steps, seed = what
        return visualize(session, target, method, steps, seed, self.crops, self.chunk, job, self.gate)

    def _path(self, session, what):
        from zfkeras.runs.visualized import target_path

        return target_path(session.source.folder, *what)

    def _save(self, session, what, result):
        from zfkeras.runs.visualized import save_visualization

        save_visualization(session.source.folder, what[0], result, self._params(session, what))
