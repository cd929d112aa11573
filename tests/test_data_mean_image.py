"""zfkeras.data.mean_image: against a numpy mean of the centre squares."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tests.images_helpers import IMAGE_SIZE
from tests.images_helpers import numpy_center_crop
from tests.images_helpers import write_corrupt_files
from tests.images_helpers import write_folder
from zfkeras.data import mean_image as mi


@pytest.fixture
def train_folder(tmp_path, small_photos):
    """A class folder of the six photos, and their numpy mean (float64)."""
    write_folder(tmp_path / "train", small_photos)
    expected = np.mean(
        [numpy_center_crop(img, IMAGE_SIZE).astype(np.float64) for img in small_photos.values()], axis=0
    )
    return tmp_path / "train", expected


def test_mean_image_equals_numpy_mean_from_every_source(train_folder):
    root, expected = train_folder
    mean = mi.compute_mean_image(root, image_size=IMAGE_SIZE, batch_size=4)
    assert mean.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, expected, rtol=0, atol=1e-4)
    paths = sorted(str(p) for p in root.rglob("*.png"))
    np.testing.assert_allclose(mi.compute_mean_image(paths, IMAGE_SIZE), expected, atol=1e-4)
    pairs = tf.data.Dataset.from_generator(
        lambda: ((np.asarray(Image.open(p)), 0) for p in paths),
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int64)),
    )
    np.testing.assert_allclose(mi.compute_mean_image(pairs, IMAGE_SIZE), expected, atol=1e-4)
    dicts = pairs.map(lambda image, label: {"image": image, "label": label})
    np.testing.assert_allclose(mi.compute_mean_image(dicts, IMAGE_SIZE, verbose=1), expected, atol=1e-4)


def test_mean_image_leaves_out_bad_files(train_folder, fresh_file_checks):
    root, expected = train_folder
    bad = write_corrupt_files(root)
    with pytest.warns(UserWarning, match="3 of 9 image files cannot be decoded"):
        mean = mi.compute_mean_image(root, IMAGE_SIZE)
    np.testing.assert_allclose(mean, expected, atol=1e-4)
    assert len(bad) == 3


def test_mean_image_bad_sources(tmp_path):
    with pytest.raises(ValueError, match="empty list of paths"):
        mi.compute_mean_image([])
    with pytest.raises(FileNotFoundError, match="not found"):
        mi.compute_mean_image([str(tmp_path / "missing.png")])
    with pytest.raises(TypeError, match="batch_size must be a positive integer, got 2.5"):
        mi.compute_mean_image([str(tmp_path / "missing.png")], batch_size=2.5)
    keyed = tf.data.Dataset.from_tensor_slices({"pixels": np.zeros((2, 4, 4, 3))})
    with pytest.raises(ValueError, match=r"without an 'image' key \(keys: \['pixels'\]\)"):
        mi.compute_mean_image(keyed)
    flat = tf.data.Dataset.from_tensor_slices(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"must be \(H, W, C\) or batches"):
        mi.compute_mean_image(flat)
    with pytest.raises(ValueError, match="holds no images"):
        mi.compute_mean_image(tf.data.Dataset.from_tensor_slices(np.zeros((0, 4, 4, 3))), 4)


def test_save_load_round_trip_and_errors(tmp_path):
    mean = np.random.default_rng(0).uniform(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    run_dir = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="No mean image"):
        mi.load_mean_image(run_dir)
    path = mi.save_mean_image(mean, run_dir)
    assert path == str(run_dir / "mean_image.npy")
    assert os.listdir(run_dir) == ["mean_image.npy"]  # no temporary left behind
    np.testing.assert_array_equal(mi.load_mean_image(run_dir, IMAGE_SIZE), mean)
    with pytest.raises(ValueError, match="16x16 mean image, but image_size is 32"):
        mi.load_mean_image(run_dir, 32)
    with pytest.raises(ValueError, match=r"mean image must be \(H, W, C\), got shape \(16, 16\)"):
        mi.save_mean_image(mean[..., 0], run_dir)
    (run_dir / "mean_image.npy").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable .npy file"):
        mi.load_mean_image(run_dir)


def test_mean_image_for_run_computes_once_then_loads(train_folder, tmp_path):
    root, expected = train_folder
    fresh = mi.mean_image_for_run(tmp_path / "run", root, IMAGE_SIZE)
    np.testing.assert_allclose(fresh, expected, atol=1e-4)
    assert os.path.isfile(tmp_path / "run" / "mean_image.npy")
    # An existing file is loaded, not recomputed.
    np.save(tmp_path / "run" / "mean_image.npy", np.full_like(fresh, 7.0))
    np.testing.assert_array_equal(mi.mean_image_for_run(tmp_path / "run", root, IMAGE_SIZE), 7.0)
