"""The paper's per-image transforms: decode, resize, centre crop, ten crops.

Zeiler & Fergus (Sec. 3): resize each image so that its shortest side is
256, crop the central 256x256 region, then use 224x224 sub-crops: the 4
corners and the centre, each with and without a horizontal flip.
"""

import tensorflow as tf

from zfkeras.utils.validation import positive_int
from zfkeras.utils.errors import InputError

# ZFNet takes RGB input; grey, palette and RGBA files are converted to it.
CHANNELS = 3
NUM_CROPS = 10


def decode_image(contents):
    """Decodes JPEG, PNG, BMP or GIF bytes to an RGB image.

    Args:
        contents: scalar string tensor, the bytes of an image file.

    Returns:
        uint8 tensor ``(H, W, 3)``; for an animated GIF, its first frame.
    """
    image = tf.io.decode_image(contents, channels=CHANNELS, expand_animations=False)
    image.set_shape((None, None, CHANNELS))
    return image


def read_image(path):
    """Reads and decodes one image file (see `decode_image`)."""
    return decode_image(tf.io.read_file(path))


def resize_shortest_side(image, size):
    """Resizes an image so that its shorter side is ``size`` pixels.

    The aspect ratio is kept (the longer side is rounded to the nearest
    pixel). An image whose shorter side already is ``size`` is returned
    unchanged.

    Args:
        image: ``(H, W, C)`` tensor.
        size: length of the shorter side after resizing.

    Returns:
        float32 tensor ``(H', W', C)`` with ``min(H', W') == size``.
    """
    image = tf.cast(tf.convert_to_tensor(image), tf.float32)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    shorter = tf.minimum(height, width)
    scale = tf.cast(size, tf.float64) / tf.cast(shorter, tf.float64)

    def scaled(side):
        return tf.where(
            side == shorter, size, tf.cast(tf.round(tf.cast(side, tf.float64) * scale), tf.int32)
        )

    return tf.cond(
        shorter == size,
        lambda: image,
        # Antialiasing matters when large photos are shrunk to 256.
        lambda: tf.image.resize(image, tf.stack([scaled(height), scaled(width)]), antialias=True),
    )


def center_crop(image, size):
    """Crops the central ``size x size`` square of an image.

    Args:
        image: ``(H, W, C)`` tensor with ``H, W >= size``.
        size: side of the square.

    Returns:
        ``(size, size, C)`` tensor.
    """
    image = tf.convert_to_tensor(image)
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    return image[top : top + size, left : left + size, :]


def resize_and_center_crop(image, image_size=256):
    """The paper's first step: shortest side to ``image_size``, central square.

    Args:
        image: ``(H, W, C)`` image tensor of any size.
        image_size: side of the output square (256 in the paper).

    Returns:
        float32 tensor ``(image_size, image_size, C)``.
    """
    image = center_crop(resize_shortest_side(image, image_size), image_size)
    image.set_shape((image_size, image_size, image.shape[-1]))
    return image


def crop_offsets(height, width, crop_size):
    """Returns the (top, left) corners of the five crop positions.

    Args:
        height: image height.
        width: image width.
        crop_size: side of the square crop.

    Returns:
        List of five ``(top, left)`` pairs: top-left, top-right, bottom-left,
        bottom-right, centre.
    """
    bottom, right = height - crop_size, width - crop_size
    return [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]


def ten_crops(images, crop_size=224):
    """The paper's 10 crops: 4 corners and centre, each also flipped.

    Args:
        images: ``(H, W, C)`` image or ``(B, H, W, C)`` batch.
        crop_size: side of the square crops (224 in the paper).

    Returns:
        ``(10, crop_size, crop_size, C)`` (or ``(B, 10, ...)`` for a batch):
        crops 0-4 are top-left, top-right, bottom-left, bottom-right and
        centre; crops 5-9 are the same crops flipped left-right.

    Raises:
        ValueError: ``crop_size`` is larger than the images.
    """
    crop_size = positive_int(crop_size, "crop_size")
    images = tf.convert_to_tensor(images)
    batched = images.shape.rank == 4
    if not batched:
        images = images[tf.newaxis]
    height, width = images.shape[1], images.shape[2]
    if height is not None and width is not None and min(height, width) < crop_size:
        raise InputError(
            f"crop_size {crop_size} is larger than the {height}x{width} images; "
            "pass a crop_size at most the images' shorter side"
        )
    shape = tf.shape(images)
    crops = [
        images[:, top : top + crop_size, left : left + crop_size, :]
        for top, left in crop_offsets(shape[1], shape[2], crop_size)
    ]
    crops += [tf.reverse(crop, axis=[2]) for crop in crops]
    crops = tf.stack(crops, axis=1)
    return crops if batched else crops[0]


def ten_crop_at(image, crop_size, index):
    """Returns crop number ``index`` of `ten_crops` of one image.

    Training draws one crop per example; cutting only that one avoids
    building all ten.

    Args:
        image: ``(H, W, C)`` tensor.
        crop_size: side of the square crop.
        index: integer (or int tensor) in ``[0, 10)``, numbered as in
            `ten_crops`.

    Returns:
        ``(crop_size, crop_size, C)`` tensor.
    """
    index = tf.convert_to_tensor(index, tf.int64)
    shape = tf.shape(image, out_type=tf.int64)
    offsets = tf.convert_to_tensor(
        [
            tf.stack([tf.cast(top, tf.int64), tf.cast(left, tf.int64)])
            for top, left in crop_offsets(shape[0], shape[1], crop_size)
        ]
    )
    top_left = offsets[index % 5]
    begin = tf.concat([top_left, tf.zeros([1], tf.int64)], axis=0)
    crop = tf.slice(image, begin, tf.constant([crop_size, crop_size, -1], tf.int64))
    return tf.cond(index >= 5, lambda: tf.reverse(crop, axis=[1]), lambda: crop)


def check_crop_sizes(image_size, crop_size):
    """Checks the resize and crop sides of the paper's pipeline.

    Args:
        image_size: side after resize and centre crop.
        crop_size: side of the sub-crops.

    Returns:
        ``(image_size, crop_size)`` as ints.

    Raises:
        TypeError: a side is not an integer.
        ValueError: a side is < 1, or ``crop_size > image_size``.
    """
    image_size = positive_int(image_size, "image_size")
    crop_size = positive_int(crop_size, "crop_size")
    if crop_size > image_size:
        raise InputError(
            f"crop_size ({crop_size}) must not exceed image_size ({image_size}); "
            "crops are cut from the image_size square"
        )
    return image_size, crop_size
