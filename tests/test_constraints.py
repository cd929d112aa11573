import numpy as np
import pytest
import keras

from zfkeras.keras_objects.constraints import FilterRMSClip


def _rms(w):
    return np.sqrt((w**2).reshape(-1, w.shape[-1]).mean(0))


def test_clips_only_filters_above_radius():
    rng = np.random.RandomState(0)
    w = rng.randn(5, 5, 3, 6).astype("float32") * 0.05
    w[..., 1] *= 10  # RMS ~0.5
    w[..., 4] *= 4   # RMS ~0.2
    before = _rms(w)
    out = keras.ops.convert_to_numpy(FilterRMSClip(0.1)(keras.ops.convert_to_tensor(w)))
    after = _rms(out)
    big = before > 0.1
    assert big.sum() == 2 and (~big).sum() == 4
    np.testing.assert_allclose(after[big], 0.1, rtol=1e-5)
    np.testing.assert_array_equal(out[..., ~big], w[..., ~big])  # untouched
    # direction preserved
    for o in np.nonzero(big)[0]:
        np.testing.assert_allclose(out[..., o], w[..., o] * 0.1 / before[o], rtol=1e-5)


def test_applied_after_each_update_in_training():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.RandomNormal(stddev=1.0),
                            kernel_constraint=FilterRMSClip(0.1)),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    ])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    assert _rms(model.layers[0].kernel.numpy()).max() > 0.5
    model.fit(np.random.rand(8, 8, 8, 1), np.random.rand(8, 2), epochs=1, verbose=0)
    assert _rms(model.layers[0].kernel.numpy()).max() <= 0.1 + 1e-6


def test_bad_radius_and_config():
    with pytest.raises(ValueError, match="radius must be > 0, got 0"):
        FilterRMSClip(0)
    with pytest.raises(TypeError, match="radius must be a number, got '0.1'"):
        FilterRMSClip("0.1")
    assert FilterRMSClip.from_config(FilterRMSClip(0.3).get_config()).radius == 0.3
