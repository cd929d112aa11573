"""`Unit`: the one selector of a unit (one feature map, or one neuron of it).

Every entry point that explains or measures a unit takes a `Unit`:
`zfkeras.explain(..., targets=Unit(...))`, `Deconvnet.project`, unit
Grad-CAM, `occlusion_drop`, occlusion's layer activity and (later) feature
visualisation. ``Unit("conv5", 3)`` is feature map 3 of ``conv5`` at its
strongest position in each image; ``Unit("conv5", 3, position=(4, 7))`` is
one neuron. ``channel`` and ``position`` may also give one value per image
(``[3, 8, 1]``; ``[(4, 7), (0, 2), (5, 5)]``), as the top-9 projections
need. Plain Python: no TensorFlow import.
"""

import dataclasses
import numbers
import warnings
from typing import Optional, Tuple, Union

from zfkeras.utils.errors import InputError, InputTypeError

__all__ = ["Unit", "as_unit"]


def _int(value, what, unit_text):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer() and not isinstance(value, bool):
            value = int(value)
        else:
            raise InputTypeError(f"{what} must be an integer; got {value!r} in {unit_text}")
    if value < 0:
        raise InputError(f"{what} must be >= 0; got {value!r} in {unit_text}")
    return int(value)


def _pair(value, unit_text):
    try:
        y, x = value
    except (TypeError, ValueError):
        raise InputError(f"a position must be a (y, x) pair; got {value!r} in {unit_text}") from None
    return (_int(y, "position y", unit_text), _int(x, "position x", unit_text))


@dataclasses.dataclass(frozen=True)
class Unit:
    """One unit of a layer: a feature map, or one neuron of it.

    Args:
        layer: the layer's name (``outer/inner/layer`` inside nested models).
        channel: the feature map: an int, or one int per image.
        position: None (each image's strongest position of the map), a
            ``(y, x)`` pair, or one ``(y, x)`` pair per image.

    Sequences are stored as tuples, so a `Unit` is immutable and hashable.
    """

    layer: str
    channel: Union[int, Tuple[int, ...]]
    position: Optional[Union[Tuple[int, int], Tuple[Tuple[int, int], ...]]] = None

    def __post_init__(self):
        text = f"Unit(layer={self.layer!r}, channel={self.channel!r}, position={self.position!r})"
        if not isinstance(self.layer, str) or not self.layer:
            raise InputTypeError(f"a unit's layer must be a layer name (a non-empty str); got {text}")
        channel = self.channel
        if hasattr(channel, "tolist"):  # numpy scalars and arrays
            channel = channel.tolist()
        if isinstance(channel, (list, tuple)):
            channel = tuple(_int(c, "channel", text) for c in channel)
            if not channel:
                raise InputError(f"a unit's channel list is empty; got {text}")
        else:
            channel = _int(channel, "channel", text)
        position = self.position
        if hasattr(position, "tolist"):
            position = position.tolist()
        if position is not None:
            if (isinstance(position, (list, tuple)) and position
                    and not any(isinstance(p, (numbers.Number, str)) for p in position)):  # one pair per image
                position = tuple(_pair(p, text) for p in position)
            else:
                position = _pair(position, text)
        object.__setattr__(self, "channel", channel)
        object.__setattr__(self, "position", position)

    @property
    def per_image(self):
        """True when ``channel`` or ``position`` gives one value per image."""
        return isinstance(self.channel, tuple) or (
            self.position is not None and isinstance(self.position[0], tuple))

    def channels(self, count):
        """The channel of each of ``count`` images, as a list of ints.

        Raises:
            InputError: a per-image channel list of another length.
        """
        if isinstance(self.channel, tuple):
            if len(self.channel) != count:
                raise InputError(f"{self} gives {len(self.channel)} channels for {count} images; "
                                 "give one channel, or one per image")
            return list(self.channel)
        return [self.channel] * count

    def positions(self, count):
        """None (strongest positions), or the ``(y, x)`` of each image as a list.

        Raises:
            InputError: a per-image position list of another length.
        """
        if self.position is None:
            return None
        if isinstance(self.position[0], tuple):
            if len(self.position) != count:
                raise InputError(f"{self} gives {len(self.position)} positions for {count} images; "
                                 "give one position, or one per image")
            return [tuple(p) for p in self.position]
        return [tuple(self.position)] * count

    def __str__(self):
        where = "" if self.position is None else f", position={self.position}"
        return f"Unit({self.layer!r}, {self.channel}{where})"


def as_unit(value, function_name, argument="unit"):
    """``value`` as a `Unit`; the old tuple form ``(layer, channel[, (y, x)])``
    still works for one release and warns, naming `zfkeras.Unit`.

    Args:
        value: a `Unit`, or the old tuple.
        function_name: who asks, for the messages.
        argument: the argument's name, for the messages.

    Raises:
        InputTypeError: neither a `Unit` nor a tuple of the old form.
    """
    if isinstance(value, Unit):
        return value
    if isinstance(value, (tuple, list)) and len(value) in (2, 3) and isinstance(value[0], str):
        warnings.warn(
            f"{function_name}(): {argument} as a tuple {tuple(value)!r} is deprecated and will be removed "
            f"in zfkeras 0.4.0; use zfkeras.Unit(layer, channel, position=None)",
            DeprecationWarning, stacklevel=3)
        return Unit(*value)
    raise InputTypeError(f"{function_name}(): {argument} must be a zfkeras.Unit(layer, channel, position=None); "
                         f"got {value!r}")
