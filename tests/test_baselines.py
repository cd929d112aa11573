"""The one baseline resolver (zfkeras.utils.baselines)."""

import numpy as np
import pytest

from zfkeras.utils.baselines import blur, resolve_baseline
from zfkeras.utils.errors import InputError, InputTypeError


def _images():
    return np.random.RandomState(0).rand(3, 6, 5, 3).astype("float32") * 255


def test_mean_is_the_per_channel_mean_of_the_images():
    images = _images()
    expected = [images[..., c].astype("float64").sum() / images[..., c].size for c in range(3)]
    out = resolve_baseline("mean", images)
    assert out.dtype == np.float32 and out.shape == (3,)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.parametrize("value, expected", [(0.0, [0, 0, 0]), (7, [7, 7, 7]), ([1, 2, 3], [1, 2, 3]),
                                             (np.array([4.5]), [4.5, 4.5, 4.5])])
def test_numbers_and_one_value_per_channel(value, expected):
    out = resolve_baseline(value, _images())
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)


def test_blur_only_where_allowed():
    images = _images()
    with pytest.raises(InputError, match="'blur' is not accepted here"):
        resolve_baseline("blur", images)
    out = resolve_baseline("blur", images, allow_blur=True)
    np.testing.assert_allclose(out, blur(images), rtol=1e-6)


@pytest.mark.parametrize("bad, error, quoted", [
    ("grey", InputError, "'grey'"), ([1, 2], InputError, "2 values"), (float("nan"), InputError, "nan"),
    (None, InputTypeError, "None"), (True, InputTypeError, "True"), ({"a": 1}, InputTypeError, "dict"),
])
def test_bad_baselines_name_the_argument_and_quote_the_value(bad, error, quoted):
    with pytest.raises(error, match="fill_color") as info:
        resolve_baseline(bad, _images(), name="fill_color")
    assert quoted in str(info.value)


def test_blur_of_a_constant_image_is_the_constant():
    flat = np.full((1, 20, 20, 2), 3.5, np.float32)
    np.testing.assert_allclose(blur(flat), flat, rtol=1e-6)


def test_blur_of_an_impulse_is_the_gaussian():
    impulse = np.zeros((1, 21, 21, 1), np.float32)
    impulse[0, 10, 10, 0] = 1.0
    out = blur(impulse, sigma=1.5)[0, ..., 0]
    r = np.arange(-10, 11)
    taps = np.where(np.abs(r) <= 5, np.exp(-0.5 * (r / 1.5) ** 2), 0.0)  # radius ceil(3 * 1.5) = 5
    taps /= taps.sum()
    np.testing.assert_allclose(out, np.outer(taps, taps), atol=1e-7)


def test_blur_mirrors_the_edges():
    # A ramp mirrored at the edge: the blurred first column is the mean of the
    # symmetric neighbourhood, which for a linear ramp is above the edge value.
    ramp = np.tile(np.arange(10, dtype=np.float32)[None, :], (10, 1))[None, ..., None]
    out = blur(ramp, sigma=1.0)[0, 5, :, 0]
    padded = np.concatenate([ramp[0, 5, 2::-1, 0], ramp[0, 5, :, 0], ramp[0, 5, :-4:-1, 0]])
    taps = np.exp(-0.5 * (np.arange(-3, 4) / 1.0) ** 2)
    taps /= taps.sum()
    np.testing.assert_allclose(out, np.convolve(padded, taps, mode="valid"), atol=1e-5)
