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
    with pytest.raises(TypeError, match="needs a keras.Model, got <function.* of type function"):
        model_input_shape(lambda x: x)
    images, to_model = stored_images(model, np.zeros((2, 12, 10, 3)), preprocess=lambda x: x[:, ::2, ::2])
    assert images.shape == (2, 12, 10, 3) and to_model(images).shape == (2, 6, 5, 3)
    _, wrong = stored_images(model, np.zeros((2, 12, 10, 3)), preprocess=lambda x: x)
    with pytest.raises(ValueError, match=r"preprocess\(inputs\) have height 12 but the model expects 6"):
        wrong(images)
    with pytest.raises(ValueError, match=r"inputs have height 12 but the model expects 6"):
        stored_images(model, np.zeros((2, 12, 10, 3)))


# The one adapter: a tf.data.Dataset wherever an image array is taken.

def _dataset_forms(images, labels):
    import tensorflow as tf

    return {
        "unbatched": tf.data.Dataset.from_tensor_slices(images),
        "batched": tf.data.Dataset.from_tensor_slices(images).batch(3),
        "with labels": tf.data.Dataset.from_tensor_slices((images, labels)).batch(4),
        "tfds dict": tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}),
        "uint8": tf.data.Dataset.from_tensor_slices(images.astype("uint8")).batch(2),
    }


def test_check_images_reads_every_form_of_dataset_like_the_array():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (7, 6, 5, 3)).astype("float32")
    labels = np.arange(7)
    for form, dataset in _dataset_forms(images, labels).items():
        got = check_images(dataset, EXPECTED, "net")
        assert got.dtype == np.float32, form
        np.testing.assert_array_equal(got, images, err_msg=form)


def test_dataset_messages_quote_what_was_received():
    import tensorflow as tf

    images = np.zeros((4, 6, 5, 3), "float32")
    with pytest.raises(ValueError, match=r"inputs \(dataset images\) have width 5 but the model expects 4"):
        check_images(tf.data.Dataset.from_tensor_slices(images).batch(2), (6, 4, 3), "net")
    with pytest.raises(ValueError, match=r"inputs is an infinite dataset \(a repeat\(\) without a count\?\)"):
        check_images(tf.data.Dataset.from_tensor_slices(images).repeat(), EXPECTED)
    with pytest.raises(ValueError, match=r"inputs is an empty dataset"):
        check_images(tf.data.Dataset.from_tensor_slices(images).filter(lambda x: False), EXPECTED)
    with pytest.raises(TypeError, match=r"real numbers .* got dtype bool \(shape \(None, 6, 5, 3\)\)"):
        check_images(tf.data.Dataset.from_tensor_slices(images > 0).batch(2), EXPECTED)
    with pytest.raises(TypeError, match=r"a dataset must yield images, \(images, labels\) tuples or \{'image'"):
        check_images(tf.data.Dataset.from_tensor_slices({"pixels": images}), EXPECTED)
    with pytest.raises(ValueError, match=r"must be \(H, W, C\) or batches \(B, H, W, C\); got element shape \(6, 5\)"):
        check_images(tf.data.Dataset.from_tensor_slices(images[..., 0]), EXPECTED)
    nan = images.copy()
    nan[2, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"inputs contain NaN or infinite values \(first in image 2 "):
        check_images(tf.data.Dataset.from_tensor_slices(nan).batch(3), EXPECTED)
    # sizes known only at run time: each batch is checked as it comes
    unknown = tf.data.Dataset.from_generator(lambda: iter([np.zeros((2, 6, 4, 3), "float32")]),
                                             output_signature=tf.TensorSpec((None, None, None, 3), tf.float32))
    with pytest.raises(ValueError, match=r"an image batch from inputs does not fit the model input \(6, 5, 3\)"):
        check_images(unknown, EXPECTED, "net")
    mixed = tf.data.Dataset.from_generator(
        lambda: iter([np.zeros((1, 6, 5, 3), "float32"), np.zeros((1, 7, 5, 3), "float32")]),
        output_signature=tf.TensorSpec((None, None, None, 3), tf.float32))
    with pytest.raises(ValueError, match=r"the dataset's images have different sizes"):
        check_images(mixed)


def test_stored_images_and_the_stream_read_datasets():
    import tensorflow as tf

    from zfkeras.utils.inputs import image_stream

    model = keras.Sequential([keras.Input(EXPECTED), keras.layers.Flatten()], name="net")
    images = np.random.default_rng(1).uniform(size=(5, 12, 10, 3)).astype("float32")
    stored, to_model = stored_images(model, tf.data.Dataset.from_tensor_slices(images),
                                     preprocess=lambda x: x[:, ::2, ::2])
    np.testing.assert_array_equal(stored, images)
    stream = image_stream(model, tf.data.Dataset.from_tensor_slices(images[:, ::2, ::2]), batch_size=2,
                          with_ids=True)
    batches = list(stream.dataset.as_numpy_iterator())
    assert (stream.num_images, stream.num_batches) == (5, 3)
    np.testing.assert_array_equal(np.concatenate([b for b, _ in batches]), images[:, ::2, ::2])
    np.testing.assert_array_equal(np.concatenate([i for _, i in batches]), np.arange(5))


def test_labelled_batches_of_arrays_datasets_and_lists():
    import tensorflow as tf

    from zfkeras.utils.inputs import labelled_batches

    images = np.random.default_rng(2).uniform(size=(5, 6, 5, 3)).astype("float32")
    labels = np.array([3, 1, 4, 1, 5])
    forms = {
        "array": (images, None),
        "unbatched pairs": (tf.data.Dataset.from_tensor_slices((images, labels)), labels),
        "batched dicts": (tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}).batch(2), labels),
        "list of pairs": ([(images[:3], labels[:3]), (images[3:], labels[3:])], labels),
        "list of images": (list(images), None),
    }
    for form, (inputs, want) in forms.items():
        batches, count = labelled_batches(inputs, 2)
        batches = list(batches)
        assert count == len(batches), form
        np.testing.assert_array_equal(np.concatenate([b for b, _ in batches]), images, err_msg=form)
        if want is None:
            assert all(b is None for _, b in batches), form
        else:
            np.testing.assert_array_equal(np.concatenate([b for _, b in batches]), want, err_msg=form)


def test_the_adapter_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, numpy as np; from zfkeras.utils.inputs import check_images; "
            "check_images(np.zeros((1, 2, 2, 1))); assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
