"""zfkeras.train.data: the per-image random shifts of ``--augment-translate`` and
the squares of ``--augment-cutout``."""

import numpy as np
import pytest
import tensorflow as tf

from zfkeras.train.data import random_cutout, random_translate


def _shift(image, dy, dx):
    """numpy oracle: `image` moved down by dy and right by dx, zeros where nothing moved in."""
    h, w = image.shape[:2]
    out = np.zeros_like(image)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def _offset(original, shifted, pixels):
    """The (dy, dx) that makes `shifted` from `original`, or None."""
    hits = [(dy, dx) for dy in range(-pixels, pixels + 1) for dx in range(-pixels, pixels + 1)
            if np.array_equal(_shift(original, dy, dx), shifted)]
    return hits[0] if hits else None


def test_each_image_is_shifted_by_its_own_offset_within_the_limit():
    rng = np.random.default_rng(0)
    images = rng.uniform(1, 2, size=(200, 6, 7, 2)).astype(np.float32)  # no zeros: every offset is unique
    tf.random.set_seed(1)
    out = random_translate(tf.constant(images), 2).numpy()
    offsets = [_offset(a, b, 2) for a, b in zip(images, out)]
    assert None not in offsets
    # 25 offsets, uniform: 200 draws reach nearly all of them, and both extremes
    assert len(set(offsets)) >= 20
    assert {-2, 2} <= {dy for dy, _ in offsets} and {-2, 2} <= {dx for _, dx in offsets}


def test_zero_pixels_is_the_identity():
    images = tf.random.uniform((3, 5, 5, 1))
    assert random_translate(images, 0) is images


@pytest.mark.parametrize("pixels", [1, 3])
def test_shape_and_content_are_kept(pixels):
    images = tf.random.uniform((4, 9, 8, 3), 1, 2)
    out = random_translate(images, pixels).numpy()
    assert out.shape == (4, 9, 8, 3)
    # nothing but zeros and the original values
    assert np.isin(out[out != 0], images.numpy()).all()


def _erased_box(original, out):
    """numpy oracle: the rows and columns (first, last) of the zeroed rectangle
    that turns `original` (no zeros) into `out`, or None if `out` is not
    `original` with exactly one axis-aligned rectangle zeroed in every channel."""
    zero = (out == 0).all(axis=-1)
    if not zero.any():
        return None
    r, c = np.flatnonzero(zero.any(axis=1)), np.flatnonzero(zero.any(axis=0))
    box = np.zeros_like(zero)
    box[r[0]:r[-1] + 1, c[0]:c[-1] + 1] = True
    expected = np.where(box[..., None], 0, original)
    if not (np.array_equal(zero, box) and np.array_equal(out, expected)):
        return None
    return (r[0], r[-1]), (c[0], c[-1])


def test_cutout_erases_one_square_cut_only_by_the_border():
    rng = np.random.default_rng(0)
    h, w, size = 12, 10, 4
    images = rng.uniform(1, 2, size=(400, h, w, 3)).astype(np.float32)  # no zeros
    tf.random.set_seed(2)
    out = random_cutout(tf.constant(images), size).numpy()
    boxes = [_erased_box(a, b) for a, b in zip(images, out)]
    assert None not in boxes
    full = 0
    for (r0, r1), (c0, c1) in boxes:
        for first, last, side in ((r0, r1, h), (c0, c1, w)):
            extent = last - first + 1
            assert 1 <= extent <= size
            # a square shorter than `size` along an axis is cut by that axis' border
            assert extent == size or first == 0 or last == side - 1
        full += (r1 - r0 + 1, c1 - c0 + 1) == (size, size)
    assert 0 < full < len(boxes)  # whole squares inside, and squares cut by the border
    # centres uniform over the image: every pixel erased by some draw, the corners least often
    counts = (out == 0).all(axis=-1).sum(axis=0)
    assert (counts > 0).all() and counts[0, 0] < counts[h // 2, w // 2]


def test_cutout_of_zero_is_the_identity_and_the_mean_pixel_is_zero():
    images = tf.random.uniform((3, 5, 5, 1))
    assert random_cutout(images, 0) is images
    # centred images: the erased value, 0, is the mean pixel
    out = random_cutout(tf.ones((64, 6, 6, 1)), 3).numpy()
    assert set(np.unique(out)) == {0.0, 1.0}
    assert all(9 >= (img == 0).sum() >= 4 for img in out)  # 3x3, cut by the border to 2x2 at least
