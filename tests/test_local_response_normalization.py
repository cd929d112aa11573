import numpy as np
import pytest
import tensorflow as tf

from zfkeras.layers import LocalResponseNormalization


@pytest.mark.parametrize("size,k,alpha,beta", [(5, 2.0, 1e-4, 0.75), (3, 1.0, 1e-2, 0.5), (1, 2.0, 0.1, 1.0)])
def test_matches_tf_lrn(size, k, alpha, beta):
    x = (np.random.RandomState(0).rand(2, 5, 4, 9).astype("float32") - 0.3) * 40
    ours = LocalResponseNormalization(size, k, alpha, beta)(x).numpy()
    ref = tf.nn.local_response_normalization(x, size // 2, k, alpha, beta).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours, x)  # it does normalise


def test_krizhevsky_defaults_and_formula():
    layer = LocalResponseNormalization()
    assert (layer.size, layer.k, layer.alpha, layer.beta) == (5, 2.0, 1e-4, 0.75)
    x = np.zeros((1, 1, 1, 7), "float32")
    x[..., 3] = 100.0
    x[..., 5] = 50.0
    out = layer(x).numpy().ravel()
    # channel 3 sees channels 1..5: 100^2 + 50^2
    assert np.isclose(out[3], 100.0 / (2 + 1e-4 * (100.0**2 + 50.0**2)) ** 0.75, rtol=1e-6)


def test_bad_size():
    with pytest.raises(ValueError, match="odd"):
        LocalResponseNormalization(size=4)


def test_config():
    layer = LocalResponseNormalization(3, 1.5, 2e-4, 0.5, name="n")
    clone = LocalResponseNormalization.from_config(layer.get_config())
    assert (clone.size, clone.k, clone.alpha, clone.beta, clone.name) == (3, 1.5, 2e-4, 0.5, "n")


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"k": 0.0}, ValueError, "k must be > 0, got 0.0"),
        ({"k": -1}, ValueError, "k must be > 0, got -1"),
        ({"alpha": -1e-4}, ValueError, r"alpha must be in \[0.0, inf\), got -0.0001"),
        ({"beta": 0}, ValueError, "beta must be > 0, got 0"),
        ({"size": 4}, ValueError, "size must be a positive odd integer, got 4"),
        ({"size": "5"}, TypeError, "size must be a positive integer, got '5'"),
    ],
)
def test_bad_parameters_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        LocalResponseNormalization(**kwargs)


def test_all_zero_input_stays_finite():
    # the case k <= 0 used to turn into NaN / inf
    out = LocalResponseNormalization(k=1e-3)(np.zeros((1, 2, 2, 5), "float32")).numpy()
    assert np.isfinite(out).all() and not out.any()
