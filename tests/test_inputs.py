"""zfkeras.utils.inputs: the one image check; its messages quote what they received."""

import keras
import numpy as np
import pytest

from zfkeras.utils.inputs import check_image_shape, check_images, model_input_shape, stored_images

EXPECTED = (6, 5, 3)


@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((6, 5, 3), "float32"), ValueError,
     r"inputs must be 4-D, a batch of images shaped \(N, H, W, C\); got shape \(6, 5, 3\) and dtype float32; "
     r"one image\? add a batch axis: images\[None\]"),
    (np.zeros((2, 6, 5, 3, 1), "float64"), ValueError, r"got shape \(2, 6, 5, 3, 1\) and dtype float64$"),
    (np.zeros((0, 6, 5, 3), "float32"), ValueError, r"inputs is empty \(shape \(0, 6, 5, 3\)\); give at least 1 image"),
    (np.zeros((2, 7, 5, 3), "float32"), ValueError,
     r"inputs have height 7 but the model expects 6 \(got images shaped \(7, 5, 3\); model 'net' takes \(6, 5, 3\)\)"),
    (np.zeros((2, 6, 4, 3), "float32"), ValueError, r"inputs have width 4 but the model expects 5"),
    (np.zeros((2, 6, 5, 1), "float32"), ValueError, r"inputs have channel count 1 but the model expects 3"),
    (np.zeros((2, 6, 5, 3), bool), TypeError, r"real numbers .* got dtype bool \(shape \(2, 6, 5, 3\)\)"),
    (np.zeros((2, 6, 5, 3), complex), TypeError, r"got dtype complex128 \(shape \(2, 6, 5, 3\)\)"),
    (np.full((2, 6, 5, 3), "x"), TypeError, r"got dtype <U1 \(shape \(2, 6, 5, 3\)\)"),
    ([[1, 2], [3]], TypeError, r"could not read the list given as an array"),
])
def test_messages_quote_what_was_received(bad, error, match):
    with pytest.raises(error, match=match):
        check_images(bad, EXPECTED, "net")


def test_nan_and_inf_name_the_first_bad_image_and_the_batch():
    images = np.zeros((600, 6, 5, 3), "float32")
    images[300, 1, 2, 0] = np.inf  # in the second chunk of the scan
    with pytest.raises(ValueError, match=r"inputs contain NaN or infinite values \(first in image 300 of the batch "
                                         r"of shape \(600, 6, 5, 3\), dtype float32\)"):
        check_images(images, EXPECTED)
    images[300, 1, 2, 0] = 0
    images[2, 0, 0, 2] = np.nan
    with pytest.raises(ValueError, match=r"first in image 2 "):
        check_images(images, EXPECTED)
    assert check_images(images, EXPECTED, finite=False) is images  # no copy when nothing changes


def test_names_minimum_and_unknown_sizes():
    with pytest.raises(ValueError, match=r"^images has 1 image\(s\) \(shape \(1, 6, 5, 3\)\); give at least 2 image\(s\): N >= 2"):
        check_images(np.zeros((1, 6, 5, 3)), EXPECTED, name="images", min_images=2)
    # None entries (a model of any size, or no model yet) are not compared
    assert check_images(np.zeros((1, 9, 9, 3)), (None, None, 3)).shape == (1, 9, 9, 3)
    assert check_images(np.zeros((1, 9, 9, 2))).shape == (1, 9, 9, 2)
    check_image_shape((None, 5, 3), EXPECTED)
    with pytest.raises(ValueError, match=r"dataset images have width 4 but the model expects 5"):
        check_image_shape((None, 4, 3), EXPECTED, name="dataset images")


def test_integer_images_become_float32_and_tensors_are_read():
    import tensorflow as tf

    out = check_images(np.full((2, 6, 5, 3), 255, "uint8"), EXPECTED)
    assert out.dtype == np.float32 and out.max() == 255.0
    kept = check_images(np.zeros((2, 6, 5, 3), "float64"), EXPECTED, dtype=None)
    assert kept.dtype == np.float64
    assert check_images(tf.ones((2, 6, 5, 3)), EXPECTED).sum() == 180.0


def test_model_input_shape_and_stored_images():
    model = keras.Sequential([keras.Input(EXPECTED), keras.layers.Flatten()], name="net")
    assert model_input_shape(model) == EXPECTED
    with pytest.raises(TypeError, match="model must be a keras.Model, got function"):
        model_input_shape(lambda x: x)
    images, to_model = stored_images(model, np.zeros((2, 12, 10, 3)), preprocess=lambda x: x[:, ::2, ::2])
    assert images.shape == (2, 12, 10, 3) and to_model(images).shape == (2, 6, 5, 3)
    _, wrong = stored_images(model, np.zeros((2, 12, 10, 3)), preprocess=lambda x: x)
    with pytest.raises(ValueError, match=r"preprocess\(inputs\) have height 12 but the model expects 6"):
        wrong(images)
    with pytest.raises(ValueError, match=r"inputs have height 12 but the model expects 6"):
        stored_images(model, np.zeros((2, 12, 10, 3)))
