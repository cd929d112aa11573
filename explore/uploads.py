"""Uploaded images: limited, checked, kept in memory, cut as a run's test images.

`check_upload(data)` refuses (`BadRequest`, 400) a body over `MAX_BYTES`,
one that is not a JPEG, PNG, BMP or GIF, one over `MAX_PIXELS` (checked
from the header, before decoding), or one that does not decode in full.
Accepted images are kept by their SHA-256 (at most `KEEP` of them);
`cut(source, data)` gives the source's uint8 model-size image through its
``read_image`` (`zfkeras.runs.RunFolder.read_image` for runs: the cut of
the run's test images) from a temporary file removed at once.
"""

import hashlib
import io
import os
import tempfile
import threading
from collections import OrderedDict

from zfkeras.explore.params import BadRequest

MAX_BYTES = 8 << 20
MAX_PIXELS = 25_000_000
MAX_SIDE = 10_000
KEEP = 64
# A phone's MPO (a JPEG followed by more pictures) is read as its first picture.
FORMATS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "BMP": ".bmp", "GIF": ".gif"}


def check_upload(data):
    """Checks an upload's bytes; returns the file suffix of its format."""
    from PIL import Image

    if not data:
        raise BadRequest("the upload is empty: send the image file as the request body")
    if len(data) > MAX_BYTES:
        raise BadRequest(f"the upload is {len(data)} bytes; at most {MAX_BYTES} ({MAX_BYTES >> 20} MiB)")
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            if kind not in FORMATS:
                raise BadRequest(f"the upload is a {kind} image; send a JPEG, PNG, BMP or GIF")
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise BadRequest(f"the upload is {width}x{height} pixels; at most {MAX_PIXELS} pixels "
                                 f"and {MAX_SIDE} per side")
            image.load()
    except BadRequest:
        raise
    except Exception as error:  # noqa: BLE001 - Pillow raises many types for bad data
        raise BadRequest(f"the upload does not decode as an image ({type(error).__name__}: {error})") from None
    return FORMATS[kind]


class Uploads:
    """Accepted uploads by SHA-256, the oldest forgotten past `KEEP`."""

    def __init__(self):
        self._lock = threading.Lock()
        self._data = OrderedDict()

    def add(self, data):
        suffix = check_upload(data)
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._data[digest] = (data, suffix)
            self._data.move_to_end(digest)
            while len(self._data) > KEEP:
                self._data.popitem(last=False)
        return digest

    def get(self, digest):
        with self._lock:
            if digest not in self._data:
                raise BadRequest("unknown upload (the server forgets old ones): upload the image again")
            return self._data[digest]


def cut(source, data, suffix):
    """The upload as the source's test images are: uint8 at its input shape."""
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="zfkeras-upload-")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        try:
            return source.read_image(path)
        except ValueError as error:
            raise BadRequest(f"the upload cannot be read as the run's images are: {error}") from None
    finally:
        os.remove(path)
