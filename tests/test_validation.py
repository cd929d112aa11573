import numpy as np
import pytest

from zfkeras.utils import validation as v
from zfkeras.utils.errors import InputError, InputTypeError


def test_positive_int_accepts_numpy_and_integral_floats():
    assert v.positive_int(np.int64(3), "n") == 3
    assert type(v.positive_int(np.int32(3), "n")) is int
    assert v.positive_int(4.0, "n") == 4


@pytest.mark.parametrize("bad", [True, "3", 2.5, None, [3]])
def test_positive_int_rejects_non_integers_quoting_them(bad):
    with pytest.raises(TypeError, match=r"n must be a positive integer, got " + repr(bad).replace("[", r"\[").replace("]", r"\]")):
        v.positive_int(bad, "n")


@pytest.mark.parametrize("bad", [0, -1, np.int64(-2)])
def test_positive_int_rejects_non_positive(bad):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        v.positive_int(bad, "n")


def test_non_negative_int():
    assert v.non_negative_int(0, "p") == 0
    with pytest.raises(ValueError, match="got -1"):
        v.non_negative_int(-1, "p")


def test_int_pair():
    assert v.int_pair(2, "k") == (2, 2)
    assert v.int_pair(np.int64(3), "k") == (3, 3)
    assert v.int_pair((2, np.int32(3)), "k") == (2, 3)
    assert v.int_pair(np.array([4, 5]), "k") == (4, 5)
    assert v.int_pair((0, 1), "pad", allow_zero=True) == (0, 1)
    with pytest.raises(TypeError, match="got the string '22'"):
        v.int_pair("22", "k")
    with pytest.raises(ValueError, match=r"3 values"):
        v.int_pair((1, 2, 3), "k")
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        v.int_pair((0, 1), "k")
    with pytest.raises(TypeError, match="got 1.5"):
        v.int_pair(1.5, "k")


def test_floats():
    assert v.positive_float(np.float32(0.5), "r") == 0.5
    with pytest.raises(ValueError, match="r must be > 0, got 0"):
        v.positive_float(0, "r")
    with pytest.raises(ValueError, match="finite"):
        v.positive_float(float("nan"), "r")
    with pytest.raises(TypeError, match="r must be a number, got '1'"):
        v.positive_float("1", "r")
    assert v.float_in_range(0.5, "f", 0, 1, low_inclusive=False, high_inclusive=False) == 0.5
    with pytest.raises(ValueError, match=r"f must be in \(0, 1\), got 10"):
        v.float_in_range(10, "f", 0, 1, low_inclusive=False, high_inclusive=False)
    with pytest.raises(ValueError, match=r"f must be in \(0, 1\), got 1"):
        v.float_in_range(1, "f", 0, 1, low_inclusive=False, high_inclusive=False)
    assert v.float_in_range(1e9, "a", 0.0, None) == 1e9
    with pytest.raises(ValueError, match=r"a must be in \[0.0, inf\), got -1"):
        v.float_in_range(-1, "a", 0.0, None)


def test_one_of():
    assert v.one_of("same", "padding", ("valid", "same")) == "same"
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same'; got 'full'"):
        v.one_of("full", "padding", ("valid", "same"))


def test_index_array_one_index_per_image_in_range():
    got = v.index_array([2, 0.0, 1], "labels", 3, 3, "class index", "a model with 3 classes")
    assert got.dtype == np.int64 and got.tolist() == [2, 0, 1]
    assert v.index_array(4, "channel", 2, 5, "channel index", "layer 'c'", broadcast=True).tolist() == [4, 4]
    with pytest.raises(InputError, match=r"^labels must be a 1-D array with one class index per image \(3\); got shape \(\): 1$"):
        v.index_array(1, "labels", 3, 3, "class index", "a model with 3 classes")
    with pytest.raises(InputTypeError, match=r"labels must be integers \(one class index per image\), got dtype float64: "
                                             r"\[0, 1\.5, 2\]$"):
        v.index_array([0, 1.5, 2], "labels", 3, 3, "class index", "a model with 3 classes")
    with pytest.raises(InputError, match=r"labels must be in \[0, 3\) for a model with 3 classes; got 3 at index 2"):
        v.index_array([0, 1, 3], "labels", 3, 3, "class index", "a model with 3 classes")


def test_quote_cuts_long_values_to_one_line():
    assert v.quote("abc") == "'abc'"
    long = v.quote(np.arange(1000))
    assert len(long) == 80 and long.startswith("array([  0,   1,") and long.endswith("...")
