"""Krypton's automated tuning of approximate occlusion, on sample images.

`method="approximate"` trades exactness for speed with three settings
(``tau``, ``coarse_stride``, ``drill_down``); how far each can go depends on
the model and on the images (how smooth their occlusion maps are).
`tune_approximate` measures it: on a few sample images it computes the
exact maps, the thresholded maps of each ``tau`` at every position, and
then replays adaptive drill-down on them for every coarse stride and
drill-down share (drill-down only chooses which positions to compute, so
replaying it on precomputed maps gives what the real run gives, up to
float summation order). It returns the setting of lowest estimated
arithmetic whose lowest per-image SSIM to the exact map reaches the
target plus a margin (the sample's lowest SSIM is an optimistic estimate
of other images'), and the whole table.

Tune on 16 or so images from the data the maps are for, then run the
rest with ``zfkeras.occlusion(..., method="approximate", **tuned.settings)``;
check the SSIM on held-out images when it matters (benchmarks/occlusion_ssim.py
does, docs/OCCLUSION.md).
"""

import dataclasses
from typing import List, Optional

import numpy as np

from zfkeras.utils.baselines import DEFAULT_BASELINE
from zfkeras.utils.compat import renamed_arguments
from zfkeras.utils.errors import InputError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE
from zfkeras.methods.occlusion import approximate
from zfkeras.methods.occlusion.api import fraction, occlusion
from zfkeras.keras_objects.precision import float32_model
from zfkeras.utils.validation import float_in_range, positive_int

DEFAULT_TAUS = (1.0, 0.7, 0.6, 0.5)
DEFAULT_COARSE_FACTORS = (1, 2, 3, 4)
DEFAULT_DRILL_DOWNS = (0.05, 0.1, 0.15, 0.25, 0.5)


@dataclasses.dataclass
class ApproximationTuning:
    """The chosen approximate-occlusion setting and every setting measured.

    Attributes:
        tau: projective-field threshold (1.0: exact windows).
        coarse_stride: stride of the coarse pass in pixels (``stride``: no
            drill-down).
        drill_down: share of positions computed after the coarse pass
            (None when there is no drill-down).
        ssim_min: lowest per-image SSIM of the p(class) map to the exact one.
        ssim_mean: mean per-image SSIM.
        estimated_cost: estimated multiply-adds relative to full
            re-inference at every position (the thresholded engine's
            estimate times the share of positions computed).
        computed_share: mean share of positions the network computes.
        target_ssim: the SSIM wanted on other images.
        margin: what the choice had to reach above it on the tuning images.
        candidates: one dict per setting measured, with the fields above.
    """

    tau: float
    coarse_stride: int
    drill_down: Optional[float]
    ssim_min: float
    ssim_mean: float
    estimated_cost: float
    computed_share: float
    target_ssim: float
    margin: float
    candidates: List[dict]

    @property
    def settings(self):
        """Keyword arguments of `zfkeras.occlusion` for this setting."""
        out = {"method": "approximate", "tau": self.tau, "coarse_stride": self.coarse_stride}
        if self.drill_down is not None:
            out["drill_down"] = self.drill_down
        return out


@renamed_arguments(labels="targets", fill=("baseline", lambda value: DEFAULT_BASELINE if value is None else value))
def tune_approximate(model, inputs, size, stride, target_ssim=0.9, margin=0.05, baseline=DEFAULT_BASELINE,
                     targets=None, batch_size=DEFAULT_BATCH_SIZE, from_logits=None, verbose="auto",
                     taus=DEFAULT_TAUS, coarse_factors=DEFAULT_COARSE_FACTORS,
                     drill_downs=DEFAULT_DRILL_DOWNS):
    """The cheapest approximate-occlusion setting that keeps the map at ``target_ssim``.

    Args:
        model, inputs, size, stride, baseline, targets, batch_size, from_logits,
            verbose: as `zfkeras.occlusion` (``inputs`` are the sample images).
        target_ssim: lowest per-image SSIM (p(class) map against the exact
            one, `approximate.ssim`) wanted on images like ``inputs``, in (0, 1].
        margin: the chosen setting must reach ``target_ssim + margin`` on
            ``inputs`` themselves: the lowest SSIM of other images falls
            below that of the tuning images (with 16 tuning images in
            benchmarks/occlusion_ssim.py: by up to 0.03 at this margin, up
            to 0.08 at margins 0-0.03).
        taus: thresholds to try, each in (0, 1] (1.0: exact windows).
        coarse_factors: coarse strides to try, in multiples of ``stride``
            (1: no drill-down).
        drill_downs: drill-down shares to try, each in (0, 1].

    Returns:
        An `ApproximationTuning`; ``.settings`` are keyword arguments of
        `zfkeras.occlusion`.

    Raises:
        ValueError: bad settings, or an occlusion grid under 3x3 positions
            (too small for SSIM).
    """
    target_ssim = fraction(target_ssim, "target_ssim")
    margin = float_in_range(margin, "margin", 0, 1, high_inclusive=False)
    taus = sorted({fraction(t, "each of taus") for t in _non_empty(taus, "taus")} | {1.0}, reverse=True)
    factors = sorted({positive_int(f, "each of coarse_factors")
                      for f in _non_empty(coarse_factors, "coarse_factors")} | {1})
    drills = sorted({fraction(d, "each of drill_downs") for d in _non_empty(drill_downs, "drill_downs")})
    size, stride = positive_int(size, "size"), positive_int(stride, "stride")
    common = dict(baseline=baseline, targets=targets, batch_size=batch_size, from_logits=from_logits,
                  verbose=verbose)
    exact = occlusion(model, inputs, size, stride, method="auto", **common)
    grid = exact.class_probability.shape[1:]
    if min(grid) < 3:
        raise InputError(f"tuning needs an occlusion grid of at least 3x3 positions for SSIM; size={size}, "
                         f"stride={stride} give {grid[0]}x{grid[1]}")
    common.update(targets=exact.true_label, baseline=exact.baseline)
    cost_of = _window_costs(model, np.shape(inputs)[1:], size, exact.corners.reshape(-1, 2))
    if cost_of(1.0) is None:  # no incremental path: subsets run through full re-inference, tau changes nothing
        taus, cost_of = [1.0], lambda tau: 1.0

    candidates = []
    for tau in taus:
        maps = exact if tau == 1.0 else occlusion(model, inputs, size, stride, method="approximate", tau=tau,
                                                  coarse_stride=stride, **common)
        window_cost = cost_of(tau)
        for factor in factors:
            for drill in ([None] if factor == 1 else drills):
                scores, shares = [], []
                for n in range(len(maps.class_probability)):
                    prob = _replay(maps, n, grid, factor, drill)
                    scores.append(approximate.ssim(prob[0], exact.class_probability[n]))
                    shares.append(prob[1])
                candidates.append({
                    "tau": tau, "coarse_stride": factor * stride, "drill_down": drill,
                    "ssim_min": float(np.min(scores)), "ssim_mean": float(np.mean(scores)),
                    "computed_share": float(np.mean(shares)),
                    "estimated_cost": float(window_cost * np.mean(shares))})
    best = cheapest(candidates, min(1.0, target_ssim + margin))
    return ApproximationTuning(target_ssim=target_ssim, margin=float(margin), candidates=candidates, **best)


def cheapest(candidates, minimum_ssim):
    """The candidate of lowest estimated cost whose ``ssim_min`` reaches ``minimum_ssim``
    (ties: the higher SSIM); the first (exact windows, no drill-down) when none does."""
    passing = [c for c in candidates if c["ssim_min"] >= minimum_ssim]
    if not passing:  # only exact windows without drill-down reach it (SSIM 1 up to rounding)
        return candidates[0]
    return min(passing, key=lambda c: (c["estimated_cost"], -c["ssim_min"]))


def _replay(maps, n, grid, factor, drill):
    """Adaptive drill-down on precomputed maps: ``(p(class) map, computed share)``."""
    flat_p = maps.class_probability[n].reshape(-1)
    flat_label = maps.predicted_label[n].reshape(-1)

    def compute(positions):
        return flat_p[positions], flat_label[positions], None

    prob, _, _, computed = approximate.drill_down(compute, grid, maps.unoccluded_probability[n], factor,
                                                  0.0 if drill is None else drill)
    return prob, float(computed.mean())


def _window_costs(model, image_shape, size, corners):
    """``tau -> estimated multiply-adds of the windowed engine / full re-inference`` (None: no engine)."""
    from zfkeras.methods.occlusion.incremental import IncrementalOcclusion

    model = float32_model(model)

    def cost(tau):
        engine, _ = IncrementalOcclusion.plan(model, tuple(image_shape), size, corners,
                                              tau=None if tau == 1.0 else tau)
        return None if engine is None else engine.cost_ratio

    return cost


def _non_empty(values, name):
    values = [values] if np.isscalar(values) else list(values)
    if not values:
        raise InputError(f"{name} must not be empty")
    return values
