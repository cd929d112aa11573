"""zfkeras.analysis.protocol.filter_measures against hand-made filters and images."""

import numpy as np
import pytest

from zfkeras.analysis.protocol import filter_measures as fm


def _kernel(*filters):
    """(kh, kw, 1, out) from 2-D filters."""
    return np.stack(filters, axis=-1)[:, :, None, :]


def test_rms_dead_and_dominance_against_numpy():
    rng = np.random.RandomState(0)
    kernel = rng.normal(size=(5, 5, 3, 6))
    kernel[..., 2] *= 0.01   # dead: 1% of the others
    kernel[..., 4] *= 20.0   # dominating
    rms = np.array([np.sqrt((kernel[..., i] ** 2).mean()) for i in range(6)])
    np.testing.assert_allclose(fm.filter_rms(kernel), rms)
    assert fm.dead_filters(kernel).tolist() == [False, False, True, False, False, False]
    assert fm.dominance(kernel) == pytest.approx(rms.max() / np.median(rms))


def test_band_shares_put_a_constant_filter_low_and_a_checkerboard_high():
    constant = np.ones((5, 5))
    checker = np.indices((5, 5)).sum(axis=0) % 2 * 2.0 - 1.0
    shares = fm.band_shares(_kernel(constant, checker))
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    # A box's spectrum is a sinc: most of it low, some sidelobes above.
    assert shares[0, 0] > 0.6 and shares[0, 0] > shares[0, 1] and shares[0, 0] > shares[0, 2]
    assert shares[1, 2] > 0.8 and shares[1, 0] < 0.05   # Nyquist-rate pattern


def test_band_shares_of_a_sinusoid_fall_in_its_band():
    y, x = np.indices((16, 16))
    mid = np.cos(2 * np.pi * 0.1875 * x)  # 3/16 cycles/pixel: the mid band
    shares = fm.band_shares(_kernel(mid), size=16)
    assert shares[0, 1] == pytest.approx(1.0)


def test_aliasing_is_the_energy_above_the_stride_grid_nyquist():
    y, x = np.indices((32, 32))
    slow = np.cos(2 * np.pi * x / 16)     # 1/16 cycles/pixel
    fast = np.cos(2 * np.pi * 3 * x / 8)  # 3/8 cycles/pixel
    image = slow + fast
    # Nyquist of a stride-2 grid is 1/4: only the fast part is above it; equal energies.
    assert fm.aliasing(image, 2) == pytest.approx(0.5)
    assert fm.aliasing(image, 1) == pytest.approx(0.0)   # stride 1 cannot alias
    assert fm.high_frequency_share(image) == pytest.approx(0.5)
    assert fm.aliasing(np.full((8, 8, 3), 7.0), 4) == 0.0  # constant image: no energy


@pytest.mark.parametrize("call, match", [
    (lambda: fm.filter_rms(np.ones((3, 3))), "kernel must be shaped \\(kh, kw, in, out\\), got shape \\(3, 3\\)"),
    (lambda: fm.band_shares(np.ones((40, 40, 1, 1))), "FFT size 32 is smaller than the kernel"),
    (lambda: fm.aliasing(np.ones((4, 4)), 0), "stride must be at least 1, got 0"),
    (lambda: fm.share_above(np.ones(4), 0.25), "image must be \\(H, W\\) or \\(H, W, C\\)"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
