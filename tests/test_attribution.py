"""Integrated Gradients, SmoothGrad and VarGrad (zfkeras.methods.attribution)."""

import numpy as np
import pytest

import keras
import tensorflow as tf

import zfkeras
from zfkeras.methods import attribution
from zfkeras.methods.registry import get_method
from zfkeras.utils.errors import InputError


def _convnet(softmax=True, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((12, 12, 2)),
        keras.layers.Conv2D(6, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="relu"),
        keras.layers.Dense(3, activation="softmax" if softmax else None),
    ])


@pytest.fixture(scope="module")
def trained():
    """A convnet trained (a few epochs) to tell three synthetic patterns apart."""
    rng = np.random.default_rng(0)
    n = 300
    labels = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 12, 12, 2)).astype("float32")
    for i, c in enumerate(labels):  # class c: a bright block in third c of the image
        x[i, :, 4 * c:4 * c + 4, c % 2] += 1.5
    model = _convnet()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=15, batch_size=32, verbose=0)
    assert model.evaluate(x, labels, verbose=0)[1] > 0.9  # it did learn
    return model, x[:6], labels[:6]


def _logits(model, images):
    """The pre-softmax scores, computed by numpy from the last layer's input."""
    features = keras.Model(model.inputs, model.layers[-2].output).predict(images, verbose=0)
    w, b = (v.numpy() for v in model.layers[-1].weights)
    return features.astype("float64") @ w + b


@pytest.mark.parametrize("rule", attribution.RULES)
def test_path_points_integrate_polynomials(rule):
    alphas, weights = attribution.path_points(8, rule)
    assert weights.sum() == pytest.approx(1.0)
    assert alphas.min() >= 0 and alphas.max() <= 1
    exact = {"gauss_legendre": 15, "riemann_trapezoid": 1, "riemann_middle": 1}.get(rule, 0)
    for degree in range(exact + 1):  # exact for polynomials up to its degree
        assert (weights * alphas ** degree).sum() == pytest.approx(1 / (degree + 1), rel=1e-12)
    if rule in ("riemann_left", "riemann_right"):
        assert (weights * alphas).sum() != pytest.approx(0.5, rel=1e-6)


def test_integrated_gradients_of_a_linear_model_is_the_closed_form():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(5)])
    x = np.random.default_rng(1).normal(size=(3, 4, 4, 3)).astype("float32")
    baseline = 0.5
    classes = np.array([0, 4, 2])
    result = zfkeras.explain(model, x, "integrated_gradients", classes, steps=3, baseline=baseline)
    w = model.layers[-1].kernel.numpy()  # (48, 5)
    expected = (x - baseline) * w[:, classes].T.reshape(3, 4, 4, 3)
    np.testing.assert_allclose(result.attributions, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.maps, expected.sum(axis=-1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rule", ["riemann_trapezoid", "gauss_legendre"])
def test_completeness_on_a_trained_model(trained, rule):
    model, x, labels = trained
    attributions, (f_x, f_0) = attribution.integrated_gradients(model, x, labels, steps=64, rule=rule,
                                                                return_scores=True, batch_size=50)
    logits = _logits(model, x)
    np.testing.assert_allclose(f_x, logits[np.arange(len(x)), labels], rtol=1e-4)  # pre-softmax
    np.testing.assert_allclose(f_0, _logits(model, np.zeros_like(x))[np.arange(len(x)), labels], rtol=1e-4)
    change = f_x - f_0
    assert np.abs(change).max() > 1  # a trained model's class score moves
    total = attributions.reshape(len(x), -1).sum(axis=1)
    # within 1% of the change (of the largest change where a class barely moves)
    np.testing.assert_allclose(total, change, rtol=0.01, atol=0.01 * np.abs(change).max())
    # few steps of a left Riemann sum are measurably off: the test can fail
    coarse = attribution.integrated_gradients(model, x, labels, steps=2, rule="riemann_left")
    assert np.abs(coarse.reshape(len(x), -1).sum(axis=1) - change).max() > 0.01 * np.abs(change).max()


def test_integrated_gradients_batches_and_maps(trained):
    model, x, labels = trained
    a = zfkeras.explain(model, x, "integrated_gradients", labels, steps=10, batch_size=7)
    b = zfkeras.explain(model, x, "integrated_gradients", labels, steps=10, batch_size=64)
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.maps, a.attributions.sum(axis=-1), rtol=1e-6)
    assert a.options["baseline"] is None and a.options["steps"] == 10
    with_baseline = zfkeras.explain(model, x, "integrated_gradients", labels, steps=10, baseline=x)
    assert np.abs(with_baseline.attributions).max() == 0  # the path has length zero


def test_smoothgrad_without_noise_is_the_gradient(trained):
    model, x, labels = trained
    smooth = zfkeras.explain(model, x, "smoothgrad", labels, noise=0.0, samples=3)
    gradient = zfkeras.explain(model, x, "gradient", labels)
    np.testing.assert_allclose(smooth.attributions, gradient.attributions, rtol=1e-4, atol=1e-6)
    var = zfkeras.explain(model, x, "vargrad", labels, noise=0.0, samples=3)
    assert np.abs(var.attributions).max() < 1e-10


def test_smoothgrad_and_vargrad_equal_a_direct_loop(trained):
    model, x, labels = trained
    samples, noise, seed = 7, 0.2, 3
    rng = np.random.default_rng(seed)
    means, variances = [], []
    for image, label in zip(x, labels):  # the documented draw: image after image
        sigma = noise * (image.max() - image.min())
        noisy = tf.constant(image[None] + (sigma * rng.standard_normal((samples,) + image.shape)).astype("float32"))
        with tf.GradientTape() as tape:
            tape.watch(noisy)
            probabilities = model(noisy)
            features = keras.Model(model.inputs, model.layers[-2].output)(noisy)
            logit = features @ model.layers[-1].kernel + model.layers[-1].bias
            score = logit[:, label]
        grads = tape.gradient(score, noisy).numpy()
        assert probabilities.shape == (samples, 3)
        means.append(grads.mean(0))
        variances.append(grads.var(0, ddof=1))
    smooth = zfkeras.explain(model, x, "smoothgrad", labels, samples=samples, noise=noise, seed=seed, batch_size=3)
    var = zfkeras.explain(model, x, "vargrad", labels, samples=samples, noise=noise, seed=seed, batch_size=50)
    np.testing.assert_allclose(smooth.attributions, np.array(means), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(var.attributions, np.array(variances), rtol=1e-3, atol=1e-8)
    np.testing.assert_allclose(smooth.maps, np.abs(smooth.attributions).sum(-1), rtol=1e-6)
    assert var.maps.min() >= 0 and var.maps.max() > 0
    other = zfkeras.explain(model, x, "smoothgrad", labels, samples=samples, noise=noise, seed=seed + 1)
    assert not np.allclose(other.attributions, smooth.attributions)


def test_registry_records():
    ig, sg, vg = (get_method(n) for n in ("integrated_gradients", "smoothgrad", "vargrad"))
    assert (ig.kind, sg.kind, vg.kind) == ("path integral", "noise average", "noise average")
    assert ig.deterministic and not sg.deterministic and not vg.deterministic
    assert not (ig.units or sg.units or vg.units)


@pytest.mark.parametrize("options, message", [
    ({"rule": "simpson"}, "rule"),
    ({"steps": 1}, "steps >= 2"),
    ({"steps": 0}, "steps"),
    ({"baseline": np.zeros((2, 2))}, "baseline"),
])
def test_integrated_gradients_bad_options(options, message):
    model = _convnet()
    with pytest.raises(InputError, match=message):
        zfkeras.explain(model, np.zeros((2, 12, 12, 2), "float32"), "integrated_gradients", 0, **options)


@pytest.mark.parametrize("method, options, message", [
    ("smoothgrad", {"noise": -1}, "noise"), ("smoothgrad", {"samples": 0}, "samples"),
    ("smoothgrad", {"seed": 1.5}, "seed"), ("vargrad", {"samples": 1}, "samples >= 2")])
def test_noise_bad_options(method, options, message):
    with pytest.raises(InputError, match=message):
        zfkeras.explain(_convnet(), np.zeros((1, 12, 12, 2), "float32"), method, 0, **options)
