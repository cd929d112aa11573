"""The run folder: what ``zfkeras train`` writes and every tool reads.

`RunFolder` is the public face (``zfkeras.RunFolder``). Importing this
package does not import TensorFlow.
"""

from zfkeras._lazy import lazy_exports

_EXPORTS = {
    "RunFolder": "zfkeras.runs.folder",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
