"""Random views of the optimised images: the robustness that keeps feature
visualisations from being adversarial noise.

Each view is one affine resampling (bilinear, outside the image mid-grey),
drawn per image and per step from stateless random ops, so a seed fixes
them all:

* `lucid_views` (``method="fourier"``): Lucid's ``standard_transforms`` --
  pad 12 (grey), jitter 8, scale 0.9-1.1 (11 steps), rotation -10..10
  degrees (integers, 0 weighted 6 times), jitter 4 -- composed into one
  map. Lucid's pixel amounts are for 128 px images; they are scaled by
  ``side / 128`` here (at least 1 px).
* `maco_views` (``method="maco"``): Xplique's MaCo crops -- ``crops`` square
  boxes per image, centres ``0.5 + N(0, 0.15)`` of the image, sides
  ``N(box, 0.05)`` clipped to ``[0.05, 1]`` of it, each resized to the
  model's input -- then noise ``N(0, noise) + U(-noise/2, noise/2)``.

Pixels are in ``[0, 1]`` here (mid-grey is 0.5); `pixel_space` maps them to
the model's inputs afterwards.
"""

import math

import numpy as np
import tensorflow as tf

__all__ = ["lucid_views", "maco_views", "box_schedule", "LUCID_SIDE"]

LUCID_SIDE = 128  # the image side Lucid's pixel amounts are given for
_JITTER_1, _JITTER_2 = 8, 4
_SCALES = [1 + (i - 5) / 50.0 for i in range(11)]
_ANGLES = list(range(-10, 11)) + 5 * [0]
_GREY = 0.5
_CENTRE_STD, _BOX_STD, _BOX_MIN = 0.15, 0.05, 0.05


def _resample(images, rows, output_hw):
    """Bilinear resampling: ``rows`` ``(N, 8)`` map output to input coordinates."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=rows, output_shape=tf.constant(output_hw, tf.int32),
        fill_value=tf.constant(_GREY, tf.float32), interpolation="BILINEAR", fill_mode="CONSTANT")


def _pixels(amount, side):
    return max(1, int(round(amount * side / LUCID_SIDE)))


def lucid_views(images, seed):
    """One Lucid-transformed view of each image, at its own size.

    Args:
        images: float32 ``(K, H, W, C)`` in ``[0, 1]``.
        seed: int32 ``(2,)`` stateless seed.

    Returns:
        float32 ``(K, H, W, C)``.
    """
    count = tf.shape(images)[0]
    height, width = int(images.shape[1]), int(images.shape[2])
    side = max(height, width)
    # Lucid's pad 12 is the grey fill outside the image (it reaches at most
    # (jitter + scale) pixels beyond it, within 12 px).
    jitter_1, jitter_2 = _pixels(_JITTER_1, side), _pixels(_JITTER_2, side)
    seeds = tf.random.experimental.stateless_split(seed, 5)
    # Jitter d crops at an offset uniform in {0..d}: d/2 is the centred crop.
    shift_1 = tf.cast(tf.random.stateless_uniform([count, 2], seeds[0], 0, jitter_1 + 1, tf.int32), tf.float32)
    shift_2 = tf.cast(tf.random.stateless_uniform([count, 2], seeds[1], 0, jitter_2 + 1, tf.int32), tf.float32)
    scale = tf.gather(tf.constant(_SCALES, tf.float32),
                      tf.random.stateless_uniform([count], seeds[2], 0, len(_SCALES), tf.int32))
    angle = tf.gather(tf.constant(_ANGLES, tf.float32),
                      tf.random.stateless_uniform([count], seeds[3], 0, len(_ANGLES), tf.int32)) * (math.pi / 180)
    # Output pixel o reads input pixel centre + R(-angle) (o - centre) / scale + shift:
    # the second jitter acts after scaling, so it moves by 1 / scale in the input.
    centre_y, centre_x = (height - 1) / 2.0, (width - 1) / 2.0
    shift = (shift_1 - jitter_1 / 2.0) + (shift_2 - jitter_2 / 2.0) / scale[:, None]
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos, sin
    b0, b1 = -sin, cos
    a2 = centre_x - a0 * centre_x - a1 * centre_y + shift[:, 1]
    b2 = centre_y - b0 * centre_x - b1 * centre_y + shift[:, 0]
    zeros = tf.zeros_like(a0)
    rows = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return _resample(images, rows, [height, width])


def maco_views(images, seed, crops, box, noise):
    """``crops`` random square crops of each image, resized to its size, plus noise.

    Args:
        images: float32 ``(K, H, W, C)`` in ``[0, 1]``.
        seed: int32 ``(2,)`` stateless seed.
        crops: views per image (a Python int).
        box: the crops' mean side, a fraction of the image (a scalar tensor).
        noise: the noise's standard deviation (a scalar tensor).

    Returns:
        float32 ``(K * crops, H, W, C)``: image k's crops are rows ``k * crops ...``.
    """
    count = tf.shape(images)[0] * crops
    height, width = int(images.shape[1]), int(images.shape[2])
    seeds = tf.random.experimental.stateless_split(seed, 4)
    centre = 0.5 + tf.random.stateless_normal([count, 2], seeds[0], stddev=_CENTRE_STD)
    side = tf.clip_by_value(tf.random.stateless_normal([count], seeds[1], mean=box, stddev=_BOX_STD),
                            _BOX_MIN, 1.0)
    # Output pixel o of a crop of side s centred at c reads c + (o - centre of output) * s.
    a2 = centre[:, 1] * width - 0.5 - (width - 1) / 2.0 * side
    b2 = centre[:, 0] * height - 0.5 - (height - 1) / 2.0 * side
    zeros = tf.zeros_like(side)
    rows = tf.stack([side, zeros, a2, zeros, side, b2, zeros, zeros], axis=1)
    views = _resample(tf.repeat(images, crops, axis=0), rows, [height, width])
    shape = tf.shape(views)
    views += tf.random.stateless_normal(shape, seeds[2], stddev=noise)
    return views + tf.random.stateless_uniform(shape, seeds[3], -noise / 2.0, noise / 2.0)


def box_schedule(steps, start, end):
    """MaCo's crop sides: linear from ``start`` to ``end`` over ``steps`` (numpy)."""
    return np.linspace(start, end, steps).astype(np.float32)
