"""Adaptive drill-down (Krypton): a coarse grid first, the fine grid where it matters.

The square positions form a ``rows x cols`` grid at the requested stride.
A coarse sub-grid (every ``factor``-th row and column, the last ones
included so that every fine position lies between coarse ones) is computed
first; the maps are interpolated bilinearly onto the fine grid (the
predicted label from the nearest coarse position); then the ``fraction``
of fine positions where the interpolated probability dropped most below
the unoccluded one, not computed yet, are computed. Values at computed
positions are the network's (exact, or projective-field thresholded
when ``tau`` is set); the others stay interpolated.
"""

import math

import numpy as np

from zfkeras.utils.errors import InputError

# Defaults of method="approximate", chosen by benchmarks/occlusion_ssim.py
# (docs/OCCLUSION.md "Approximate occlusion": SSIM to the exact map).
DEFAULT_TAU = 0.7
DEFAULT_DRILL_DOWN = 0.5
DEFAULT_COARSE_FACTOR = 2


def coarse_axis(count, factor):
    """Indices of the coarse sub-grid along one axis (every ``factor``-th, and the last)."""
    return np.unique(np.r_[np.arange(0, count, factor), count - 1])


def _interpolate_axis(values, known, count, axis):
    """Linear interpolation of ``values`` known at indices ``known`` along ``axis``."""
    moved = np.moveaxis(values, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    out = np.stack([np.interp(np.arange(count), known, row) for row in flat])
    return np.moveaxis(out.reshape(moved.shape[:-1] + (count,)), -1, axis)


def interpolate(coarse_values, rows_known, cols_known, rows, cols):
    """Bilinear interpolation of a ``(len(rows_known), len(cols_known))`` map onto ``(rows, cols)``."""
    values = np.asarray(coarse_values, "float64")
    return _interpolate_axis(_interpolate_axis(values, rows_known, rows, 0), cols_known, cols, 1)


def nearest(coarse_values, rows_known, cols_known, rows, cols):
    """Nearest-neighbour upsampling (labels) of a coarse map onto ``(rows, cols)``."""
    r = np.abs(np.arange(rows)[:, None] - rows_known[None]).argmin(axis=1)
    c = np.abs(np.arange(cols)[:, None] - cols_known[None]).argmin(axis=1)
    return np.asarray(coarse_values)[r][:, c]


def drill_down(compute, grid, baseline, factor, fraction):
    """Maps of one image by adaptive drill-down.

    Args:
        compute: callable ``positions (k,) -> (probability (k,), label (k,),
            activity (k,) or None)`` over flat indices of the fine grid.
        grid: ``(rows, cols)`` of the fine grid.
        baseline: p(true class) of the unoccluded image.
        factor: coarse step in fine positions (1: no drill-down, all computed).
        fraction: share of the fine positions computed after the coarse pass.

    Returns:
        ``(probability, label, activity or None, computed)``, each
        ``(rows, cols)``; ``computed`` is True where the network ran.
    """
    rows, cols = grid
    rk, ck = coarse_axis(rows, factor), coarse_axis(cols, factor)
    first = (rk[:, None] * cols + ck[None]).reshape(-1)
    p, label, act = compute(first)
    shape = (len(rk), len(ck))
    prob = interpolate(p.reshape(shape), rk, ck, rows, cols).reshape(-1)
    labels = nearest(label.reshape(shape), rk, ck, rows, cols).reshape(-1)
    activity = None if act is None else interpolate(act.reshape(shape), rk, ck, rows, cols).reshape(-1)
    computed = np.zeros(rows * cols, bool)
    computed[first] = True
    prob[first], labels[first] = p, label
    if activity is not None:
        activity[first] = act
    budget = min(int(math.ceil(fraction * rows * cols)), int((~computed).sum()))
    if budget > 0:
        drop = np.where(computed, -np.inf, baseline - prob)
        second = np.sort(np.argsort(-drop, kind="stable")[:budget])
        p2, label2, act2 = compute(second)
        prob[second], labels[second], computed[second] = p2, label2, True
        if activity is not None:
            activity[second] = act2
    shaped = (rows, cols)
    return (prob.reshape(shaped).astype("float32"), labels.reshape(shaped),
            None if activity is None else activity.reshape(shaped).astype("float32"),
            computed.reshape(shaped))


def ssim(a, b, data_range=1.0, win_size=7):
    """Structural similarity of two 2-D maps, as ``skimage.metrics.structural_similarity``
    computes it by default (a uniform ``win_size`` window, sample covariances,
    K1 = 0.01, K2 = 0.03, the mean over the windows inside the map).

    The window shrinks to the largest odd size the map holds (at least 3).
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    win = min(win_size, *a.shape)
    win -= 1 - win % 2
    if win < 3:
        raise InputError(f"ssim needs maps of at least 3x3, got {a.shape}")

    def box(x):  # mean over every win x win window inside the map
        table = np.pad(x.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        return (table[win:, win:] - table[:-win, win:] - table[win:, :-win] + table[:-win, :-win]) / win ** 2

    ua, ub = box(a), box(b)
    norm = win * win / (win * win - 1.0)
    va, vb = norm * (box(a * a) - ua * ua), norm * (box(b * b) - ub * ub)
    vab = norm * (box(a * b) - ua * ub)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ua * ub + c1) * (2 * vab + c2)) / ((ua * ua + ub * ub + c1) * (va + vb + c2))
    return float(s.mean())
