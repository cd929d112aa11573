"""`Explanation`: what every method of `zfkeras.explain` returns."""

import dataclasses
import types
from typing import Any, Mapping, Optional, Union

import numpy as np

from zfkeras.methods.registry import get_method
from zfkeras.methods.unit import Unit
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.validation import quote

__all__ = ["Explanation"]


def _frozen_array(array, dtype="float32", name="maps"):
    try:
        array = np.array(array, dtype=dtype, copy=True)
    except (TypeError, ValueError):
        raise InputTypeError(f"Explanation(): {name} must be an array of numbers; got {quote(array)}") from None
    array.setflags(write=False)
    return array


def _targets(targets, maps_shape):
    """Class targets as read-only int64 ``(N,)`` (one int is every image's)."""
    n = maps_shape[0]
    array = np.asarray(targets)
    if array.ndim == 0:
        array = np.full(n, array)
    if array.shape != (n,):
        raise InputError(f"Explanation(): targets must be a zfkeras.Unit, an int or one class index per map "
                         f"(the maps are {maps_shape}); got shape {array.shape}: {quote(targets)}")
    if not np.issubdtype(array.dtype, np.integer):
        raise InputTypeError(f"Explanation(): targets must be class indices (ints); got dtype {array.dtype}: "
                             f"{quote(targets)}")
    if (array < 0).any():
        raise InputError(f"Explanation(): targets must be class indices >= 0; got {quote(targets)}")
    return _frozen_array(array, "int64", "targets")


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
    One can be made of maps computed elsewhere (for `zfkeras.faithfulness`,
    say); the fields are checked then.

    Raises:
        InputError: an unregistered method, maps not ``(N, H, W)``,
            attributions not ``(N, H, W, C)`` of the same images, targets
            not one class index per map.
    """

    method: str
    maps: np.ndarray
    attributions: Optional[np.ndarray]
    targets: Union[np.ndarray, Unit]
    options: Mapping[str, Any]
    channel_rule: str

    def __post_init__(self):
        # the registry's name, so that every consumer can look the method up (signed maps, ...)
        object.__setattr__(self, "method", get_method(self.method).name)
        maps = _frozen_array(self.maps)
        if maps.ndim != 3:
            raise InputError(f"Explanation(): maps must be (N, H, W), one map per image; got shape {maps.shape}")
        object.__setattr__(self, "maps", maps)
        if self.attributions is not None:
            attributions = _frozen_array(self.attributions, name="attributions")
            if attributions.ndim != 4 or attributions.shape[:3] != maps.shape:
                raise InputError(f"Explanation(): attributions must be (N, H, W, C) with the maps' {maps.shape}; "
                                 f"got shape {attributions.shape}")
            object.__setattr__(self, "attributions", attributions)
        if not isinstance(self.targets, Unit):
            object.__setattr__(self, "targets", _targets(self.targets, maps.shape))
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
