"""Small folders of real photos, corrupt files and numpy crop oracles.

Shared by the data, evaluation and training tests (a helper module, not a
test module). The photos come from scikit-image and scikit-learn, so no
test downloads anything.
"""

import os

import numpy as np
import skimage.data
from PIL import Image
from sklearn.datasets import load_sample_images

# Side of the resized square and of the crops in the small-photo tests.
IMAGE_SIZE = 16
CROP_SIZE = 12

# class -> names of the photos in it (classes listed out of order on purpose).
LAYOUT = {"dogs": ["chelsea", "astronaut"], "cats": ["coffee", "rocket"], "birds": ["china", "flower"]}


def photos():
    """Six real photos (H, W, 3) uint8 of different shapes."""
    china, flower = load_sample_images().images
    return {
        "chelsea": skimage.data.chelsea(),
        "astronaut": skimage.data.astronaut(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "china": china,
        "flower": flower,
    }


def small(image, height, width):
    """``image`` resized to ``height x width`` with PIL (bilinear)."""
    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def small_photos():
    """The photos at shortest side IMAGE_SIZE, so resizing is the identity."""
    p = photos()
    return {
        "chelsea": small(p["chelsea"], IMAGE_SIZE, 24),  # landscape
        "astronaut": small(p["astronaut"], 20, IMAGE_SIZE),  # portrait
        "coffee": small(p["coffee"], IMAGE_SIZE, IMAGE_SIZE),
        "rocket": small(p["rocket"], IMAGE_SIZE, 21),
        "china": small(p["china"], IMAGE_SIZE, 23),
        "flower": small(p["flower"], 19, IMAGE_SIZE),
    }


def write_folder(root, sources, ext="png", layout=LAYOUT):
    """Writes root/<class>/<photo>.<ext>; returns {path: (class, photo)}."""
    written = {}
    for cls, names in layout.items():
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for name in names:
            path = os.path.join(root, cls, f"{name}.{ext}")
            Image.fromarray(sources[name]).save(path, **({"quality": 95} if ext == "jpg" else {}))
            written[path] = (cls, name)
    return written


def write_corrupt_files(root, sources=None):
    """A truncated JPEG, text named .jpg, an empty .png; returns their paths.

    ``root`` must hold ``cats/``, ``dogs/`` and ``birds/`` folders.
    """
    root = os.fspath(root)
    jpeg = os.path.join(root, "cats", "truncated.jpg")
    Image.fromarray(photos()["chelsea"]).save(jpeg, quality=90)
    with open(jpeg, "rb") as f:
        data = f.read()
    with open(jpeg, "wb") as f:
        f.write(data[: len(data) // 2])
    text = os.path.join(root, "dogs", "readme.jpg")
    with open(text, "w") as f:
        f.write("this is a text file, not a JPEG\n")
    empty = os.path.join(root, "birds", "empty.png")
    open(empty, "wb").close()
    return sorted([jpeg, text, empty])


def numpy_center_crop(image, size):
    """The central ``size x size`` square, by slicing."""
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[top : top + size, left : left + size]


def numpy_ten_crops(image, crop):
    """The paper's ten crops of one image, by slicing: (10, crop, crop, C)."""
    h, w = image.shape[:2]
    corners = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), ((h - crop) // 2, (w - crop) // 2)]
    crops = [image[t : t + crop, l : l + crop] for t, l in corners]
    return np.stack(crops + [c[:, ::-1] for c in crops])


def matching_source(image, candidates):
    """Name of the candidate equal to image, asserting exactly one."""
    hits = [name for name, c in candidates.items() if c.shape == image.shape and np.allclose(c, image, atol=1e-4)]
    assert len(hits) == 1, hits
    return hits[0]


def nearest_source(image, candidates):
    """Name of the clearly nearest candidate (for lossy JPEG round trips)."""
    errors = sorted((np.abs(c - image).mean(), name) for name, c in candidates.items())
    (best, name), (second, _) = errors[0], errors[1]
    assert best < 8.0 and second > 3 * best, errors
    return name
