"""zfkeras.data.pipeline: the one-thread tf.data options and array datasets."""

import numpy as np
import pytest

from zfkeras.data.pipeline import array_dataset
from zfkeras.data.pipeline import two_core_options


def test_two_core_options_pin_the_pipeline_threads():
    options = two_core_options()
    assert options.autotune.enabled is False
    assert options.threading.private_threadpool_size == 1


def test_array_dataset_batches_shuffles_and_preprocesses(monkeypatch):
    from zfkeras.data import pipeline

    monkeypatch.setattr(pipeline, "available_cores", lambda: 2)  # the one-thread mode of small machines
    x = np.arange(10, dtype=np.float32).reshape(10, 1) * 10
    y = np.arange(10, dtype=np.int64)
    data = array_dataset(x, y, batch_size=4, shuffle=True, seed=3, preprocess=lambda a, b: (a + 1, b))
    assert data.options().autotune.enabled is False
    assert data.options().threading.private_threadpool_size == 1
    epoch1 = list(data.as_numpy_iterator())
    epoch2 = list(data.as_numpy_iterator())
    assert [len(b) for b, _ in epoch1] == [4, 4, 2]
    xs1, ys1 = np.concatenate([b for b, _ in epoch1]), np.concatenate([l for _, l in epoch1])
    xs2 = np.concatenate([b for b, _ in epoch2])
    np.testing.assert_array_equal(xs1[:, 0], ys1 * 10 + 1)  # pairs kept, preprocess applied
    assert sorted(ys1) == list(range(10)) and list(ys1) != list(range(10))
    assert not np.array_equal(xs1, xs2)  # reshuffled each epoch
    again = array_dataset(x, y, batch_size=4, shuffle=True, seed=3, preprocess=lambda a, b: (a + 1, b))
    np.testing.assert_array_equal(np.concatenate([b for b, _ in again.as_numpy_iterator()]), xs1)
    plain = list(array_dataset(x, None, batch_size=np.int64(10)).as_numpy_iterator())
    np.testing.assert_array_equal(plain[0], x)


@pytest.mark.parametrize(
    "x, y, batch_size, error, message",
    [
        (np.zeros((4, 2)), np.zeros(3), 2, ValueError, r"4 examples but y has shape \(3,\)"),
        (np.zeros((4, 2)), None, 0, ValueError, "batch_size must be a positive integer, got 0"),
        (np.zeros((4, 2)), None, "2", TypeError, "batch_size must be a positive integer, got '2'"),
        (np.zeros((0, 2)), None, 2, ValueError, "non-empty"),
        (np.float32(1.0), None, 2, ValueError, r"non-empty array of examples, got shape \(\)"),
    ],
)
def test_array_dataset_errors(x, y, batch_size, error, message):
    with pytest.raises(error, match=message):
        array_dataset(x, y, batch_size=batch_size)
