import numpy as np
import pytest
import tensorflow as tf

from zfkeras.layers import MaxPoolWithArgmax, MaxUnpool2D


def brute_force_unpool(signal, switches, shape):
    out = np.zeros(int(np.prod(shape)), signal.dtype)
    for value, index in zip(signal.ravel(), switches.ravel()):
        out[index] += value  # windows sharing a winner sum
    return out.reshape(shape)


@pytest.mark.parametrize("shape,k,s,padding", [
    ((3, 7, 7, 2), 3, 2, "same"),
    ((2, 9, 8, 3), 3, 2, "valid"),
    ((2, 6, 6, 2), 2, 2, "valid"),
])
def test_unpool_matches_brute_force(shape, k, s, padding):
    rng = np.random.RandomState(0)
    x = rng.randn(*shape).astype("float32")
    _, switches = MaxPoolWithArgmax(k, s, padding)(x)
    signal = rng.randn(*switches.shape).astype("float32")
    out = MaxUnpool2D(output_size=shape[1:3])(signal, switches)
    np.testing.assert_allclose(out.numpy(), brute_force_unpool(signal, switches.numpy(), shape), rtol=1e-6)


def test_overlapping_windows_sum():
    # One dominant value wins all four overlapping 3x3/2 windows around it.
    x = np.zeros((1, 5, 5, 1), "float32")
    x[0, 2, 2, 0] = 9.0
    _, switches = MaxPoolWithArgmax(3, 2, "valid")(x)
    assert set(switches.numpy().ravel()) == {12}
    out = MaxUnpool2D(output_size=(5, 5))(np.ones((1, 2, 2, 1), "float32"), switches)
    assert out.numpy()[0, 2, 2, 0] == 4.0
    assert out.numpy().sum() == 4.0


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_unpool_equals_max_pool_gradient(padding):
    # Unpooling with fixed switches is the adjoint of max pooling.
    rng = np.random.RandomState(2)
    x = tf.constant(rng.randn(4, 11, 10, 3).astype("float32"))
    _, switches = MaxPoolWithArgmax(3, 2, padding)(x)
    signal = rng.randn(*switches.shape).astype("float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(x, 3, 2, padding.upper())
    grad = tape.gradient(y, x, output_gradients=signal)
    out = MaxUnpool2D()(signal, switches, output_size=(11, 10))
    np.testing.assert_allclose(out.numpy(), grad.numpy(), rtol=1e-5, atol=1e-6)


def test_missing_output_size_is_explained():
    _, switches = MaxPoolWithArgmax(2)(np.ones((1, 4, 4, 1), "float32"))
    with pytest.raises(ValueError, match="output size"):
        MaxUnpool2D()(np.ones((1, 2, 2, 1), "float32"), switches)


def test_config_round_trip():
    layer = MaxUnpool2D(output_size=(13, 13), name="u")
    clone = MaxUnpool2D.from_config(layer.get_config())
    assert clone.output_size == (13, 13) and clone.name == "u"
    assert clone.compute_output_shape((None, 6, 6, 4)) == (None, 13, 13, 4)


@pytest.mark.parametrize("shape,k,s,padding", [((3, 7, 7, 2), 3, 2, "same"), ((2, 9, 8, 3), 3, 2, "valid")])
def test_fused_unpool_equals_scatter_unpool(shape, k, s, padding):
    from zfkeras.layers import unpool, unpool_like

    rng = np.random.RandomState(3)
    x = tf.constant(rng.randn(*shape).astype("float32"))
    _, switches = MaxPoolWithArgmax(k, s, padding)(x)
    signal = rng.randn(*switches.shape).astype("float32")
    fused = unpool_like(signal, switches, x, (k, k), (s, s), padding).numpy()
    np.testing.assert_allclose(fused, unpool(signal, switches, shape[1:3]).numpy(), rtol=1e-6)
    np.testing.assert_allclose(fused, brute_force_unpool(signal, switches.numpy(), shape), rtol=1e-6)


def test_output_size_as_int_or_pair():
    assert MaxUnpool2D(output_size=5).output_size == (5, 5)
    assert MaxUnpool2D(output_size=(np.int64(4), 6)).output_size == (4, 6)
    with pytest.raises(ValueError, match="output_size must be a positive integer, got 0"):
        MaxUnpool2D(output_size=(0, 3))
