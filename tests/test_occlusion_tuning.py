"""tune_approximate: the cheapest approximate setting at a target SSIM, and its replay of drill-down."""

import keras
import numpy as np
import pytest

from tests.test_occlusion_incremental import tiny_zfnet
from zfkeras.utils.errors import InputError
from zfkeras.methods.occlusion import approximate, occlusion, tune_approximate
from zfkeras.methods.occlusion.incremental import IncrementalOcclusion

L = keras.layers
SIZE, STRIDE = 25, 8  # 11x11 positions at 112 px


@pytest.fixture(scope="module")
def zf():
    model = tiny_zfnet()
    images = np.random.default_rng(4).uniform(0, 1, (3, 112, 112, 3)).astype("float32")
    exact = occlusion(model, images, SIZE, STRIDE, method="incremental", verbose=0)
    return model, images, exact


def _ssim_min(result, exact):
    return min(approximate.ssim(a, e) for a, e in zip(result.class_probability, exact.class_probability))


def test_choice_is_the_cheapest_setting_above_target_plus_margin(zf):
    model, images, exact = zf
    tuned = tune_approximate(model, images, SIZE, STRIDE, target_ssim=0.95, margin=0.02, verbose=0)
    passing = [c for c in tuned.candidates if c["ssim_min"] >= 0.97]
    failing = [c for c in tuned.candidates if c["ssim_min"] < 0.97]
    assert failing, "the grid of settings should include some that break the map"
    assert tuned.ssim_min >= 0.97 and tuned.estimated_cost == min(c["estimated_cost"] for c in passing)
    assert tuned.estimated_cost < min(c["estimated_cost"] for c in tuned.candidates
                                      if c["tau"] == 1.0 and c["coarse_stride"] == STRIDE)
    # one row per (tau, coarse stride, drill-down): 4 taus x (no drill-down + 3 coarse x 5 shares)
    assert len({(c["tau"], c["coarse_stride"], c["drill_down"]) for c in tuned.candidates}) == 4 * 16
    exact_row = tuned.candidates[0]
    assert (exact_row["tau"], exact_row["coarse_stride"], exact_row["drill_down"]) == (1.0, STRIDE, None)
    assert exact_row["ssim_min"] == pytest.approx(1.0) and exact_row["computed_share"] == 1.0
    # the estimate: the windowed engine's multiply-adds times the share computed
    engine, _ = IncrementalOcclusion.plan(model, images.shape[1:], SIZE, exact.corners.reshape(-1, 2),
                                          tau=None if tuned.tau == 1.0 else tuned.tau)
    assert tuned.estimated_cost == pytest.approx(engine.cost_ratio * tuned.computed_share)


def test_replayed_drill_down_is_what_the_real_run_gives(zf):
    model, images, exact = zf
    tuned = tune_approximate(model, images, SIZE, STRIDE, target_ssim=0.95, margin=0.02, verbose=0)
    picks = [tuned.candidates[k] for k in (5, 23, 40, 63)] + [dict(tuned.settings, ssim_min=tuned.ssim_min,
                                                                   computed_share=tuned.computed_share)]
    for row in picks:
        settings = {"tau": row["tau"], "coarse_stride": row["coarse_stride"]}
        if row.get("drill_down") is not None:
            settings["drill_down"] = row["drill_down"]
        real = occlusion(model, images, SIZE, STRIDE, method="approximate", verbose=0, **settings)
        assert _ssim_min(real, exact) == pytest.approx(row["ssim_min"], abs=1e-4), settings
        assert real.computed.mean() == pytest.approx(row["computed_share"]), settings


def test_a_target_only_exact_windows_reach_chooses_them(zf):
    model, images, exact = zf
    tuned = tune_approximate(model, images, SIZE, STRIDE, target_ssim=1.0, verbose=0,
                             taus=[0.5], coarse_factors=[2], drill_downs=[0.5])
    assert (tuned.tau, tuned.coarse_stride, tuned.drill_down) == (1.0, STRIDE, None)
    assert tuned.settings == {"method": "approximate", "tau": 1.0, "coarse_stride": STRIDE}
    again = occlusion(model, images, SIZE, STRIDE, verbose=0, **tuned.settings)
    np.testing.assert_allclose(again.class_probability, exact.class_probability, rtol=1e-5, atol=1e-7)


def test_without_an_incremental_path_only_drill_down_is_tuned():
    inputs = keras.Input((12, 12, 1))
    x = L.Conv2D(2, 3)(L.UpSampling2D()(inputs))
    model = keras.Model(inputs, L.Dense(2, activation="softmax")(L.Flatten()(x)))
    images = np.random.default_rng(6).uniform(size=(2, 12, 12, 1)).astype("float32")
    tuned = tune_approximate(model, images, 3, 1, verbose=0)
    assert {c["tau"] for c in tuned.candidates} == {1.0}
    assert all(c["estimated_cost"] == pytest.approx(c["computed_share"]) for c in tuned.candidates)


@pytest.mark.parametrize("kwargs,match", [
    ({"target_ssim": 0.0}, r"target_ssim must be in \(0, 1\]"),
    ({"margin": -0.1}, r"margin must be in \[0, 1\)"),
    ({"taus": []}, "taus must not be empty"),
    ({"drill_downs": [1.5]}, r"each of drill_downs must be in \(0, 1\], got 1.5"),
    ({"coarse_factors": [0]}, "each of coarse_factors must be a positive integer, got 0"),
    ({"size": 100}, "at least 3x3 positions for SSIM; size=100, stride=8 give 2x2"),
])
def test_bad_tuning_arguments(zf, kwargs, match):
    model, images, _ = zf
    args = {"size": SIZE, "stride": STRIDE}
    args.update(kwargs)
    size, stride = args.pop("size"), args.pop("stride")
    with pytest.raises(InputError, match=match):
        tune_approximate(model, images, size, stride, verbose=0, **args)


def test_the_old_labels_and_fill_keywords_still_work_and_warn(zf):
    model, images, exact = zf
    small = dict(taus=[0.7], coarse_factors=[2], drill_downs=[0.5], verbose=0)
    new = tune_approximate(model, images, SIZE, STRIDE, baseline=0.0, targets=exact.true_label, **small)
    with pytest.warns(DeprecationWarning) as warned:
        old = tune_approximate(model, images, SIZE, STRIDE, fill=0.0, labels=exact.true_label, **small)
    text = " ".join(str(w.message) for w in warned)
    assert "'labels' is deprecated" in text and "'fill' is deprecated" in text
    assert old.candidates == new.candidates and len(new.candidates) == 4  # taus 0.7, 1.0 x coarse 1, 2
