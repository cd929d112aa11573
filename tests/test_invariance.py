import numpy as np
import pytest
import keras

from zfkeras.measures.invariance import invariance, transform_images, transform_matrix


def _spot(h, w, y, x):
    img = np.zeros((1, h, w, 1), "float32")
    img[0, y, x, 0] = 1.0
    return img


def test_translation_moves_down_by_the_fraction_of_the_height():
    out = transform_images(_spot(8, 6, 2, 3), "translate", 0.25, 0.0)  # 2 px
    assert np.unravel_index(out[0, ..., 0].argmax(), (8, 6)) == (4, 3)
    assert out.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("degrees,k", [(90, 1), (180, 2), (270, 3)])
def test_rotation_matches_numpy_rot90_counter_clockwise(degrees, k):
    img = np.random.RandomState(0).rand(1, 7, 7, 2).astype("float32")
    out = transform_images(img, "rotate", degrees)
    np.testing.assert_allclose(out[0], np.rot90(img[0], k=k), atol=1e-5)


def test_scale_about_the_centre():
    img = np.random.RandomState(1).rand(1, 9, 9, 1).astype("float32")
    np.testing.assert_allclose(transform_images(img, "scale", 1.0), img, atol=1e-6)
    big = transform_images(img, "scale", 2.0, 0.0)
    assert big[0, 4, 4, 0] == pytest.approx(img[0, 4, 4, 0])  # the centre stays
    # output (2, 2) samples input 4 + (2 - 4) / 2 = (3, 3); (3, 3) samples (3.5, 3.5)
    assert big[0, 2, 2, 0] == pytest.approx(img[0, 3, 3, 0], rel=1e-5)
    assert big[0, 3, 3, 0] == pytest.approx(img[0, 3:5, 3:5, 0].mean(), rel=1e-5)
    small = transform_images(img, "scale", 0.5, 0.0)
    assert small[0, 0, 0, 0] == 0.0  # brought in from outside: the fill


def test_bad_transform_arguments():
    with pytest.raises(ValueError, match="transform must be one of 'translate', 'scale', 'rotate'; got 'shear'"):
        transform_matrix("shear", 1, 4, 4)
    with pytest.raises(ValueError, match="scale factor must be > 0"):
        transform_matrix("scale", 0, 4, 4)


def _model():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6, activation="relu", name="fc7")(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def test_curves_against_direct_computation():
    model = _model()
    rng = np.random.RandomState(2)
    images = rng.rand(3, 8, 8, 1).astype("float32")
    labels = np.array([0, 2, 1])
    result = invariance(model, images, labels, "rotate", [0, 90, 45], preprocess=lambda x: x * 2.0)
    np.testing.assert_allclose(result.distance["conv1"][:, 0], 0.0, atol=1e-6)
    sub = keras.Model(model.input, model.get_layer("fc7").output)
    f0 = sub.predict(images * 2.0, verbose=0)
    rotated = transform_images(images, "rotate", 45)
    f = sub.predict(rotated * 2.0, verbose=0)
    expected = np.linalg.norm(f - f0, axis=1) / np.linalg.norm(f0, axis=1)
    np.testing.assert_allclose(result.distance["fc7"][:, 2], expected, rtol=1e-4)
    probs = model.predict(rotated * 2.0, verbose=0)
    np.testing.assert_allclose(result.probability[:, 2], probs[np.arange(3), labels], rtol=1e-5)
    np.testing.assert_array_equal(result.predicted[:, 2], probs.argmax(1))
    assert result.distance["conv1"][:, 1].min() > 0  # a 90 degree turn changes layer 1


def test_curves_bad_input():
    model = _model()
    images = np.zeros((2, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="unknown layer 'conv9'"):
        invariance(model, images, [0, 1], "scale", layers=("conv9",))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 3\) for a model with 3 classes; got 3 at index 1"):
        invariance(model, images, [0, 3], "scale")
    with pytest.raises(ValueError, match=r"one class index per image \(2\); got shape \(1,\)"):
        invariance(model, images, [0], "scale")


def _nested_model():
    inner_in = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv1")(inner_in)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv2")(x)
    base = keras.Model(inner_in, x, name="base")
    outer_in = keras.Input((8, 8, 1))
    y = base(keras.layers.Rescaling(2.0, name="scale")(outer_in))
    out = keras.layers.Dense(3, activation="softmax", name="fc")(keras.layers.Flatten()(y))
    return keras.Model(outer_in, out, name="outer"), base


def _oracle_distance(sub, images, transformed):
    f0 = np.asarray(sub(images)).reshape(len(images), -1)
    f = np.asarray(sub(transformed)).reshape(len(images), -1)
    return np.linalg.norm(f - f0, axis=1) / np.linalg.norm(f0, axis=1)


def test_a_sequential_model():
    # Keras 3's Sequential has no `output`: reading it failed on the most common kind of model.
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, activation="relu", name="conv1"),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax", name="out")])
    images = np.random.RandomState(4).rand(3, 8, 8, 1).astype("float32")
    targets = np.array([2, 0, 1])
    result = invariance(model, images, targets, "translate", [0.0, 0.25], layers=["conv1"], verbose=0)
    moved = transform_images(images, "translate", 0.25)
    sub = keras.Model(model.inputs[0], model.get_layer("conv1").output)
    np.testing.assert_allclose(result.distance["conv1"][:, 1], _oracle_distance(sub, images, moved), rtol=1e-4)
    probs = np.asarray(model(moved))
    np.testing.assert_allclose(result.probability[:, 1], probs[np.arange(3), targets], rtol=1e-5)


def test_a_nested_layer_gives_the_nested_models_own_numbers():
    # A nested name went through the resolver, then model.get_layer('base/conv2') failed.
    keras.utils.set_random_seed(5)
    model, base = _nested_model()
    images = np.random.RandomState(6).rand(4, 8, 8, 1).astype("float32")
    result = invariance(model, images, [0, 1, 2, 0], "rotate", [0, 90, 30], layers=["base/conv2", "base/conv1"],
                        verbose=0)
    # The oracle: the inner model run directly on the outer preprocessing.
    for name in ("conv1", "conv2"):
        sub = keras.Model(base.inputs[0], base.get_layer(name).output)
        for j, degrees in enumerate([90, 30]):
            turned = transform_images(images, "rotate", degrees)
            np.testing.assert_allclose(result.distance[f"base/{name}"][:, j + 1],
                                       _oracle_distance(sub, images * 2.0, turned * 2.0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result.distance["base/conv2"][:, 0], 0.0, atol=1e-6)


def test_logits_dataset_inputs_and_the_baseline():
    import tensorflow as tf

    keras.utils.set_random_seed(7)
    model = _model()
    logits = keras.Model(model.inputs[0], keras.layers.Dense(3, name="logits")(model.get_layer("fc7").output))
    logits.get_layer("logits").set_weights(model.layers[-1].get_weights())
    images = np.random.RandomState(8).rand(5, 8, 8, 1).astype("float32")
    targets = np.array([0, 1, 2, 1, 0])
    want = invariance(model, images, targets, "scale", [1.0, 0.7], verbose=0)
    # a logits model gives the softmax model's probabilities (detected, and told)
    for from_logits in (None, True):
        got = invariance(logits, images, targets, "scale", [1.0, 0.7], from_logits=from_logits, verbose=0)
        np.testing.assert_allclose(got.probability, want.probability, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="is not probabilities"):
        invariance(logits, images + 5, targets, "scale", [1.0, 0.7], from_logits=False, verbose=0)
    # a dataset gives the array's numbers
    got = invariance(model, tf.data.Dataset.from_tensor_slices(images).batch(2), targets, "scale", [1.0, 0.7],
                     verbose=0)
    np.testing.assert_allclose(got.probability, want.probability, rtol=1e-6)
    np.testing.assert_allclose(got.distance["conv1"], want.distance["conv1"], rtol=1e-6)
    # "mean" (the default) fills with each channel's mean; 0.0 is a black background
    mean = images.mean()
    shrunk = transform_images(images, "scale", 0.5, "mean")
    np.testing.assert_allclose(shrunk[:, 0, 0, 0], mean, rtol=1e-6)
    np.testing.assert_allclose(shrunk - mean, transform_images(images - mean, "scale", 0.5, 0.0), atol=1e-6)
    by_mean = invariance(model, images, targets, "scale", [1.0, 0.5], baseline="mean", verbose=0)
    sub = keras.Model(model.inputs[0], model.get_layer("conv1").output)
    np.testing.assert_allclose(by_mean.distance["conv1"][:, 1], _oracle_distance(sub, images, shrunk), rtol=1e-4)


def test_one_baseline_per_channel():
    images = np.random.RandomState(9).rand(2, 6, 6, 3).astype("float32")
    out = transform_images(images, "translate", 2 / 6, baseline=[0.1, 0.5, 0.9])  # 2 px down
    np.testing.assert_allclose(out[:, :2], np.broadcast_to([0.1, 0.5, 0.9], (2, 2, 6, 3)), atol=1e-6)
    np.testing.assert_allclose(out[:, 2:], images[:, :4], atol=1e-6)
    with pytest.raises(ValueError, match=r"baseline must be a number or 3 values \(one per channel\); got 2 values: \[0.1, 0.5\]"):
        transform_images(images, "translate", 0.1, baseline=[0.1, 0.5])


def test_deprecated_names_warn_and_give_the_same_result():
    model = _model()
    images = np.random.RandomState(10).rand(3, 8, 8, 1).astype("float32")
    want = invariance(model, images, targets=[0, 1, 2], transform="rotate", amounts=[45], baseline=0.3, verbose=0)
    with pytest.warns(DeprecationWarning, match=r"'labels' is deprecated .*use 'targets'"):
        with pytest.warns(DeprecationWarning, match=r"'fill_value' is deprecated .*use 'baseline'"):
            got = invariance(model, images, labels=[0, 1, 2], transform="rotate", amounts=[45], fill_value=0.3,
                             verbose=0)
    np.testing.assert_array_equal(got.probability, want.probability)
    np.testing.assert_array_equal(got.distance["fc7"], want.distance["fc7"])
