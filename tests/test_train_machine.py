"""Pipelines sized to the machine (--data-threads, the core count) and mixed
precision (--mixed-precision; the analyses stay float32)."""

import numpy as np
import pytest
import tensorflow as tf

from zfkeras.data import pipeline
from zfkeras.train.config import TrainConfig, config_differences
from zfkeras.methods.unit import Unit


@pytest.fixture
def threads_setting():
    previous = pipeline.set_data_threads(0)
    yield
    pipeline.set_data_threads(previous)


@pytest.mark.parametrize("cores, threads, autotuned, pool", [
    (2, 0, False, 1),    # a 2-core machine: the one-thread mode
    (1, 0, False, 1),
    (16, 0, True, None),  # many cores: tf.data autotuning
    (16, 1, False, 1),   # --data-threads 1 forces the one-thread mode
    (2, 4, False, 4),    # --data-threads 4: a private pool of four
])
def test_pipeline_options_follow_the_cores_and_the_setting(monkeypatch, threads_setting, cores, threads,
                                                           autotuned, pool):
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda pid: set(range(cores)))
    pipeline.set_data_threads(threads)
    options = pipeline.pipeline_options()
    assert options.autotune.enabled is not False if autotuned else options.autotune.enabled is False
    assert options.threading.private_threadpool_size == pool
    assert pipeline.parallel_calls() == (tf.data.AUTOTUNE if autotuned else pool)
    data = pipeline.array_dataset(np.zeros((10, 2), np.float32), np.arange(10), 4, preprocess=lambda x, y: (x, y))
    assert data.options().threading.private_threadpool_size == pool
    assert [len(x) for x, _ in data.as_numpy_iterator()] == [4, 4, 2]


def test_available_cores_falls_back_to_the_cpu_count(monkeypatch):
    def no_affinity(pid):
        raise OSError("not supported")

    monkeypatch.setattr(pipeline.os, "sched_getaffinity", no_affinity)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 24)
    assert pipeline.available_cores() == 24


def test_data_threads_and_worker_timeout_are_settings_that_resume():
    config = TrainConfig(data_threads=3, worker_timeout=20).validate()
    assert config.data_threads == 3
    with pytest.raises(ValueError, match="data_threads"):
        TrainConfig(data_threads=-1).validate()
    with pytest.raises(ValueError, match="worker_timeout"):
        TrainConfig(worker_timeout=-5).validate()
    # changing them does not make another run; mixed precision does
    saved = TrainConfig().validate().to_dict()
    assert config_differences(saved, dict(saved, data_threads=8, worker_timeout=60)) == []
    assert config_differences(saved, dict(saved, mixed_precision=True)) == [("mixed_precision", False, True)]


def test_mixed_precision_model_projects_like_its_float32_copy():
    import keras

    from zfkeras import zfnet_small
    from zfkeras.deconv import Deconvnet
    from zfkeras.keras_objects.precision import float32_model, float32_outputs, is_float32, mixed_precision_policy

    with mixed_precision_policy():
        mixed = zfnet_small(input_shape=(28, 28, 1), num_classes=10, seed=0)
        float32_outputs(mixed)
    assert keras.config.dtype_policy().name == "float32"  # the policy does not leak
    assert mixed.get_layer("conv1").compute_dtype == "float16" and not is_float32(mixed)
    assert mixed.layers[-1].compute_dtype == "float32"
    mixed.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=False)
    x = np.random.RandomState(0).randn(16, 28, 28, 1).astype(np.float32)
    y = np.arange(16) % 10
    history = mixed.fit(x, y, batch_size=8, epochs=1, verbose=0)  # a mixed-precision step runs
    assert np.isfinite(history.history["loss"][0])
    copy = float32_model(mixed)
    assert is_float32(copy) and float32_model(copy) is copy
    for a, b in zip(copy.get_weights(), mixed.get_weights()):
        np.testing.assert_array_equal(a, b)
    # The reference: the same weights in a model built float32 from the start.
    reference = zfnet_small(input_shape=(28, 28, 1), num_classes=10, seed=0)
    reference.set_weights(mixed.get_weights())
    ours = Deconvnet(copy).project(x[:2], Unit("conv2", 3))
    expected = Deconvnet(reference).project(x[:2], Unit("conv2", 3))
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(ours, expected, atol=1e-5 * np.abs(expected).max())
    # and the mixed model's own float16 forward pass is close to it
    np.testing.assert_allclose(mixed.predict(x, verbose=0), reference.predict(x, verbose=0), atol=2e-2)

    # The deconvnet, mining and occlusion take the mixed model itself and
    # compute in float32: the same results as on the float32 reference.
    import zfkeras

    direct = Deconvnet(mixed).project(x[:2], Unit("conv2", 3))
    assert direct.dtype == np.float32
    np.testing.assert_allclose(direct, expected, atol=1e-5 * np.abs(expected).max())
    mined = zfkeras.top_activations(mixed, x, ["conv3"], k=3, verbose=0)["conv3"]
    want = zfkeras.top_activations(reference, x, ["conv3"], k=3, verbose=0)["conv3"]
    np.testing.assert_array_equal(mined.image_ids, want.image_ids)
    np.testing.assert_allclose(mined.values, want.values, rtol=1e-5, atol=1e-6)
    occluded = zfkeras.occlusion(mixed, x[:1], 14, 14, verbose=0)
    reference_map = zfkeras.occlusion(reference, x[:1], 14, 14, verbose=0)
    np.testing.assert_allclose(occluded.class_probability, reference_map.class_probability, rtol=1e-5, atol=1e-7)


def test_the_float32_copy_of_a_nested_mixed_model_computes_in_float32_throughout():
    import keras

    from zfkeras.keras_objects.precision import float32_model, is_float32, mixed_precision_policy

    def nested():
        inner_in = keras.Input((8, 8, 3))
        inner = keras.Model(inner_in, keras.layers.ReLU(name="relu")(keras.layers.Conv2D(4, 3, name="conv")(inner_in)),
                            name="base")
        outer_in = keras.Input((8, 8, 3))
        return keras.Model(outer_in, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(inner(outer_in))))

    keras.utils.set_random_seed(0)
    with mixed_precision_policy():
        mixed = nested()
    assert mixed.get_layer("base").get_layer("conv").compute_dtype == "float16"
    copy = float32_model(mixed)
    # the nested model's own layers too, not only the outer ones (is_float32 walks nested models)
    assert is_float32(copy) and copy.get_layer("base").get_layer("conv").compute_dtype == "float32"
    reference = nested()
    reference.set_weights(mixed.get_weights())
    x = np.random.RandomState(0).randn(4, 8, 8, 3).astype(np.float32)
    np.testing.assert_array_equal(copy.predict(x, verbose=0), reference.predict(x, verbose=0))


def test_mixed_precision_training_run_saves_a_float32_model(tmp_path):
    from tests.train_helpers import write_learnable_fashion_mnist
    from zfkeras.runs.folder import RunFolder
    from zfkeras.train.runner import run

    write_learnable_fashion_mnist(tmp_path / "data", n_train=300, n_test=64)
    config = TrainConfig(run_dir=str(tmp_path / "run"), data_dir=str(tmp_path / "data"), epochs=1,
                         max_train_examples=192, validation_size=64, batch_size=64, mixed_precision=True,
                         evolution_sample=32, evolution_maps=2)
    metrics = run(config, verbose=0)
    assert np.isfinite(metrics["history"]["loss"][0])
    model = RunFolder(config.run_dir).load_model()
    assert all(layer.compute_dtype == "float32" for layer in model.layers)
    evolution = RunFolder(config.run_dir).evolution()
    assert np.isfinite(evolution["conv1"][0]["projections"]).all()
