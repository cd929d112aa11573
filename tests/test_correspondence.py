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


def test_a_nested_layer_of_a_sequential_base_gives_the_nested_models_own_numbers():
    import tensorflow as tf

    keras.utils.set_random_seed(2)
    base = keras.Sequential([keras.Input((6, 6, 2)), keras.layers.Conv2D(4, 3, name="conv1"),
                             keras.layers.Conv2D(3, 3, name="conv2")], name="base")
    outer_in = keras.Input((6, 6, 2))
    head = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(base(outer_in - 0.5)))
    model = keras.Model(outer_in, head, name="outer")
    images = np.random.RandomState(3).rand(5, 6, 6, 2).astype("float32")
    boxes = (1, 1, 4, 3)
    result = correspondence(model, images, boxes, ["base/conv2", "base/conv1"], verbose=0)
    masked = mask_boxes(images, check_boxes(boxes, 5, 6, 6), images.mean(axis=(0, 1, 2)))
    for name in ("conv1", "conv2"):
        # The oracle: the inner model run directly on the outer preprocessing.
        sub = keras.Model(base.inputs[0], base.get_layer(name).output)
        eps = (np.asarray(sub(images - 0.5)) - np.asarray(sub(masked - 0.5))).reshape(5, -1)
        expected = sign_consistency(eps)
        assert result[f"base/{name}"].delta == expected.delta
        np.testing.assert_allclose(result[f"base/{name}"].pair_fractions, expected.pair_fractions)
    # the Sequential base on its own gives the same numbers
    alone = correspondence(base, images - 0.5, boxes, ["conv2"], baseline=list(images.mean(axis=(0, 1, 2)) - 0.5),
                           verbose=0)
    np.testing.assert_allclose(alone["conv2"].pair_fractions, result["base/conv2"].pair_fractions)
    # a dataset gives the array's numbers
    from_dataset = correspondence(model, tf.data.Dataset.from_tensor_slices(images), boxes, ["base/conv2"], verbose=0)
    assert from_dataset["base/conv2"].delta == result["base/conv2"].delta


def test_fill_is_deprecated_for_baseline():
    model = _linear_model()
    images = np.random.RandomState(4).rand(3, 4, 4, 1).astype("float32")
    want = correspondence(model, images, (0, 0, 2, 2), ["feat"], baseline=0.9, verbose=0)["feat"]
    with pytest.warns(DeprecationWarning, match=r"'fill' is deprecated .*use 'baseline'"):
        got = correspondence(model, images, (0, 0, 2, 2), ["feat"], fill=0.9, verbose=0)["feat"]
    np.testing.assert_array_equal(got.pair_fractions, want.pair_fractions)
    mean = correspondence(model, images, (0, 0, 2, 2), ["feat"], baseline=float(images.mean()), verbose=0)["feat"]
    default = correspondence(model, images, (0, 0, 2, 2), ["feat"], verbose=0)["feat"]
    np.testing.assert_array_equal(default.pair_fractions, mean.pair_fractions)
