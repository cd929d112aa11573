"""method="approximate": drill-down, its record, its error measure, and the callers' --method."""

import keras
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from tests.test_occlusion_incremental import tiny_zfnet
from zfkeras.utils.errors import InputError
from zfkeras.methods.occlusion import approximate, occlusion

L = keras.layers


@pytest.mark.parametrize("shape", [(22, 22), (9, 31), (5, 4)])
def test_ssim_is_skimage_default(shape):
    rng = np.random.default_rng(shape[0])
    a = rng.uniform(size=shape)
    b = np.clip(a + rng.normal(0, 0.2, shape), 0, 1)
    win = min(7, *shape) - (1 - min(7, *shape) % 2)
    assert approximate.ssim(a, b) == pytest.approx(structural_similarity(a, b, data_range=1.0, win_size=win), abs=1e-12)
    assert approximate.ssim(a, a) == pytest.approx(1.0)


def test_drill_down_computes_the_coarse_grid_then_the_largest_drops():
    rows, cols = 9, 12
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    plane = (0.9 - 0.02 * r - 0.01 * c).reshape(-1)  # bilinear: interpolation is exact
    dip = plane.copy()
    dip[4 * cols + 5] = 0.1  # one fine position (odd row, odd col) drops: not on the coarse grid
    calls = []

    def compute(positions):
        calls.append(np.asarray(positions))
        return dip[positions], (dip[positions] < 0.5).astype(int), 2 * dip[positions]

    p, label, act, computed = approximate.drill_down(compute, (rows, cols), 0.95, 2, 0.1)
    coarse = len(approximate.coarse_axis(rows, 2)) * len(approximate.coarse_axis(cols, 2))
    assert len(calls[0]) == coarse and len(calls[1]) == int(np.ceil(0.1 * rows * cols))
    assert computed.sum() == coarse + len(calls[1])
    np.testing.assert_allclose(p[computed], dip.reshape(rows, cols)[computed])
    np.testing.assert_allclose(p[~computed], plane.reshape(rows, cols)[~computed], atol=1e-6)
    np.testing.assert_allclose(act, 2 * p, rtol=1e-6)
    assert label.shape == (rows, cols) and label[0, 0] == 0
    # no drill-down (factor 1): everything computed in one pass
    calls.clear()
    p, _, _, computed = approximate.drill_down(compute, (rows, cols), 0.95, 1, 0.5)
    assert computed.all() and len(calls) == 1
    np.testing.assert_allclose(p.reshape(-1), dip, rtol=1e-6)


@pytest.fixture(scope="module")
def zf():
    model = tiny_zfnet()
    images = np.random.default_rng(2).uniform(0, 1, (2, 112, 112, 3)).astype("float32")
    return model, images


def test_approximate_records_what_it_did_and_tau_one_without_drill_down_is_exact(zf):
    model, images = zf
    exact = occlusion(model, images, 25, 12, layer="conv5", method="incremental", verbose=0)
    same = occlusion(model, images, 25, 12, layer="conv5", method="approximate", tau=1.0, coarse_stride=12,
                     verbose=0)
    np.testing.assert_allclose(same.class_probability, exact.class_probability, rtol=1e-5, atol=1e-7)
    assert same.computed.all() and same.approximation["tau"] is None
    approx = occlusion(model, images, 25, 12, layer="conv5", method="approximate", verbose=0)
    a = approx.approximation
    assert approx.method == "approximate" and a["engine"] == "incremental"
    assert (a["tau"], a["drill_down"], a["coarse_stride"]) == (approximate.DEFAULT_TAU,
                                                                approximate.DEFAULT_DRILL_DOWN, 24)
    assert a["positions"] == 64 and a["positions_computed"] == approx.computed.sum(axis=(1, 2)).tolist()
    assert 0 < min(a["positions_computed"]) < 64
    assert approx.layer_activity.shape == exact.layer_activity.shape
    assert exact.computed.all() and exact.approximation is None


def test_approximate_without_an_incremental_path_drills_down_on_full_inference():
    inputs = keras.Input((12, 12, 1))
    x = L.Conv2D(2, 3)(L.UpSampling2D()(inputs))
    model = keras.Model(inputs, L.Dense(2, activation="softmax")(L.Flatten()(x)))
    images = np.random.default_rng(6).uniform(size=(1, 12, 12, 1)).astype("float32")
    result = occlusion(model, images, 3, 1, method="approximate", drill_down=1.0, verbose=0)
    exact = occlusion(model, images, 3, 1, method="full", verbose=0)
    assert result.approximation["engine"] == "full" and result.approximation["tau"] is None
    np.testing.assert_allclose(result.class_probability, exact.class_probability, rtol=1e-5)


@pytest.mark.parametrize("kwargs,match", [
    ({"method": "full", "tau": 0.5}, "tau only apply to method='approximate'"),
    ({"method": "approximate", "tau": 0.0}, r"tau must be in \(0, 1\]"),
    ({"method": "approximate", "drill_down": 2}, r"drill_down must be in \(0, 1\]"),
    ({"method": "approximate", "coarse_stride": 3}, "coarse_stride must be a multiple of stride=2"),
])
def test_bad_approximation_settings(zf, kwargs, match):
    model, images = zf
    with pytest.raises(InputError, match=match):
        occlusion(model, images, 25, 2, verbose=0, **kwargs)


def test_fig7_caption_names_the_method_and_its_measured_error(zf):
    from zfkeras.analysis.sections import fig7_occlusion as f7

    model, images = zf
    data = f7.compute(model, images, lambda x: x, 25, 12, layer="conv5", method="approximate")
    error = data.result.approximation["error"]
    text = f7.method_text(data.result)
    assert text.startswith("Occlusion path: approximate (tau 0.7") and f"SSIM {error['ssim_mean']:.3f}" in text
    exact = f7.compute(model, images, lambda x: x, 25, 12, layer="conv5", method="incremental")
    assert f7.method_text(exact.result) == "Occlusion path: incremental (exact)."
    # the recorded error is the approximate maps' against the exact ones, by
    # an independent computation (skimage's SSIM, numpy's largest difference)
    from skimage.metrics import structural_similarity

    approx_maps, exact_maps = data.result.class_probability, exact.result.class_probability
    assert error["max_abs"] == pytest.approx(float(np.abs(approx_maps - exact_maps).max()), abs=1e-7)
    assert approx_maps.shape[1:] == (8, 8)  # 112 px, 25 px square, stride 12: skimage's 7x7 window fits
    scores = [structural_similarity(a.astype("float64"), e.astype("float64"), data_range=1.0)
              for a, e in zip(approx_maps, exact_maps)]
    assert error["ssim_mean"] == pytest.approx(float(np.mean(scores)), abs=1e-6)
    assert error["ssim_min"] == pytest.approx(float(np.min(scores)), abs=1e-6)


def test_fig7_measures_the_error_where_the_model_has_no_incremental_path():
    # a 12 px square on 20 px images changes all of conv1's 14x14 map (7x7
    # kernel): with exact windows (tau 1) no step is windowed, so approximate
    # drills down on full re-inference, and the exact maps it is measured
    # against are full re-inference too
    from zfkeras.analysis.sections import fig7_occlusion as f7
    from zfkeras.methods.occlusion.geometry import square_corners
    from zfkeras.methods.occlusion.incremental import IncrementalOcclusion

    inputs = keras.Input((20, 20, 1))
    x = L.Conv2D(4, 7, activation="relu", name="conv1")(inputs)
    model = keras.Model(inputs, L.Dense(3, activation="softmax")(L.Flatten()(x)))
    images = np.random.default_rng(8).uniform(size=(2, 20, 20, 1)).astype("float32")
    engine, _ = IncrementalOcclusion.plan(model, (20, 20, 1), 12, square_corners((20, 20), 12, 1).reshape(-1, 2))
    assert engine is None, "the test needs a model without an incremental path"
    data = f7.compute(model, images, lambda v: v, 12, 1, layer="conv1", method="approximate", tau=1.0)
    assert data.result.approximation["engine"] == "full"
    exact = occlusion(model, images, 12, 1, method="full", verbose=0)
    error = data.result.approximation["error"]
    assert error["max_abs"] == pytest.approx(float(np.abs(data.result.class_probability
                                                          - exact.class_probability).max()), abs=1e-7)
