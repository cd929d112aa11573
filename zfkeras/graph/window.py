"""The one description of a layer's spatial window, and its arithmetic.

Every spatial layer zfkeras reasons about -- convolutions, poolings,
padding, cropping, pointwise layers -- is described per spatial axis as a
sliding window over its input: ``kernel`` taps ``dilation`` apart, moved
by ``strides``, over the input with ``before`` / ``after`` positions of
padding added (negative: cropped). Output position ``i`` then reads input
positions ``i * stride - before + j * dilation`` for ``j < kernel``, i.e.
the span ``[i * stride - before, i * stride - before + span)``.

Plain Python (no TensorFlow, no Keras), so that layers, the deconvnet and
the occlusion engine can all import it. `axis_window` is the only place
where Keras/TensorFlow's SAME and VALID padding is computed.
"""

import dataclasses
import math

from zfkeras.utils.errors import InputError


def axis_window(size, kernel, stride, padding, dilation=1):
    """Padding and output length of a window along one axis.

    SAME puts the smaller half of the padding first, as TensorFlow does; an
    explicit ``(before, after)`` pair (ZeroPadding2D; negative for
    Cropping2D) is a VALID window over the padded input.

    Args:
        size: input length, or None when unknown.
        kernel: taps of the window.
        stride: step between windows.
        padding: ``"valid"``, ``"same"`` (any case) or ``(before, after)``.
        dilation: distance between taps.

    Returns:
        ``(before, after, out)``; entries that depend on an unknown ``size``
        are None.
    """
    span = (kernel - 1) * dilation + 1
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            before = after = 0
        elif mode == "same":
            if size is None:
                return None, None, None
            out = math.ceil(size / stride)
            total = max((out - 1) * stride + span - size, 0)
            return total // 2, total - total // 2, out
        else:
            raise InputError(f"padding must be 'valid', 'same' or (before, after), got {padding!r}")
    else:
        before, after = (int(v) for v in padding)
    if size is None:
        return before, after, None
    return before, after, (size + before + after - span) // stride + 1


def _pair(value):
    return tuple(int(v) for v in value)


@dataclasses.dataclass(frozen=True)
class Window:
    """A layer's sliding window over the two spatial axes, placed on an input.

    Attributes:
        kernel: ``(kh, kw)`` taps.
        strides: ``(sh, sw)``.
        dilation: ``(dh, dw)``.
        padding: ``"valid"``, ``"same"`` or explicit
            ``((top, bottom), (left, right))`` (negative: cropping).
        in_size: ``(H, W)`` of the input it is placed on (entries may be None).
        before: ``(top, left)`` padding added before the input (None: unknown).
        after: ``(bottom, right)`` padding added after it.
        out_size: ``(Ho, Wo)`` of the output (entries may be None).
    """

    kernel: tuple = (1, 1)
    strides: tuple = (1, 1)
    dilation: tuple = (1, 1)
    padding: object = "valid"
    in_size: tuple = (None, None)
    before: tuple = dataclasses.field(init=False)
    after: tuple = dataclasses.field(init=False)
    out_size: tuple = dataclasses.field(init=False)

    def __post_init__(self):
        # Normalise once here so that equal windows compare equal.
        set_ = object.__setattr__  # frozen: derived fields are set this way
        set_(self, "kernel", _pair(self.kernel))
        set_(self, "strides", _pair(self.strides))
        set_(self, "dilation", _pair(self.dilation))
        padding = self.padding.lower() if isinstance(self.padding, str) else tuple(
            _pair(pair) for pair in self.padding)
        set_(self, "padding", padding)
        set_(self, "in_size", tuple(None if v is None else int(v) for v in self.in_size))
        axes = [axis_window(self.in_size[a], self.kernel[a], self.strides[a],
                            padding if isinstance(padding, str) else padding[a], self.dilation[a])
                for a in (0, 1)]
        set_(self, "before", (axes[0][0], axes[1][0]))
        set_(self, "after", (axes[0][1], axes[1][1]))
        set_(self, "out_size", (axes[0][2], axes[1][2]))

    @property
    def span(self):
        """``(h, w)`` input positions one output position's window covers."""
        return tuple((k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation))

    @property
    def is_identity(self):
        """True when output ``(y, x)`` reads exactly input ``(y, x)``."""
        return (self.span == (1, 1) and self.strides == (1, 1)
                and self.before == (0, 0) and self.after == (0, 0))

    def at(self, in_size):
        """The same window placed on an input of ``(H, W)`` ``in_size``."""
        return dataclasses.replace(self, in_size=tuple(in_size))


def identity_window(in_size=(None, None)):
    """The window of a pointwise layer: each output reads its own position."""
    return Window(in_size=in_size)
