"""zfkeras.data.preprocessing: the paper's pipeline against numpy crops."""

import numpy as np
import pytest
import tensorflow as tf

from tests.images_helpers import CROP_SIZE
from tests.images_helpers import IMAGE_SIZE
from tests.images_helpers import numpy_center_crop
from tests.images_helpers import numpy_ten_crops
from zfkeras.data.preprocessing import preprocess_dataset

NAMES = ["chelsea", "astronaut", "coffee", "rocket", "china", "flower"]


@pytest.fixture
def photo_pairs(small_photos):
    """Unbatched (image, label) pairs of the six photos; label = index."""
    return tf.data.Dataset.from_generator(
        lambda: ((small_photos[name], i) for i, name in enumerate(NAMES)),
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int64)),
    )


@pytest.fixture
def mean():
    return np.random.default_rng(1).uniform(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)


def squares(small_photos, mean):
    """name -> the photo's centre square minus the mean (float32)."""
    return {n: numpy_center_crop(small_photos[n], IMAGE_SIZE).astype(np.float32) - mean for n in NAMES}


def test_center_and_full_modes_exact_pixels(photo_pairs, small_photos, mean):
    expected = squares(small_photos, mean)
    center = preprocess_dataset(photo_pairs, "center", IMAGE_SIZE, CROP_SIZE, mean, batch_size=4)
    batches = list(center.as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [4, 2]
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert images.dtype == np.float32 and labels.tolist() == list(range(6))  # not shuffled
    for image, label in zip(images, labels):
        np.testing.assert_allclose(image, numpy_center_crop(expected[NAMES[label]], CROP_SIZE), atol=1e-4)
    full = preprocess_dataset(photo_pairs, "full", IMAGE_SIZE, CROP_SIZE, mean, batch_size=None)
    for image, label in full.as_numpy_iterator():
        np.testing.assert_allclose(image, expected[NAMES[label]], atol=1e-4)
    assert full.options().threading.private_threadpool_size == 1


def test_train_mode_draws_one_of_ten_crops_reproducibly(photo_pairs, small_photos, mean):
    def make():
        return preprocess_dataset(photo_pairs, "train", IMAGE_SIZE, CROP_SIZE, mean, batch_size=3, seed=7)

    data = make()
    crops_of = {n: numpy_ten_crops(square, CROP_SIZE) for n, square in squares(small_photos, mean).items()}
    used, orders, epochs = set(), [], []
    for _ in range(4):
        xs, ys = zip(*data.as_numpy_iterator())
        x, y = np.concatenate(xs), np.concatenate(ys)
        assert x.shape == (6, CROP_SIZE, CROP_SIZE, 3)
        for image, label in zip(x, y):
            matches = [k for k in range(10) if np.allclose(crops_of[NAMES[label]][k], image, atol=1e-4)]
            assert matches, "a training example is none of its image's 10 crops"
            used.add(matches[0])
        assert sorted(y.tolist()) == list(range(6))  # every image once per epoch
        orders.append(tuple(y))
        epochs.append(x)
    assert len(used) >= 4  # the crop changes between examples and epochs
    assert len(set(orders)) > 1  # reshuffled every epoch
    # Same seed, same sequence of epochs.
    again = make()
    for epoch in epochs[:2]:
        np.testing.assert_array_equal(np.concatenate([x for x, _ in again.as_numpy_iterator()]), epoch)


def test_grey_images_keep_their_channel(small_photos):
    grey = tf.data.Dataset.from_tensor_slices((np.stack([small_photos["coffee"][..., :1]] * 2), [0, 1]))
    out = preprocess_dataset(grey, "center", IMAGE_SIZE, CROP_SIZE, np.zeros((IMAGE_SIZE, IMAGE_SIZE, 1)))
    x, y = next(iter(out))
    np.testing.assert_allclose(x[0], numpy_center_crop(small_photos["coffee"][..., :1], CROP_SIZE), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(mode="test"), ValueError, "mode must be one of 'train', 'center', 'full'; got 'test'"),
        (dict(batch_size="32"), TypeError, "batch_size must be a positive integer, got '32'"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive integer, got 0"),
        (dict(image_size=8, crop_size=9), ValueError, "must not exceed image_size"),
        (dict(shuffle_buffer=0), ValueError, "shuffle_buffer must be a positive integer, got 0"),
        (dict(image_size=8, crop_size=4, mean_image=np.zeros((4, 4, 3))), ValueError,
         r"mean_image has shape \(4, 4, 3\), expected \(8, 8, C\)"),
        (dict(mean_image=np.zeros((256, 256, 1))), ValueError,
         "mean_image has 1 channels but the images have 3"),
    ],
)
def test_bad_arguments(photo_pairs, kwargs, error, message):
    with pytest.raises(error, match=message):
        preprocess_dataset(photo_pairs, **kwargs)


def test_bad_datasets():
    images_only = tf.data.Dataset.from_tensor_slices(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"expects a tf.data.Dataset of \(image, label\) pairs"):
        preprocess_dataset(images_only)
    with pytest.raises(ValueError, match=r"expects a tf.data.Dataset of \(image, label\) pairs"):
        preprocess_dataset(np.zeros((2, 8, 8, 3)))
    batched = tf.data.Dataset.from_tensor_slices((np.zeros((2, 8, 8, 3)), [0, 1])).batch(2)
    with pytest.raises(ValueError, match=r"unbatched \(H, W, C\) images.*\.unbatch\(\)"):
        preprocess_dataset(batched)
