"""Numbers that compare first-layer filters and second-layer projections.

The paper's Fig. 6 shows, as pictures, what goes wrong in the 11x11/4
baseline (filters that are dead or only see extreme frequencies, aliasing
in layer 2) and without feature-scale clipping (a few filters dominate).
These functions put numbers on the same properties. Plain numpy.

Definitions (also stated in the report's caption):

* filter RMS: root mean square of one filter's weights (all its inputs).
* dead filter: RMS below `DEAD_FRACTION` (10%) of the layer's median RMS.
* dominance: the largest filter RMS divided by the median.
* spectral bands: each filter's 2-D power spectrum (FFT zero-padded to
  `FFT_SIZE`, summed over input channels); radial frequency
  ``r = sqrt(fy^2 + fx^2)`` in cycles per pixel; low ``r < 1/8`` (DC
  included), mid ``1/8 <= r < 1/4``, high ``r >= 1/4``; each band's share of
  the filter's energy, averaged over the filters that are not dead.
* aliasing: the share of a projection's spectral energy (mean removed)
  above the Nyquist frequency of the conv1 output grid, ``1 / (2 stride)``
  cycles/pixel along y or x. A layer-1 stride s samples the image every s
  pixels, so detail above that frequency reaches layer 2 only as aliases;
  for stride 1 the share is 0 by definition. `high_frequency_share` gives a
  model-independent companion: the share above a fixed 1/4 cycles/pixel.
"""

import numpy as np

DEAD_FRACTION = 0.1
FFT_SIZE = 32
BANDS = (("low", 0.0, 0.125), ("mid", 0.125, 0.25), ("high", 0.25, np.inf))


def filter_rms(kernel):
    """RMS of each filter of a conv kernel.

    Args:
        kernel: ``(kh, kw, in, out)`` Keras Conv2D kernel.

    Returns:
        ``(out,)`` float64.
    """
    kernel = np.asarray(kernel, np.float64)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be shaped (kh, kw, in, out), got shape {kernel.shape}")
    return np.sqrt(np.mean(kernel ** 2, axis=(0, 1, 2)))


def dead_filters(kernel, fraction=DEAD_FRACTION):
    """Boolean ``(out,)``: filters whose RMS is below `fraction` of the median."""
    rms = filter_rms(kernel)
    return rms < fraction * np.median(rms)


def dominance(kernel):
    """Largest filter RMS over the median filter RMS."""
    rms = filter_rms(kernel)
    median = np.median(rms)
    return float(rms.max() / median) if median > 0 else float("inf")


def _radial_frequency(size):
    f = np.fft.fftfreq(size)
    return np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)


def band_shares(kernel, size=FFT_SIZE):
    """Share of each filter's energy in the low / mid / high bands.

    Args:
        kernel: ``(kh, kw, in, out)``.
        size: FFT size (at least the kernel size).

    Returns:
        ``(out, 3)`` float64 rows summing to 1 (a zero filter gives zeros).
    """
    kernel = np.asarray(kernel, np.float64)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be shaped (kh, kw, in, out), got shape {kernel.shape}")
    if max(kernel.shape[:2]) > size:
        raise ValueError(f"FFT size {size} is smaller than the kernel {kernel.shape[:2]}")
    power = np.abs(np.fft.fft2(kernel, s=(size, size), axes=(0, 1))) ** 2  # (size, size, in, out)
    power = power.sum(axis=2)
    radius = _radial_frequency(size)
    shares = np.stack([power[(radius >= lo) & (radius < hi)].sum(axis=0) for _, lo, hi in BANDS], axis=1)
    total = shares.sum(axis=1, keepdims=True)
    return np.divide(shares, total, out=np.zeros_like(shares), where=total > 0)


def _spectrum(image):
    image = np.asarray(image, np.float64)
    if image.ndim == 3:
        image = image - image.mean(axis=(0, 1))
        return (np.abs(np.fft.fft2(image, axes=(0, 1))) ** 2).sum(axis=2)
    if image.ndim != 2:
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {image.shape}")
    return np.abs(np.fft.fft2(image - image.mean())) ** 2


def share_above(image, cutoff):
    """Share of an image's energy (mean removed) with |fy| or |fx| > cutoff.

    Args:
        image: ``(H, W)`` or ``(H, W, C)``.
        cutoff: frequency in cycles per pixel (0 to 0.5).

    Returns:
        float in [0, 1]; 0 for a constant image.
    """
    power = _spectrum(image)
    fy = np.abs(np.fft.fftfreq(power.shape[0]))[:, None]
    fx = np.abs(np.fft.fftfreq(power.shape[1]))[None, :]
    above = (fy > cutoff + 1e-12) | (fx > cutoff + 1e-12)
    total = power.sum()
    return float(power[above].sum() / total) if total > 0 else 0.0


def aliasing(image, stride):
    """Energy share above the Nyquist frequency of a stride-`stride` grid."""
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    return share_above(image, 1.0 / (2.0 * stride))


def high_frequency_share(image, cutoff=0.25):
    """Energy share above a fixed `cutoff` (1/4 cycles/pixel by default)."""
    return share_above(image, cutoff)
