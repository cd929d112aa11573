"""zfkeras.Unit, the one unit selector: validation, per-image values, hashing,
and the deprecated tuple form."""

import numpy as np
import pytest

import zfkeras
from zfkeras.methods.unit import Unit, as_unit
from zfkeras.utils.errors import InputError, InputTypeError


def test_a_unit_is_normalised_immutable_and_hashable():
    unit = Unit("conv5", np.int64(3), position=np.array([4, 7]))
    assert unit.channel == 3 and type(unit.channel) is int
    assert unit.position == (4, 7) and not unit.per_image
    assert unit == Unit("conv5", 3, (4, 7)) and hash(unit) == hash(Unit("conv5", 3, (4, 7)))
    assert len({unit, Unit("conv5", 3, (4, 7)), Unit("conv5", 3)}) == 2
    with pytest.raises(AttributeError):
        unit.channel = 4
    assert zfkeras.Unit is Unit
    assert str(unit) == "Unit('conv5', 3, position=(4, 7))" and str(Unit("c", 1)) == "Unit('c', 1)"


def test_per_image_channels_and_positions():
    unit = Unit("conv", np.array([1, 2, 3]), position=[[0, 1], (2, 3), np.array([4, 5])])
    assert unit.per_image and unit.channel == (1, 2, 3) and unit.position == ((0, 1), (2, 3), (4, 5))
    assert unit.channels(3) == [1, 2, 3] and unit.positions(3) == [(0, 1), (2, 3), (4, 5)]
    assert hash(unit) == hash(Unit("conv", [1, 2, 3], ((0, 1), (2, 3), (4, 5))))
    single = Unit("conv", 2)
    assert single.channels(4) == [2, 2, 2, 2] and single.positions(4) is None
    assert Unit("conv", 2, (1, 1)).positions(2) == [(1, 1), (1, 1)]
    with pytest.raises(InputError, match="gives 3 channels for 2 images"):
        unit.channels(2)
    with pytest.raises(InputError, match="gives 3 positions for 4 images"):
        unit.positions(4)


@pytest.mark.parametrize("args, error, match", [
    (("", 0), InputTypeError, "non-empty str"),
    ((3, 0), InputTypeError, "layer must be a layer name"),
    (("c", -1), InputError, "channel must be >= 0; got -1"),
    (("c", 1.5), InputTypeError, "channel must be an integer; got 1.5"),
    (("c", True), InputTypeError, "channel must be an integer; got True"),
    (("c", "3"), InputTypeError, "channel must be an integer; got '3'"),
    (("c", []), InputError, "channel list is empty"),
    (("c", 0, (1, 2, 3)), InputError, r"a position must be a \(y, x\) pair; got \(1, 2, 3\)"),
    (("c", 0, (1, -2)), InputError, "position x must be >= 0; got -2"),
    (("c", 0, 5), InputError, r"a position must be a \(y, x\) pair; got 5"),
])
def test_bad_units_quote_what_was_received(args, error, match):
    with pytest.raises(error, match=match):
        Unit(*args)


def test_the_old_tuple_still_works_and_warns():
    with pytest.warns(DeprecationWarning, match=r"grad_cam\(\): unit as a tuple .* zfkeras.Unit"):
        unit = as_unit(("conv", 2, (1, 3)), "grad_cam")
    assert unit == Unit("conv", 2, (1, 3))
    assert as_unit(unit, "grad_cam") is unit
    with pytest.raises(InputTypeError, match=r"must be a zfkeras.Unit.*got 'conv'"):
        as_unit("conv", "grad_cam")
    with pytest.raises(InputTypeError, match="must be a zfkeras.Unit"):
        as_unit((2, "conv"), "grad_cam")
