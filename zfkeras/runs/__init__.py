"""The run folder: what ``zfkeras train`` writes and every tool reads.

* `layout`: every file and folder name, defined once (`RunLayout` paths);
* `writer`: `RunWriter`, how the trainer and ``zfkeras ablate`` write them;
* `folder`: `RunFolder`, how every tool reads them (the public face,
  ``zfkeras.RunFolder``);
* `preprocessing`, `sources`, `splits`: a run's input preprocessing, its
  raw images and its split plan;
* `outputs`: where every verb writes, checked before the work and
  replaced without loss (docs/RELIABILITY.md).

Importing this package does not import TensorFlow.
"""

from zfkeras.utils.lazy import lazy_exports

_EXPORTS = {
    "RunFolder": "zfkeras.runs.folder",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
