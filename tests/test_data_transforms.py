"""zfkeras.data.transforms against numpy slicing and PIL-free references."""

import numpy as np
import pytest

from tests.images_helpers import CROP_SIZE
from tests.images_helpers import numpy_ten_crops
from zfkeras.data import transforms


def test_ten_crops_equal_numpy_slicing(small_photos):
    image = small_photos["chelsea"]  # 16 x 24
    crops = transforms.ten_crops(image, CROP_SIZE).numpy()
    assert crops.shape == (10, CROP_SIZE, CROP_SIZE, 3)
    np.testing.assert_array_equal(crops, numpy_ten_crops(image, CROP_SIZE))
    # Spot checks that do not go through the helper.
    np.testing.assert_array_equal(crops[1], image[:12, 12:])
    np.testing.assert_array_equal(crops[4], image[2:14, 6:18])
    np.testing.assert_array_equal(crops[8], image[4:, 12:][:, ::-1])
    batch = np.stack([image, image[::-1]])
    np.testing.assert_array_equal(
        transforms.ten_crops(batch, CROP_SIZE).numpy()[1], numpy_ten_crops(image[::-1], CROP_SIZE)
    )


def test_ten_crop_at_cuts_the_same_crop_as_ten_crops(small_photos):
    image = small_photos["astronaut"]  # 20 x 16: portrait, unlike the test above
    crops = numpy_ten_crops(image, CROP_SIZE)
    for k in range(10):
        np.testing.assert_array_equal(transforms.ten_crop_at(image, CROP_SIZE, k).numpy(), crops[k])


def test_ten_crops_rejects_crop_larger_than_image(small_photos):
    with pytest.raises(ValueError, match="crop_size 17 is larger than the 16x16 images"):
        transforms.ten_crops(small_photos["coffee"], 17)
    with pytest.raises(TypeError, match="crop_size must be a positive integer, got '12'"):
        transforms.ten_crops(small_photos["coffee"], "12")


@pytest.mark.parametrize(
    "shape, expected", [((30, 45), (16, 24)), ((45, 30), (24, 16)), ((16, 16), (16, 16)), ((8, 12), (16, 24))]
)
def test_resize_shortest_side(shape, expected):
    image = np.random.default_rng(0).integers(0, 256, shape + (3,), dtype=np.uint8)
    resized = transforms.resize_shortest_side(image, 16)
    assert tuple(resized.shape[:2]) == expected
    out = transforms.resize_and_center_crop(image, 16).numpy()
    assert out.shape == (16, 16, 3) and out.dtype == np.float32
    if shape == (16, 16):
        np.testing.assert_array_equal(out, image.astype(np.float32))


def test_resize_of_a_constant_image_stays_constant():
    # Antialiased resizing is a weighted average: a flat image stays flat.
    image = np.full((40, 60, 3), 77, np.uint8)
    np.testing.assert_allclose(transforms.resize_and_center_crop(image, 16).numpy(), 77.0, atol=1e-3)


def test_center_crop_equals_slicing():
    image = np.arange(7 * 10 * 2).reshape(7, 10, 2)
    np.testing.assert_array_equal(transforms.center_crop(image, 4).numpy(), image[1:5, 3:7])


def test_decode_image_gives_rgb_for_grey_png(tmp_path):
    import tensorflow as tf
    from PIL import Image

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(grey).save(tmp_path / "grey.png")
    decoded = transforms.read_image(str(tmp_path / "grey.png")).numpy()
    assert decoded.shape == (3, 4, 3)
    np.testing.assert_array_equal(decoded, np.repeat(grey[..., None], 3, axis=2))
    assert transforms.decode_image(tf.io.read_file(str(tmp_path / "grey.png"))).shape == (3, 4, 3)


@pytest.mark.parametrize(
    "image_size, crop_size, error, message",
    [
        (8, 9, ValueError, r"crop_size \(9\) must not exceed image_size \(8\)"),
        (0, 1, ValueError, "image_size must be a positive integer, got 0"),
        ("16", 8, TypeError, "image_size must be a positive integer, got '16'"),
        (16, 2.5, TypeError, "crop_size must be a positive integer, got 2.5"),
    ],
)
def test_check_crop_sizes_errors(image_size, crop_size, error, message):
    with pytest.raises(error, match=message):
        transforms.check_crop_sizes(image_size, crop_size)


def test_check_crop_sizes_normalises_numpy_ints():
    sizes = transforms.check_crop_sizes(np.int64(16), np.int32(12))
    assert sizes == (16, 12) and all(type(s) is int for s in sizes)
