"""How a photo is meant to be seen: its EXIF orientation, read from the header.

Phones store a photo as the sensor saw it and write in its EXIF header
(tag 0x0112, 1-8) how to turn it upright; decoders (TensorFlow's among
them) return the stored pixels. `exif_orientation` reads the tag
without decoding the picture (Pillow; JPEG, MPO, PNG, ...) and
`apply_orientation` turns decoded pixels upright, as
`PIL.ImageOps.exif_transpose` does. A phone's MPO file (a JPEG followed by
more pictures) decodes as its first picture. numpy and Pillow.
"""

import io
import os

import numpy as np

ORIENTATION_TAG = 0x0112


def exif_orientation(source):
    """The EXIF orientation of an image file (1 = upright, as stored).

    Args:
        source: a path, or the file's bytes.

    Returns:
        int in 1..8; 1 when the file has no (or an invalid) orientation tag
        or Pillow cannot read its header.
    """
    from PIL import Image

    try:
        opened = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else os.fspath(source))
        with opened as image:
            value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - an unreadable header: the decoder reports the file
        return 1
    return int(value) if value in range(1, 9) else 1


def apply_orientation(pixels, orientation):
    """Turns ``(H, W, C)`` pixels upright per an EXIF orientation (as `PIL.ImageOps.exif_transpose`).

    Args:
        pixels: array ``(H, W, C)`` (or ``(H, W)``), as decoded.
        orientation: int 1..8 (`exif_orientation`).

    Returns:
        numpy array; ``(W, H, C)`` for orientations 5-8.
    """
    a = np.asarray(pixels)
    transpose = (1, 0) + tuple(range(2, a.ndim))
    turn = {
        1: lambda: a,
        2: lambda: a[:, ::-1],  # mirrored left-right
        3: lambda: a[::-1, ::-1],  # rotated 180
        4: lambda: a[::-1],  # mirrored top-bottom
        5: lambda: a.transpose(transpose),  # mirrored along the main diagonal
        6: lambda: np.rot90(a, -1),  # stored turned left: turn right (clockwise)
        7: lambda: np.rot90(a, 2).transpose(transpose),  # mirrored along the other diagonal
        8: lambda: np.rot90(a, 1),  # stored turned right: turn left
    }[int(orientation)]
    return np.ascontiguousarray(turn())
