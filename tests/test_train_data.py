"""zfkeras.train.data: the per-image random shifts of ``--augment-translate``."""

import numpy as np
import pytest
import tensorflow as tf

from zfkeras.train.data import random_translate


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
