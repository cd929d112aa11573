"""Deletion, insertion and the occlusion drop on models whose answer is known
in closed form: a linear-softmax classifier (probabilities by hand after
each stage) and a summing convolution (activation = sum of its window)."""

import dataclasses

import numpy as np
import pytest
import keras

import zfkeras
from zfkeras.utils.errors import InputError
from zfkeras.measures.faithfulness import occlusion_drop
from zfkeras.utils.baselines import blur

L = keras.layers


@pytest.fixture(scope="module")
def linear():
    rng = np.random.RandomState(0)
    model = keras.Sequential([keras.Input((3, 3, 1)), L.Flatten(), L.Dense(2, activation="softmax")])
    w, b = rng.normal(0, 1, (9, 2)).astype("float32"), rng.normal(0, 0.3, 2).astype("float32")
    model.layers[-1].set_weights([w, b])
    return model, w, b


def _by_hand(x, maps, w, b, classes, fill, steps, insertion=False):
    """Curves: for each stage the first k pixels (map order) swapped with the fill."""
    n = len(x)
    flat = x.reshape(n, 9)
    counts = np.linspace(0, 9, steps + 1).astype(int)
    curves = np.zeros((n, steps + 1))
    for i in range(n):
        order = np.argsort(-maps[i].ravel())
        for j, k in enumerate(counts):
            v = np.full(9, fill) if insertion else flat[i].copy()
            v[order[:k]] = flat[i, order[:k]] if insertion else fill
            logits = v @ w + b
            p = np.exp(logits - logits.max())
            curves[i, j] = (p / p.sum())[classes[i]]
    return curves, np.trapezoid(curves, dx=1 / steps, axis=1)


def test_deletion_and_insertion_by_hand(linear):
    model, w, b = linear
    rng = np.random.RandomState(1)
    x = rng.uniform(0, 1, (4, 3, 3, 1)).astype("float32")
    maps = rng.uniform(0, 1, (4, 3, 3)).astype("float32")
    classes = np.array([0, 1, 1, 0])
    result = zfkeras.faithfulness(model, x, maps, "deletion", steps=3, baseline=0.0, targets=classes, verbose=0)
    curves, auc = _by_hand(x, maps, w, b, classes, 0.0, 3)
    np.testing.assert_allclose(result.details["curves"], curves, rtol=1e-5)
    np.testing.assert_allclose(result.scores, auc, rtol=1e-5)
    np.testing.assert_allclose(result.details["fractions"], [0, 1 / 3, 2 / 3, 1])
    assert result.mean == pytest.approx(auc.mean()) and result.std == pytest.approx(auc.std())
    inserted = zfkeras.faithfulness(model, x, maps[..., None], "insertion", steps=9, baseline=0.5,
                                    targets=classes, verbose=0)
    curves, auc = _by_hand(x, maps, w, b, classes, 0.5, 9, insertion=True)
    np.testing.assert_allclose(inserted.details["curves"], curves, rtol=1e-5)
    np.testing.assert_allclose(inserted.scores, auc, rtol=1e-5)
    # the default baseline is the images' mean (one channel here)
    mean = zfkeras.faithfulness(model, x, maps, "deletion", steps=3, targets=classes, verbose=0)
    curves, auc = _by_hand(x, maps, w, b, classes, float(x.astype("float64").mean()), 3)
    np.testing.assert_allclose(mean.scores, auc, rtol=1e-5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mean.metric = "insertion"
    with pytest.raises(ValueError, match="read-only"):
        mean.scores[0] = 1.0
    with pytest.raises(TypeError):
        mean.details["curves"] = None


def test_an_explanation_or_a_method_name(linear):
    model, w, b = linear
    x = np.random.RandomState(4).uniform(0, 1, (3, 3, 3, 1)).astype("float32")
    explanation = zfkeras.explain(model, x, "occlusion", targets=[1, 0, 1], verbose=0, size=1, stride=1)
    ours = zfkeras.faithfulness(model, x, explanation, steps=3, baseline=0.0, verbose=0)
    np.testing.assert_array_equal(ours.details["classes"], [1, 0, 1])  # the explanation's targets
    curves, auc = _by_hand(x, explanation.maps, w, b, [1, 0, 1], 0.0, 3)
    np.testing.assert_allclose(ours.scores, auc, rtol=1e-5)
    by_name = zfkeras.faithfulness(model, x, "occlusion", steps=3, baseline=0.0, targets=[1, 0, 1], verbose=0)
    np.testing.assert_allclose(by_name.scores, ours.scores, rtol=1e-6)
    with pytest.raises(InputError, match="differ from those the explanation explains"):
        zfkeras.faithfulness(model, x, explanation, targets=[0, 0, 0], verbose=0)


def test_the_old_keywords_still_work_and_warn(linear):
    model, _, _ = linear
    x = np.random.RandomState(5).uniform(0, 1, (2, 3, 3, 1)).astype("float32")
    maps = np.random.RandomState(6).uniform(0, 1, (2, 3, 3)).astype("float32")
    new = zfkeras.faithfulness(model, x, maps, steps=3, baseline=0.0, targets=[0, 1], verbose=0)
    with pytest.warns(DeprecationWarning) as warned:
        old = zfkeras.faithfulness(model, x, maps=maps, steps=3, fill=0.0, classes=[0, 1], verbose=0)
    text = " ".join(str(w.message) for w in warned)
    assert all(f"{o!r} is deprecated" in text for o in ("maps", "fill", "classes"))
    np.testing.assert_array_equal(old.scores, new.scores)


def test_the_exact_contribution_map_deletes_best(linear):
    """For a linear softmax over two classes, pixel i moves the log-odds of
    class c by x_i (w_ic - w_io) against a zero baseline: deleting in that
    order drops p(c) fastest."""
    model, w, b = linear
    x = np.random.RandomState(2).uniform(0, 1, (6, 3, 3, 1)).astype("float32")
    classes = model.predict(x, verbose=0).argmax(axis=1)
    diff = (w[:, 0] - w[:, 1])[None] * np.where(classes == 0, 1, -1)[:, None]
    exact = (x.reshape(6, 9) * diff).reshape(6, 3, 3)
    best = zfkeras.faithfulness(model, x, exact, steps=9, baseline=0.0, verbose=0)
    worst = zfkeras.faithfulness(model, x, -exact, steps=9, baseline=0.0, verbose=0)
    assert np.all(best.scores < worst.scores)
    np.testing.assert_array_equal(best.details["classes"], classes)  # default: predicted
    assert zfkeras.faithfulness(model, x, exact, "insertion", steps=9, baseline=0.0, verbose=0).mean > \
        zfkeras.faithfulness(model, x, -exact, "insertion", steps=9, baseline=0.0, verbose=0).mean


def test_blur_baseline():
    flat = np.full((2, 9, 9, 3), 0.25, "float32")
    np.testing.assert_allclose(blur(flat), flat, atol=1e-6)  # a constant image stays
    impulse = np.zeros((1, 15, 15, 1), "float32")
    impulse[0, 7, 7] = 1
    out = blur(impulse, sigma=1.0)[0, ..., 0]
    assert out.sum() == pytest.approx(1.0, abs=1e-5) and out[7, 7] == out.max()
    assert out[7, 8] / out[7, 7] == pytest.approx(np.exp(-0.5), rel=1e-4)  # Gaussian, sigma 1


def test_occlusion_drop_on_a_summing_convolution():
    """conv 3x3 of ones, relu: the unit at (y, x) is the sum of its window; the
    map marks that window, so occluding it silences the unit (drop 1)."""
    model = keras.Sequential([keras.Input((9, 9, 1)),
                              L.Conv2D(1, 3, use_bias=False, activation="relu", name="sum")])
    model.layers[0].set_weights([np.ones((3, 3, 1, 1), "float32")])
    rng = np.random.RandomState(3)
    x = rng.uniform(0, 1, (5, 9, 9, 1)).astype("float32")
    sums = model.predict(x, verbose=0)[..., 0]
    pos = np.stack(np.unravel_index(sums.reshape(5, -1).argmax(1), (7, 7)), 1)
    maps = np.zeros((5, 9, 9), "float32")
    for i, (y, xx) in enumerate(pos):
        maps[i, y:y + 3, xx:xx + 3] = 1
    result = occlusion_drop(model, x, maps, zfkeras.Unit("sum", 0), size=3, baseline=0.0, seed=7)
    np.testing.assert_array_equal(result.details["positions"], pos)
    np.testing.assert_allclose(result.details["map_drop"], 1.0, rtol=1e-6)
    # the random square: the window's pixels it covers are lost, by hand
    expected = []
    for i, (t, l, bottom, right) in enumerate(result.details["random_boxes"]):
        window = np.zeros((9, 9), bool)
        window[pos[i, 0]:pos[i, 0] + 3, pos[i, 1]:pos[i, 1] + 3] = True
        box = np.zeros((9, 9), bool)
        box[t:bottom, l:right] = True
        expected.append(x[i, ..., 0][window & box].sum() / x[i, ..., 0][window].sum())
    np.testing.assert_allclose(result.details["random_drop"], expected, rtol=1e-5)
    np.testing.assert_allclose(result.scores, 1.0 - np.array(expected), rtol=1e-5)
    same = zfkeras.faithfulness(model, x, maps, "occlusion_drop", baseline=0.0, unit=zfkeras.Unit("sum", 0),
                                size=3, seed=7)
    np.testing.assert_allclose(same.scores, result.scores)
    # the position is honoured: at a fixed position the unit is the sum of that window
    fixed = occlusion_drop(model, x, maps, zfkeras.Unit("sum", 0, position=(0, 0)), size=3, baseline=0.0, seed=7)
    np.testing.assert_array_equal(fixed.details["positions"], np.zeros((5, 2)))
    np.testing.assert_allclose(fixed.details["values"], x[:, :3, :3, 0].sum(axis=(1, 2)), rtol=1e-5)
    # the old order (unit, maps) and tuple still work, with warnings
    with pytest.warns(DeprecationWarning):
        old = occlusion_drop(model, x, ("sum", 0), maps, size=3, baseline=0.0, seed=7)
    np.testing.assert_allclose(old.scores, result.scores)


def test_errors(linear):
    model, _, _ = linear
    x = np.zeros((2, 3, 3, 1), "float32")
    with pytest.raises(InputError, match="metric must be one of 'deletion', 'insertion', 'occlusion_drop'"):
        zfkeras.faithfulness(model, x, np.zeros((2, 3, 3)), "mufidelity")
    with pytest.raises(ValueError, match=r"maps must be \(N, H, W\) or \(N, H, W, C\)"):
        zfkeras.faithfulness(model, x, np.zeros((2, 4, 4)))
    with pytest.raises(InputError, match="needs unit="):
        zfkeras.faithfulness(model, x, np.zeros((2, 3, 3)), "occlusion_drop")
    # options a metric does not read are refused, not ignored
    with pytest.raises(InputError, match="'occlusion_drop' does not use steps, targets"):
        zfkeras.faithfulness(model, x, np.zeros((2, 3, 3)), "occlusion_drop", steps=3, targets=0,
                             unit=zfkeras.Unit("x", 0), size=1)
    with pytest.raises(InputError, match="'deletion' does not use seed, size, unit"):
        zfkeras.faithfulness(model, x, np.zeros((2, 3, 3)), unit=zfkeras.Unit("x", 0), size=1, seed=0)
    with pytest.raises(InputError, match="'blur' is not accepted|baseline must be"):
        zfkeras.faithfulness(model, x, np.zeros((2, 3, 3)), baseline="grey")
