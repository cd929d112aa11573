"""zfkeras.keras_objects.losses.SparseSmoothedCrossentropy against numpy and Keras."""

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras.keras_objects.losses import SparseSmoothedCrossentropy


def _numpy_loss(labels, probs, eps):
    k = probs.shape[-1]
    target = np.full(probs.shape, eps / k)
    target[np.arange(len(labels)), labels] += 1 - eps
    return float(np.mean(-(target * np.log(probs)).sum(axis=-1)))


def test_equals_a_numpy_computation():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    labels = np.array([0, 3, 1, 2, 2, 0])
    got = float(SparseSmoothedCrossentropy(0.2)(labels, probs.astype("float32")))
    assert got == pytest.approx(_numpy_loss(labels, probs, 0.2), rel=1e-5)
    # logits give the same loss as their softmax
    from_logits = float(SparseSmoothedCrossentropy(0.2, from_logits=True)(labels[:, None], logits.astype("float32")))
    assert from_logits == pytest.approx(got, rel=1e-5)


def test_zero_smoothing_is_sparse_crossentropy():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5), size=8).astype("float32")
    labels = rng.integers(0, 5, size=8)
    ours = float(SparseSmoothedCrossentropy(0.0)(labels, probs))
    keras_loss = float(keras.losses.SparseCategoricalCrossentropy()(labels, probs))
    assert ours == pytest.approx(keras_loss, rel=1e-6)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 2])
def test_smoothing_out_of_range_is_refused(bad):
    with pytest.raises(ValueError, match="label_smoothing"):
        SparseSmoothedCrossentropy(bad)


def test_compiled_model_round_trips(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="softmax")])
    model.compile("sgd", loss=SparseSmoothedCrossentropy(0.3), metrics=["accuracy"])
    x, y = np.ones((2, 3), "float32"), np.array([1, 2])
    before = model.evaluate(x, y, verbose=0)[0]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = zfkeras.load_model(path)
    assert loaded.loss.label_smoothing == pytest.approx(0.3)
    assert loaded.evaluate(x, y, verbose=0)[0] == pytest.approx(before, rel=1e-6)
