"""`Explanation`: what every method of `zfkeras.explain` returns."""

import dataclasses
import types
from typing import Any, Mapping, Optional, Union

import numpy as np

from zfkeras.methods.unit import Unit

__all__ = ["Explanation"]


def _frozen_array(array, dtype="float32"):
    array = np.array(array, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


@dataclasses.dataclass(frozen=True, eq=False)
class Explanation:
    """One method's explanation of a batch of images.

    Attributes:
        method: the method's registered name (``"grad_cam"``, ...).
        maps: float32 ``(N, H, W)`` at the image size: the attributions
            with their channels reduced by ``channel_rule``, or the method's
            own map (Grad-CAM, occlusion). Larger is more important.
        attributions: float32 ``(N, H, W, C)`` per-channel attributions for
            methods that have them (the backward rules, guided Grad-CAM),
            None for methods whose result is a map only (Grad-CAM,
            occlusion).
        targets: what was explained: int64 ``(N,)`` class indices, or the
            `zfkeras.Unit`.
        options: the method's options as used (defaults filled in).
        channel_rule: how ``maps`` was made from the channels.

    Arrays are read-only: an `Explanation` is a record of what was computed.
    """

    method: str
    maps: np.ndarray
    attributions: Optional[np.ndarray]
    targets: Union[np.ndarray, Unit]
    options: Mapping[str, Any]
    channel_rule: str

    def __post_init__(self):
        object.__setattr__(self, "maps", _frozen_array(self.maps))
        if self.attributions is not None:
            object.__setattr__(self, "attributions", _frozen_array(self.attributions))
        if not isinstance(self.targets, Unit):
            object.__setattr__(self, "targets", _frozen_array(self.targets, "int64"))
        object.__setattr__(self, "options", types.MappingProxyType(dict(self.options)))

    def _repr_png_(self):
        """A small figure of the maps (Jupyter shows it; `zfkeras.plot.explanations`)."""
        from zfkeras.plot.inline import repr_png

        return repr_png(self)

    def __len__(self):
        return len(self.maps)

    def __repr__(self):
        n, h, w = self.maps.shape
        target = str(self.targets) if isinstance(self.targets, Unit) else (
            f"classes {self.targets.tolist()}" if n <= 8 else f"{n} classes")
        per_channel = "" if self.attributions is None else f" + attributions {self.attributions.shape[1:]}"
        return f"<Explanation {self.method!r}: {n} maps {h}x{w}{per_channel}, {target}>"
