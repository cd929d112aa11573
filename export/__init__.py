"""SavedModels that classify, return layer features and serve deconvnet projections.

``zfkeras export RUN_DIR OUT_DIR`` and `export_model` / `export_run` write
``OUT_DIR/<version>/`` for TensorFlow Serving; the SavedModel loads with
TensorFlow alone (see docs/EXPORT.md). Names are imported lazily, so that
``zfkeras export --help`` does not import TensorFlow.
"""

from zfkeras.utils.lazy import lazy_exports

_EXPORTS = {
    "export_model": "zfkeras.export.archive",
    "export_run": "zfkeras.export.archive",
    "next_version": "zfkeras.export.archive",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
