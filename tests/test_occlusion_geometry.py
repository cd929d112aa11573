"""zfkeras.methods.occlusion.geometry against brute force."""

import keras
import numpy as np
import pytest

from zfkeras.graph.window import Window
from zfkeras.methods.occlusion import geometry


@pytest.mark.parametrize("size,kernel,stride,padding", [
    (13, 3, 1, "same"), (14, 4, 2, "same"), (15, 3, 2, "same"), (16, 2, 3, "same"),
    (13, 3, 2, "valid"), (14, 4, 1, "valid"), (226, 7, 2, "valid"), (55, 3, 2, "same"),
])
def test_window_output_size_matches_keras(size, kernel, stride, padding):
    op = Window((kernel, kernel), (stride, stride), padding=padding, in_size=(size, size + 1))
    layer = keras.layers.MaxPooling2D(kernel, stride, padding=padding)
    expected = layer.compute_output_shape((None, size, size + 1, 1))[1:3]
    assert op.out_size == tuple(expected)
    if padding == "valid":
        assert op.before == op.after == (0, 0)
    else:  # padded input holds exactly the windows read
        for axis in (0, 1):
            padded = op.in_size[axis] + op.before[axis] + op.after[axis]
            assert (op.out_size[axis] - 1) * stride + kernel == padded


def brute_force_affected(starts, extent, kernel, stride, pad, out_size):
    """Output indices whose input window meets the patch, by enumeration."""
    result = []
    for s in starts:
        hit = [o for o in range(out_size)
               if any(o * stride - pad <= i < o * stride - pad + kernel for i in range(s, s + extent))]
        result.append(hit)
    return result


@pytest.mark.parametrize("in_size,kernel,stride,padding", [
    (20, 3, 1, "same"), (20, 4, 2, "same"), (21, 5, 2, "valid"), (19, 2, 2, "valid"), (22, 3, 3, "same"),
])
def test_affected_output_covers_exactly_the_reachable_outputs(in_size, kernel, stride, padding):
    op = Window((kernel, kernel), (stride, stride), padding=padding, in_size=(in_size, in_size))
    rng = np.random.default_rng(0)
    extent = 5
    starts = np.stack([rng.integers(0, in_size - extent + 1, 30), np.arange(30) % (in_size - extent + 1)], 1)
    window = geometry.affected_output(op, geometry.Patches(starts, (extent, extent)))
    for axis in (0, 1):
        truth = brute_force_affected(starts[:, axis], extent, kernel, stride,
                                     op.before[axis], op.out_size[axis])
        first = window.starts[:, axis]
        assert np.all(first >= 0) and np.all(first + window.extent[axis] <= op.out_size[axis])
        for hit, f in zip(truth, first):
            assert all(f <= o < f + window.extent[axis] for o in hit)
        assert window.extent[axis] == max(len(h) for h in truth)


def test_gather_region_assembles_patch_over_cache():
    import tensorflow as tf

    from zfkeras.methods.occlusion.incremental import gather_region

    rng = np.random.default_rng(1)
    cached = rng.normal(size=(12, 11, 2)).astype("float32")
    starts = np.array([[0, 0], [3, 4], [7, 5], [8, 1]])  # unpadded frame; cached is padded by (1, 2)
    patches = rng.normal(size=(4, 3, 4, 2)).astype("float32")
    region = geometry.Patches(np.array([[0, 0], [2, 3], [6, 5], [7, 0]]), (5, 6))
    got = gather_region(tf.constant(cached), tf.constant(patches), tf.constant(region.starts, tf.int32),
                        region.extent, tf.constant(starts, tf.int32), (1, 2)).numpy()
    for p in range(4):
        occluded = cached.copy()
        r, c = starts[p] + (1, 2)
        occluded[r:r + 3, c:c + 4] = patches[p]
        rr, cc = region.starts[p]
        np.testing.assert_array_equal(got[p], occluded[rr:rr + 5, cc:cc + 6])


def test_square_corners():
    corners = geometry.square_corners((224, 224), 50, 10)
    assert corners.shape == (18, 18, 2)
    np.testing.assert_array_equal(corners[2, 5], [20, 50])
    assert corners.max() + 50 <= 224
    assert geometry.square_corners((5, 9), 5, 2).shape == (1, 3, 2)
