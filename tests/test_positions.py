"""zfkeras.graph.positions.strongest_positions: numpy and TensorFlow agree,
ties go to the first maximum in row-major order."""

import numpy as np
import tensorflow as tf

from zfkeras.graph.positions import strongest_positions


def test_numpy_and_tensorflow_agree_with_a_loop():
    maps = np.random.RandomState(0).randint(0, 4, (20, 5, 7)).astype("float32")  # many ties
    expected = []
    for m in maps:  # brute force: the first maximum scanning rows, then columns
        best = None
        for y in range(5):
            for x in range(7):
                if best is None or m[y, x] > m[best]:
                    best = (y, x)
        expected.append(best)
    ours = strongest_positions(maps)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours, expected)
    traced = tf.function(strongest_positions)(tf.constant(maps))
    assert traced.dtype == tf.int32
    np.testing.assert_array_equal(traced.numpy(), expected)
