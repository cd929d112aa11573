import numpy as np
import pytest
import tensorflow as tf

from zfkeras.layers import MaxPoolWithArgmax


def brute_force_pool(x, k, s, padding):
    """numpy max pool returning values and batch-inclusive flat argmax (first max wins)."""
    b, h, w, c = x.shape
    if padding == "same":
        oh, ow = -(-h // s), -(-w // s)
        ph, pw = max((oh - 1) * s + k - h, 0), max((ow - 1) * s + k - w, 0)
        top, left = ph // 2, pw // 2
    else:
        oh, ow, top, left = (h - k) // s + 1, (w - k) // s + 1, 0, 0
    vals = np.zeros((b, oh, ow, c), x.dtype)
    idx = np.zeros((b, oh, ow, c), np.int64)
    for n in range(b):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    best, arg = -np.inf, None
                    for di in range(k):
                        for dj in range(k):
                            y, xx = i * s - top + di, j * s - left + dj
                            if 0 <= y < h and 0 <= xx < w and x[n, y, xx, ch] > best:
                                best, arg = x[n, y, xx, ch], ((n * h + y) * w + xx) * c + ch
                    vals[n, i, j, ch], idx[n, i, j, ch] = best, arg
    return vals, idx


@pytest.mark.parametrize("shape,k,s,padding", [
    ((3, 7, 7, 2), 3, 2, "same"),   # overlapping windows, padding needed
    ((2, 8, 6, 3), 3, 2, "valid"),
    ((2, 6, 6, 1), 2, 2, "same"),   # no padding needed
    ((1, 5, 9, 2), 3, 1, "same"),
])
def test_matches_brute_force(shape, k, s, padding):
    x = np.random.RandomState(0).randn(*shape).astype("float32")
    layer = MaxPoolWithArgmax(k, s, padding)
    pooled, switches = layer(x)
    ref_vals, ref_idx = brute_force_pool(x, k, s, padding)
    np.testing.assert_array_equal(pooled.numpy(), ref_vals)
    np.testing.assert_array_equal(switches.numpy(), ref_idx)
    assert switches.dtype == tf.int64
    assert tuple(pooled.shape) == layer.compute_output_shape(shape)[0]


def test_ties_pick_first_position_like_the_gradient():
    # Post-ReLU maps are full of zero ties; the switch must be the position
    # TensorFlow's max-pool gradient routes to (the first in scan order).
    x = np.zeros((2, 5, 5, 1), "float32")
    x[1, 2, 2, 0] = 1.0
    _, switches = MaxPoolWithArgmax(3, 2, "same")(x)
    _, ref = brute_force_pool(x, 3, 2, "same")
    np.testing.assert_array_equal(switches.numpy(), ref)


def test_dynamic_shapes_in_tf_function():
    layer = MaxPoolWithArgmax(3, 2, "same")

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 2])])
    def fn(x):
        return layer(x)

    for shape in [(2, 7, 9, 2), (1, 10, 4, 2)]:
        x = np.random.RandomState(1).randn(*shape).astype("float32")
        pooled, switches = fn(x)
        vals, idx = brute_force_pool(x, 3, 2, "same")
        np.testing.assert_array_equal(switches.numpy(), idx)
        np.testing.assert_array_equal(pooled.numpy(), vals)


def test_config_round_trip_and_errors():
    layer = MaxPoolWithArgmax((3, 2), strides=(2, 1), padding="SAME", name="p")
    clone = MaxPoolWithArgmax.from_config(layer.get_config())
    assert (clone.pool_size, clone.strides, clone.padding) == ((3, 2), (2, 1), "same")
    with pytest.raises(ValueError, match="padding must be one of 'valid', 'same'; got 'full'"):
        MaxPoolWithArgmax(2, padding="full")
    with pytest.raises(ValueError, match=r"pool_size must be a positive integer or a pair of them, got \(2, 2, 2\)"):
        MaxPoolWithArgmax((2, 2, 2))


def test_numpy_ints_accepted_strings_refused():
    layer = MaxPoolWithArgmax(np.int64(2), strides=np.int32(1))
    assert (layer.pool_size, layer.strides) == ((2, 2), (1, 1))
    assert all(type(v) is int for v in layer.pool_size + layer.strides)
    with pytest.raises(TypeError, match="got the string '22'"):
        MaxPoolWithArgmax("22")
    with pytest.raises(ValueError, match="strides must be a positive integer, got 0"):
        MaxPoolWithArgmax(2, strides=0)
    with pytest.raises(TypeError, match="padding must be 'valid' or 'same', got 2"):
        MaxPoolWithArgmax(2, padding=2)


def test_functional_form_takes_ints_like_the_layer():
    from zfkeras.layers import max_pool_with_argmax

    x = np.random.RandomState(4).randn(2, 6, 7, 3).astype("float32")
    pooled, switches = max_pool_with_argmax(x, 2, 2, "valid")
    vals, idx = brute_force_pool(x, 2, 2, "valid")
    np.testing.assert_array_equal(pooled.numpy(), vals)
    np.testing.assert_array_equal(switches.numpy(), idx)
    pooled_default, _ = max_pool_with_argmax(x, 2)  # strides default to pool_size
    np.testing.assert_array_equal(pooled_default.numpy(), vals)
