import numpy as np
import pytest
import keras

from zfkeras.measures.correspondence import (
    check_boxes, correspondence, mask_boxes, random_boxes, sign_consistency,
)


def test_sign_consistency_hand_computed():
    eps = np.array([[1.0, -1.0, 0.0], [2.0, 3.0, 0.0], [-1.0, -5.0, 0.0]])
    # signs: (+,-,0), (+,+,0), (-,-,0); pair Hamming: (0,1)=1, (0,2)=1, (1,2)=2
    result = sign_consistency(eps)
    assert result.delta == 8.0  # ordered pairs: 2 * (1 + 1 + 2)
    np.testing.assert_allclose(result.pair_fractions, [1 / 3, 1 / 3, 2 / 3])
    assert result.mean == pytest.approx(4 / 9)
    assert result.std == pytest.approx(np.std([1 / 3, 1 / 3, 2 / 3]))
    assert result.features == 3


def test_identical_changes_are_perfectly_consistent():
    eps = np.tile(np.array([[0.5, -2.0, 1.0, 0.0]]), (4, 1))
    result = sign_consistency(eps * np.array([[1], [2], [3], [4]]))
    assert result.delta == 0.0 and result.mean == 0.0


def _linear_model():
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Flatten()(inputs)
    feat = keras.layers.Dense(5, name="feat")(x)
    out = keras.layers.Dense(2, activation="softmax", name="out")(feat)
    return keras.Model(inputs, out)


def test_correspondence_matches_numpy_on_a_linear_layer():
    model = _linear_model()
    rng = np.random.RandomState(0)
    images = rng.rand(4, 4, 4, 1).astype("float32")
    boxes = np.array([[0, 0, 2, 2], [1, 1, 3, 3], [2, 2, 4, 4], [0, 2, 2, 4]])
    result = correspondence(model, images, boxes, ["feat"], baseline=0.5)["feat"]
    w = model.get_layer("feat").kernel.numpy()
    masked = images.copy()
    for img, (t, l, b, r) in zip(masked, boxes):
        img[t:b, l:r] = 0.5
    eps = (images - masked).reshape(4, -1) @ w  # the bias cancels
    expected = sign_consistency(eps)
    assert result.delta == expected.delta
    np.testing.assert_allclose(result.pair_fractions, expected.pair_fractions)


def test_default_fill_is_the_channel_mean():
    images = np.random.RandomState(1).rand(3, 4, 4, 2).astype("float32")
    out = mask_boxes(images, check_boxes((0, 0, 1, 1), 3, 4, 4), images.mean(axis=(0, 1, 2)))
    np.testing.assert_allclose(out[:, 0, 0], np.tile(images.mean(axis=(0, 1, 2)), (3, 1)), rtol=1e-6)
    np.testing.assert_array_equal(out[:, 1:], images[:, 1:])


def test_random_boxes_fit_and_vary():
    boxes = random_boxes(50, 28, 20, 6, 5, seed=3)
    assert boxes.shape == (50, 4)
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= 28).all() and (boxes[:, 3] <= 20).all()
    assert ((boxes[:, 2] - boxes[:, 0]) == 6).all() and ((boxes[:, 3] - boxes[:, 1]) == 5).all()
    assert len({tuple(b) for b in boxes}) > 10
    np.testing.assert_array_equal(boxes, random_boxes(50, 28, 20, 6, 5, seed=3))


def test_bad_input():
    model = _linear_model()
    images = np.zeros((3, 4, 4, 1), "float32")
    with pytest.raises(ValueError, match=r"box \(0, 0, 5, 2\) is empty or outside the 4x4 image"):
        correspondence(model, images, (0, 0, 5, 2), ["feat"])
    with pytest.raises(ValueError, match=r"box \(2, 0, 2, 2\) is empty"):
        correspondence(model, images, (2, 0, 2, 2), ["feat"])
    with pytest.raises(ValueError, match="N >= 2"):
        correspondence(model, images[:1], (0, 0, 1, 1), ["feat"])
    with pytest.raises(ValueError, match="unknown layer 'conv5'"):
        correspondence(model, images, (0, 0, 1, 1), ["conv5"])
    with pytest.raises(ValueError, match=r"\(N, 4\) integer array with N=3"):
        correspondence(model, images, np.zeros((2, 4), int), ["feat"])
