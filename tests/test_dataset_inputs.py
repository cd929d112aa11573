"""A tf.data.Dataset given to the entry points that compute a map per image
(through the one adapter, `zfkeras.utils.inputs.check_images`) gives what
the same images as an array give."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zfkeras

L = keras.layers


@pytest.fixture(scope="module")
def setup():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 3))
    x = L.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = L.MaxPooling2D(2, name="pool1")(x)
    x = L.Conv2D(5, 3, activation="relu", name="conv2")(x)
    outputs = L.Dense(3, activation="softmax", name="fc")(L.Flatten()(x))
    model = keras.Model(inputs, outputs, name="small")
    images = np.random.default_rng(0).uniform(0, 1, (5, 12, 12, 3)).astype("float32")
    datasets = {
        "unbatched": tf.data.Dataset.from_tensor_slices(images),
        "batched pairs": tf.data.Dataset.from_tensor_slices((images, np.zeros(5, "int64"))).batch(2),
    }
    return model, images, datasets


def _active_channel(model, images):
    """A conv1 channel active on every image (a dead one projects zeros)."""
    maps = keras.Model(model.inputs[0], model.get_layer("conv1").output)(images)
    return int(np.argmax(np.asarray(maps).max(axis=(1, 2)).min(axis=0)))


CALLS_IMAGES = []  # the images the Deconvnet's channel is chosen on
CALLS = {
    "Deconvnet.project": lambda model, x: zfkeras.Deconvnet(model).project(
        x, "conv1", _active_channel(model, CALLS_IMAGES[0]), verbose=0),
    "grad_cam": lambda model, x: np.asarray(zfkeras.grad_cam(model, x, "conv2", verbose=0)),
    "occlusion": lambda model, x: zfkeras.occlusion(model, x, 4, 4, verbose=0).class_probability,
}


@pytest.mark.parametrize("name", CALLS)
def test_a_dataset_gives_the_array_result(setup, name):
    model, images, datasets = setup
    CALLS_IMAGES[:] = [images]
    expected = np.asarray(CALLS[name](model, images))
    assert expected.shape[0] == len(images) and np.ptp(expected) > 0  # a real per-image result
    for form, dataset in datasets.items():
        np.testing.assert_allclose(CALLS[name](model, dataset), expected, rtol=1e-5, atol=1e-6, err_msg=form)


@pytest.mark.parametrize("name", CALLS)
def test_a_dataset_of_the_wrong_size_is_refused_like_an_array(setup, name):
    model, images, _ = setup
    wrong = tf.data.Dataset.from_tensor_slices(images[:, :10]).batch(2)
    with pytest.raises(ValueError, match=r"inputs \(dataset images\) have height 10 but the model expects 12"):
        CALLS[name](model, wrong)
