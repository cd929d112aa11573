"""Phone photos are analysed upright (EXIF orientation) and MPO files read as their first picture (issue 24, 5).

The oracle for orientation is Pillow's `ImageOps.exif_transpose`; the
photos are real (scikit-image's chelsea, a landscape photo), stored turned
as a phone stores them, with the EXIF tag saying how to turn them back.
"""

import io

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageOps

from zfkeras.runs.sources import read_image_file
from zfkeras.utils.images import apply_orientation, exif_orientation

# how each orientation stores an upright picture: the inverse of what the tag asks a viewer to do
STORE = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
         5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, 1), 7: lambda a: np.rot90(a.transpose(1, 0, 2), 2),
         8: lambda a: np.rot90(a, -1)}


@pytest.fixture(scope="module")
def upright():
    photo = skimage.data.chelsea()  # 300 x 451, a cat that is upright only one way
    return np.asarray(Image.fromarray(photo).resize((45, 30), Image.BILINEAR))


def _png_with_orientation(pixels, orientation):
    image = Image.fromarray(np.ascontiguousarray(pixels))
    exif = image.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_is_applied_as_pillow_applies_it(upright, orientation):
    data = _png_with_orientation(STORE[orientation](upright), orientation)
    assert exif_orientation(data) == orientation
    stored = np.asarray(Image.open(io.BytesIO(data)))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    np.testing.assert_array_equal(apply_orientation(stored, orientation), expected)
    np.testing.assert_array_equal(expected, upright)  # the store helper is the inverse: back to upright


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_rotated_photo_file_is_read_upright(tmp_path, upright, orientation):
    (tmp_path / "up.png").write_bytes(_png_with_orientation(upright, 1))
    (tmp_path / "turned.png").write_bytes(_png_with_orientation(STORE[orientation](upright), orientation))
    reference = read_image_file(tmp_path / "up.png", 24, 20)
    np.testing.assert_array_equal(read_image_file(tmp_path / "turned.png", 24, 20), reference)
    # the stored pixels (the trainer's decoding) are another picture
    assert not np.array_equal(read_image_file(tmp_path / "turned.png", 24, 20, upright=False), reference)


def test_occlude_reads_a_rotated_photo_upright(tmp_path, upright):
    from zfkeras.analysis.cli.occlude import read_bare_image

    (tmp_path / "up.png").write_bytes(_png_with_orientation(upright, 1))
    (tmp_path / "turned.png").write_bytes(_png_with_orientation(STORE[6](upright), 6))
    np.testing.assert_array_equal(read_bare_image(str(tmp_path / "turned.png"), 20, 24, 3),
                                  read_bare_image(str(tmp_path / "up.png"), 20, 24, 3))


def test_explore_image_folders_are_read_upright(trained_run, tmp_path, upright):
    from zfkeras.explore import cli as explore_cli

    images = tmp_path / "images"
    images.mkdir()
    for i in range(8):
        (images / f"a{i}.png").write_bytes(_png_with_orientation(np.roll(upright, 3 * i, axis=1), 1))
    (images / "b_up.png").write_bytes(_png_with_orientation(upright, 1))
    (images / "c_turned.png").write_bytes(_png_with_orientation(STORE[8](upright), 8))
    assert explore_cli.main([str(trained_run.model_path), "--images", str(images), "--logdir",
                             str(tmp_path / "logs"), "--name", "entry"]) == 0
    with np.load(tmp_path / "logs" / "entry" / "images.npz") as entry:
        files = list(entry["files"])
        pixels = entry["images"]
    np.testing.assert_array_equal(pixels[files.index("c_turned.png")], pixels[files.index("b_up.png")])


def test_an_upload_with_orientation_is_cut_upright(trained_run, upright):
    from zfkeras.explore.uploads import cut, decode_upload

    turned = _png_with_orientation(STORE[6](upright), 6)
    straight = _png_with_orientation(upright, 1)
    decoded, kind = decode_upload(turned, 8)
    assert kind == "PNG"
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(decode_upload(straight, 8)[0]))
    np.testing.assert_array_equal(cut(trained_run, turned, ".png"), cut(trained_run, straight, ".png"))


def _mpo(first, second):
    buffer = io.BytesIO()
    Image.fromarray(first).save(buffer, format="MPO", save_all=True, append_images=[Image.fromarray(second)],
                                quality=95)
    return buffer.getvalue()


def test_a_phone_mpo_is_read_as_its_first_picture(tmp_path, upright):
    from zfkeras.explore.uploads import decode_upload

    other = np.full_like(upright, 30)
    data = _mpo(upright, other)
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert decode_upload(data, 8)[1] == "MPO"  # refused before: "the upload is a MPO image"
    (tmp_path / "phone.jpg").write_bytes(data)
    read = read_image_file(tmp_path / "phone.jpg", 30, 30).astype(float)
    expected = np.asarray(Image.fromarray(upright).crop((7, 0, 37, 30)), float)  # the centre 30x30 of 45x30
    assert np.abs(read - expected).mean() < 4  # JPEG at quality 95
    assert np.abs(read - 30).mean() > 40  # not the second picture
