"""zfkeras.train.recipes: the cosine schedule's values, the paper's constant rate, the loss."""

import math

import numpy as np
import pytest

from zfkeras.train import recipes
from zfkeras.train.config import TrainConfig


def _config(**kw):
    return TrainConfig(**kw).validate()


def test_cosine_schedule_warms_up_then_anneals_to_zero():
    config = _config(epochs=4, learning_rate=0.2, warmup_epochs=1.0, batch_size=10)
    schedule = recipes.learning_rate(config, num_train=95)  # 10 steps per epoch
    per_epoch, total = 10, 40
    assert recipes.steps_per_epoch(95, 10) == per_epoch
    values = np.array([float(schedule(step)) for step in range(total + 1)])
    # linear warm-up from lr / warmup_steps to the peak at the end of epoch 1
    np.testing.assert_allclose(values[:per_epoch + 1], np.linspace(0.02, 0.2, per_epoch + 1), rtol=1e-5)
    # then half a cosine down to 0 at the last step
    t = np.arange(total - per_epoch + 1) / (total - per_epoch)
    np.testing.assert_allclose(values[per_epoch:], 0.1 * (1 + np.cos(math.pi * t)), rtol=1e-5, atol=1e-7)
    assert values[-1] == pytest.approx(0.0, abs=1e-7)


def test_warmup_is_at_most_a_quarter_of_a_short_run():
    schedule = recipes.learning_rate(_config(epochs=1, learning_rate=0.1, warmup_epochs=1.0, batch_size=10), 80)
    values = [float(schedule(step)) for step in range(9)]
    assert values[2] == pytest.approx(0.1) and values[0] < values[1] < values[2]  # 2 warm-up steps of 8
    assert values[8] == pytest.approx(0.0, abs=1e-7)


def test_no_warmup_starts_at_the_peak():
    schedule = recipes.learning_rate(_config(epochs=2, learning_rate=0.1, warmup_epochs=0.0, batch_size=5), 10)
    assert float(schedule(0)) == pytest.approx(0.1)
    assert float(schedule(2)) == pytest.approx(0.05, rel=1e-5)  # half-way through 4 steps


def test_paper_recipe_keeps_a_constant_rate_for_its_annealer():
    config = _config(recipe="paper")
    assert recipes.learning_rate(config, 1000) == 0.01
    assert recipes.loss(config) == "sparse_categorical_crossentropy"
    assert "divided by 10 after 2 epochs" in recipes.describe(config)


def test_label_smoothing_selects_the_smoothed_loss():
    loss = recipes.loss(_config())
    assert type(loss).__name__ == "SparseSmoothedCrossentropy" and loss.label_smoothing == 0.1
    assert "label smoothing 0.1" in recipes.describe(_config())
    assert "cosine annealing to 0 at epoch 11" in recipes.describe(_config())


def test_weight_decay_shrinks_kernels_by_lr_times_decay_and_leaves_biases():
    import keras

    layer = keras.layers.Dense(3, bias_initializer="ones")
    layer.build((None, 4))
    kernel, bias = (np.array(v) for v in (layer.kernel, layer.bias))
    config = _config(recipe="paper", learning_rate=0.1, weight_decay=0.01, momentum=0.0)
    sgd = recipes.optimizer(config, num_train=10)
    zeros = [np.zeros_like(kernel), np.zeros_like(bias)]
    sgd.apply_gradients(zip(zeros, [layer.kernel, layer.bias]))
    # decoupled decay with zero gradients: w <- w - lr * wd * w
    np.testing.assert_allclose(np.array(layer.kernel), kernel * (1 - 0.1 * 0.01), rtol=1e-6)
    np.testing.assert_array_equal(np.array(layer.bias), bias)


def test_no_weight_decay_and_nesterov_are_off_by_default():
    sgd = recipes.optimizer(_config(), num_train=100)
    assert sgd.weight_decay is None and not sgd.nesterov
    assert recipes.optimizer(_config(nesterov=True), num_train=100).nesterov


def test_describe_names_the_optional_parts():
    text = recipes.describe(_config(weight_decay=5e-3, nesterov=True, augment_translate=2, augment_cutout=8))
    assert text.endswith("Nesterov momentum, weight decay 0.005, random shifts of up to 2 px, cutout of 8 px squares")
    assert "weight decay" not in recipes.describe(_config())
