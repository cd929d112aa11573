import numpy as np
import pytest
import keras

from zfkeras.measures.invariance import invariance, transform_images, transform_matrix


def _spot(h, w, y, x):
    img = np.zeros((1, h, w, 1), "float32")
    img[0, y, x, 0] = 1.0
    return img


def test_translation_moves_down_by_the_fraction_of_the_height():
    out = transform_images(_spot(8, 6, 2, 3), "translate", 0.25)  # 2 px
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
    big = transform_images(img, "scale", 2.0)
    assert big[0, 4, 4, 0] == pytest.approx(img[0, 4, 4, 0])  # the centre stays
    # output (2, 2) samples input 4 + (2 - 4) / 2 = (3, 3); (3, 3) samples (3.5, 3.5)
    assert big[0, 2, 2, 0] == pytest.approx(img[0, 3, 3, 0], rel=1e-5)
    assert big[0, 3, 3, 0] == pytest.approx(img[0, 3:5, 3:5, 0].mean(), rel=1e-5)
    small = transform_images(img, "scale", 0.5)
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
