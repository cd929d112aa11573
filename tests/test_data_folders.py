"""zfkeras.data.folders: class-folder datasets of real photos."""

import warnings

import numpy as np
import pytest
from PIL import Image

from tests.images_helpers import CROP_SIZE
from tests.images_helpers import IMAGE_SIZE
from tests.images_helpers import matching_source
from tests.images_helpers import numpy_center_crop
from tests.images_helpers import write_corrupt_files
from tests.images_helpers import write_folder
from zfkeras.data import files
from zfkeras.data.folders import image_folder_dataset
from zfkeras.data.folders import labelled_files_dataset

SMALL = dict(image_size=IMAGE_SIZE, crop_size=CROP_SIZE)


def test_folder_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder_dataset(tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(ValueError, match="no class sub-folders"):
        image_folder_dataset(tmp_path / "flat")
    (tmp_path / "flat" / "cls").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "flat" / "cls" / "a.png")
    root = tmp_path / "flat"
    with pytest.raises(ValueError, match="mode must be one of 'train', 'center', 'full'; got 'test'"):
        image_folder_dataset(root, mode="test")
    with pytest.raises(TypeError, match="batch_size must be a positive integer, got '32'"):
        image_folder_dataset(root, batch_size="32")
    with pytest.raises(ValueError, match="must not exceed image_size"):
        image_folder_dataset(root, image_size=8, crop_size=9)
    with pytest.raises(ValueError, match=r"mean_image has shape \(4, 4, 3\)"):
        image_folder_dataset(root, image_size=8, crop_size=4, mean_image=np.zeros((4, 4, 3)))
    with pytest.raises(TypeError, match="validate must be True or False, got 'yes'"):
        image_folder_dataset(root, validate="yes")
    # A BadFileReport is no longer accepted: checks are remembered anyway.
    with pytest.raises(TypeError, match="validate must be True or False, got BadFileReport"):
        image_folder_dataset(root, validate=files.BadFileReport())
    # Argument errors come before the folder is read.
    with pytest.raises(ValueError, match="mode must be one of"):
        image_folder_dataset(tmp_path / "nope", mode="test")


def test_decodes_jpeg_png_bmp_gif(tmp_path, small_photos):
    expected = {}
    for ext, name in [("jpg", "chelsea"), ("png", "coffee"), ("bmp", "rocket"), ("gif", "china")]:
        (tmp_path / ext).mkdir(parents=True)
        pil_image = Image.fromarray(small_photos[name])
        if ext == "gif":
            # GIF stores a palette image: compare with the palette colours.
            pil_image = pil_image.convert("P", palette=Image.ADAPTIVE)
        pil_image.save(tmp_path / ext / f"{name}.{ext}")
        image = np.asarray(pil_image.convert("RGB"))
        expected[ext] = numpy_center_crop(image, IMAGE_SIZE).astype(np.float32)
    data = image_folder_dataset(tmp_path, mode="full", batch_size=None, **SMALL)
    assert data.report.num_bad == 0 and data.class_names == ["bmp", "gif", "jpg", "png"]
    for image, label in data:
        ext = data.class_names[int(label)]
        if ext == "jpg":
            # Lossy: TF's decode is close to the source, on average.
            assert np.abs(image.numpy() - expected[ext]).mean() < 8.0
        else:
            np.testing.assert_array_equal(image.numpy(), expected[ext])


def test_center_mode_exact_pixels_and_labels(tmp_path, small_photos):
    written = write_folder(tmp_path, small_photos)
    mean = np.random.default_rng(1).uniform(0, 255, (IMAGE_SIZE, IMAGE_SIZE, 3)).astype(np.float32)
    data = image_folder_dataset(tmp_path, mode="center", mean_image=mean, batch_size=4, **SMALL)
    assert data.class_names == ["birds", "cats", "dogs"]
    expected = {
        path: numpy_center_crop(numpy_center_crop(small_photos[name], IMAGE_SIZE).astype(np.float32) - mean, CROP_SIZE)
        for path, (_, name) in written.items()
    }
    batches = list(data.as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [4, 2]
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert images.dtype == np.float32 and labels.dtype == np.int64
    # Not shuffled outside training: outputs follow data.file_paths.
    assert sorted(data.file_paths) == sorted(written)
    for image, label, path in zip(images, labels, data.file_paths):
        np.testing.assert_allclose(image, expected[path], atol=1e-4)
        assert data.class_names[label] == written[path][0]


def test_corrupt_files_are_reported_by_name_and_left_out(tmp_path, small_photos, fresh_file_checks):
    written = write_folder(tmp_path, small_photos)
    bad = write_corrupt_files(tmp_path)
    with pytest.warns(UserWarning) as record:
        data = image_folder_dataset(tmp_path, mode="center", batch_size=2, shuffle=True, seed=0, **SMALL)
    message = str(record[0].message)
    assert "3 of 9 image files cannot be decoded" in message
    assert all(path in message for path in bad)
    assert sorted(data.report.paths) == bad
    assert data.report.num_checked == 9 and data.report.num_bad == 3
    assert sorted(data.file_paths) == sorted(written)
    # Two full epochs run through, with every good file and its label.
    candidates = {
        path: numpy_center_crop(numpy_center_crop(small_photos[name], IMAGE_SIZE), CROP_SIZE).astype(np.float32)
        for path, (_, name) in written.items()
    }
    for _ in range(2):
        seen = []
        for x, y in data.as_numpy_iterator():
            for image, label in zip(x, y):
                path = matching_source(image, candidates)
                assert data.class_names[label] == written[path][0]
                seen.append(path)
        assert sorted(seen) == sorted(written)


def test_a_second_pipeline_over_the_same_folder_decodes_nothing_again(
    tmp_path, small_photos, fresh_file_checks, monkeypatch
):
    write_folder(tmp_path, small_photos)
    bad = write_corrupt_files(tmp_path)
    with pytest.warns(UserWarning):
        first = image_folder_dataset(tmp_path, mode="center", **SMALL)

    def no_second_decode(paths, verbose):
        raise AssertionError(f"files decoded again: {paths}")

    monkeypatch.setattr(files, "_decode_all", no_second_decode)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no second warning either
        again = image_folder_dataset(tmp_path, mode="full", **SMALL)
    assert again.report.bad_files == first.report.bad_files
    assert again.file_paths == first.file_paths
    assert not set(bad) & set(again.file_paths)
    assert sum(int(x.shape[0]) for x, _ in again) == 6


def test_validate_false_keeps_every_file(tmp_path, small_photos):
    written = write_folder(tmp_path, small_photos)
    write_corrupt_files(tmp_path)
    data = image_folder_dataset(tmp_path, mode="center", validate=False, **SMALL)
    assert data.report is None and len(data.file_paths) == len(written) + 3


def test_all_bad_is_an_error_naming_the_files(tmp_path, small_photos, fresh_file_checks):
    for name in ("cats", "dogs", "birds"):
        (tmp_path / name).mkdir()
    bad = write_corrupt_files(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=f"No image in {tmp_path} can be decoded") as info:
            image_folder_dataset(tmp_path)
    assert all(path in str(info.value) for path in bad)


def test_labelled_files_dataset_over_a_list_of_files(tmp_path, small_photos):
    written = write_folder(tmp_path, small_photos)
    paths = sorted(written)[::-1]  # any order: kept as given
    labels = [1 if written[p][0] == "cats" else 0 for p in paths]
    data = labelled_files_dataset(paths, labels, ["other", "cats"], "my list", mode="center", **SMALL)
    assert data.file_paths == paths and data.class_names == ["other", "cats"]
    x, y = next(iter(data.unbatch().batch(6)))
    assert y.numpy().tolist() == labels
    for image, path in zip(x.numpy(), paths):
        square = numpy_center_crop(small_photos[written[path][1]], IMAGE_SIZE).astype(np.float32)
        np.testing.assert_allclose(image, numpy_center_crop(square, CROP_SIZE), atol=1e-4)
    with pytest.raises(ValueError, match="got 6 paths but 5 labels"):
        labelled_files_dataset(paths, labels[:5], ["other", "cats"], "my list")
    with pytest.raises(ValueError, match=r"got no image files \(my list\)"):
        labelled_files_dataset([], [], ["other", "cats"], "my list", validate=False)
