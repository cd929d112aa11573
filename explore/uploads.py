"""Uploaded images: limited, decoded no larger than the model needs, cut as a run's test images.

`decode_upload(data, side)` refuses a body over `MAX_BYTES` or over
`MAX_PIXELS` / `MAX_SIDE` (read from the header, before any pixel is
decoded: 413), one that is not a JPEG, PNG, BMP or GIF, or one that does
not decode in full (400). It decodes at most to what the model needs: a
JPEG in Pillow's draft mode (the DCT scaled by 1/2, 1/4 or 1/8 while
decoding, the shortest side still at least ``side``), any image then
reduced by a whole factor (box filter) to a shortest side of at least
``side``, and converted to RGB, so a 25-megapixel upload is held at full
size only for the instant it decodes. `Uploads` keeps the reduced images
(PNG bytes, by the SHA-256 of what was sent; at most `KEEP`);
`cut(source, data)` gives the source's uint8 model-size image through its
``read_image`` (the cut of the run's test images) from a temporary file
removed at once, its errors naming the upload, never that file.
"""

import hashlib
import io
import os
import re
import tempfile
import threading
from collections import OrderedDict

from zfkeras.explore.params import BadRequest
from zfkeras.utils.errors import InputError

MAX_BYTES = 8 << 20
MAX_PIXELS = 25_000_000
MAX_SIDE = 10_000
KEEP = 64
KEEP_SIDE = 256  # an upload is kept with a shortest side of at least this (or its own)
# A phone's MPO (a JPEG followed by more pictures) is read as its first picture.
FORMATS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "BMP": ".bmp", "GIF": ".gif"}


def too_large(message):
    return BadRequest(message, status=413)


def decode_upload(data, side):
    """An upload's bytes -> an RGB ``PIL.Image`` whose shortest side is at least ``side`` (or its own).

    Args:
        data: the bytes sent.
        side: the shortest side the model's cut needs (`zfkeras.runs.RunFolder.read_image`).

    Returns:
        ``(image, format)``: the image, reduced, and the format it was sent in.

    Raises:
        BadRequest: 413 over the limits, 400 not an accepted image or not decodable.
    """
    from PIL import Image, ImageOps

    if not data:
        raise BadRequest("the upload is empty: send the image file as the request body")
    if len(data) > MAX_BYTES:
        raise too_large(f"the upload is {len(data)} bytes; at most {MAX_BYTES} ({MAX_BYTES >> 20} MiB)")
    try:
        image = Image.open(io.BytesIO(data))
        kind, (width, height) = image.format, image.size
    except Exception as error:  # noqa: BLE001 - Pillow raises many types for bad data
        raise BadRequest("the upload does not decode as an image: it is not a JPEG, PNG, BMP or GIF "
                         f"file ({type(error).__name__})") from None
    if kind not in FORMATS:
        raise BadRequest(f"the upload is a {kind} image; send a JPEG, PNG, BMP or GIF")
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise too_large(f"the upload is {width}x{height} pixels; at most {MAX_PIXELS} pixels "
                        f"and {MAX_SIDE} per side")
    try:
        if kind == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when that still covers `side`
            image.draft("RGB", (side, side) if width <= height else (side * width // height, side))
        image.load()
        image = ImageOps.exif_transpose(image)  # the orientation a camera recorded, as viewers show it
        if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grey PNG: scaled, as TensorFlow decodes it
            import numpy as np

            image = Image.fromarray(np.round(np.asarray(image, np.float32) / 257.0).clip(0, 255).astype(np.uint8))
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info
                                  else "RGB")
            if image.mode == "RGBA":  # transparent pixels on white, as a browser shows them
                image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
        factor = min(image.size) // max(1, side)
        if factor > 1:
            image = image.reduce(factor)
        image = image.convert("RGB")
    except Exception as error:  # noqa: BLE001 - Pillow raises many types for bad data
        raise BadRequest(f"the upload, a {width}x{height} {kind}, does not decode as an image "
                         f"({type(error).__name__}: {str(error)[:120]})") from None
    return image, kind


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class Uploads:
    """Accepted uploads (reduced, as PNG bytes) by the SHA-256 of what was sent, the oldest forgotten past `KEEP`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._data = OrderedDict()

    def add(self, data, side):
        """Checks, decodes and keeps an upload; returns its id (hex SHA-256).

        Args:
            data: the bytes sent.
            side: the shortest side the run asking needs (kept at least `KEEP_SIDE`).
        """
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            known = self._data.get(digest)
        if known is None or known[1] < side:
            wanted = max(side, KEEP_SIDE)
            image, _ = decode_upload(data, wanted)
            shortest = min(image.size)
            # it serves runs needing up to its shortest side; one smaller than asked is whole: it serves any
            known = (png_bytes(image), shortest if shortest >= wanted else MAX_SIDE)
        with self._lock:
            self._data[digest] = known
            self._data.move_to_end(digest)
            while len(self._data) > KEEP:
                self._data.popitem(last=False)
        return digest

    def get(self, digest, side):
        """The kept PNG bytes of an upload, for a run needing ``side``."""
        with self._lock:
            if digest not in self._data:
                raise BadRequest("unknown upload (the server forgets old ones): upload the image again")
            data, kept = self._data[digest]
        if kept < side:
            raise BadRequest("the upload was kept smaller than this run's images: upload the image again")
        return data


def cut(source, data, suffix=".png"):
    """The upload as the source's test images are: uint8 at its input shape.

    Raises:
        InputError: it cannot be read (the message names the upload, not the temporary file).
    """
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="zfkeras-upload-")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        try:
            return source.read_image(path)
        except InputError as error:
            raise InputError(_without(str(error), path)) from None
    finally:
        os.remove(path)


def _without(message, path):
    """``message`` with the temporary ``path`` and TensorFlow's op names taken out."""
    message = message.replace(repr(path), "the upload").replace(path, "the upload")
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", message)  # {{function_node __wrapped__DecodeBmp_device_...}}
    return re.sub(r"\s*\[Op:[^\]]*\]", "", message)
