"""zfkeras.data.tfds: TFDS sources, with every network connection refused."""

import numpy as np
import pytest

from tests.images_helpers import CROP_SIZE
from tests.images_helpers import IMAGE_SIZE
from tests.images_helpers import matching_source
from tests.images_helpers import nearest_source
from tests.images_helpers import numpy_center_crop
from tests.images_helpers import write_folder
from zfkeras.data.preprocessing import preprocess_dataset
from zfkeras.data.tfds import tfds_dataset
from zfkeras.data.tfds import tfds_image_folder_dataset

tfds = pytest.importorskip(
    "tensorflow_datasets", reason="tensorflow-datasets is not installed: pip install tensorflow-datasets"
)


def test_tfds_image_folder(tmp_path, small_photos, fresh_file_checks):
    layout = {"dogs": ["chelsea", "astronaut"], "cats": ["coffee"], "birds": ["china", "flower"]}
    written = write_folder(tmp_path / "train", small_photos, "jpg", layout)
    write_folder(tmp_path / "test", small_photos, "jpg", {"cats": ["rocket"]})
    bad = tmp_path / "train" / "birds" / "broken.jpg"
    bad.write_text("not a jpeg")
    with pytest.warns(UserWarning, match="broken.jpg"):
        data = tfds_image_folder_dataset(
            tmp_path, "train", mode="full", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=None
        )
    assert data.class_names == ["birds", "cats", "dogs"]
    assert data.report.paths == [str(bad)]
    assert sorted(data.file_paths) == sorted(written)
    # JPEG decoding differs slightly between PIL and TF: match by nearest.
    candidates = {name: numpy_center_crop(small_photos[name], IMAGE_SIZE).astype(np.float32) for name in small_photos}
    seen = []
    for image, label in data.as_numpy_iterator():
        name = nearest_source(image, candidates)
        assert data.class_names[label] == next(c for c, n in written.values() if n == name)
        seen.append(name)
    assert sorted(seen) == sorted(n for _, n in written.values())
    # Labels index the class names of all splits: "cats" is 1 in test too.
    test = tfds_image_folder_dataset(tmp_path, "test", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=2)
    x, y = next(iter(test))
    assert x.shape == (1, CROP_SIZE, CROP_SIZE, 3) and y.numpy().tolist() == [1]


def test_tfds_image_folder_errors(tmp_path, small_photos):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tfds_image_folder_dataset(tmp_path / "nope", "train")
    write_folder(tmp_path / "train", small_photos, "jpg", {"cats": ["rocket"]})
    with pytest.raises(ValueError, match=r"no split 'validation' \(found \['train'\]\)"):
        tfds_image_folder_dataset(tmp_path, "validation")
    with pytest.raises(TypeError, match="validate must be True or False, got 1.0"):
        tfds_image_folder_dataset(tmp_path, "train", validate=1.0)


def test_tfds_dataset_missing_data_fails_without_network(tmp_path, no_network):
    with pytest.raises(FileNotFoundError, match="caltech-101.zip") as info:
        tfds_dataset("caltech101", "train", data_dir=tmp_path / "tfds")
    assert "not prepared in" in str(info.value) and "manual_dir" in str(info.value)
    manual = tmp_path / "manual"
    manual.mkdir()
    with pytest.raises(FileNotFoundError, match="will not be downloaded") as info:
        tfds_dataset("caltech101", "train", data_dir=tmp_path / "tfds", manual_dir=manual)
    assert str(manual / "caltech-101.zip") in str(info.value)
    with pytest.raises(FileNotFoundError, match="ILSVRC2012_img_train.tar"):
        tfds_dataset("imagenet2012", "train", data_dir=tmp_path / "tfds", manual_dir=manual)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tfds_dataset("imagenet2012", "train", data_dir=tmp_path / "tfds", manual_dir=tmp_path / "nope")
    with pytest.raises(ValueError, match="no dataset named 'no_such_dataset_xyz'"):
        tfds_dataset("no_such_dataset_xyz", "train")
    assert no_network == []  # refused before any connection was tried


class ZfkerasTinyPhotos(tfds.core.GeneratorBasedBuilder):
    """Two classes of photos read from manual_dir/<class>/*.png."""

    VERSION = tfds.core.Version("1.0.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Put <class>/<image>.png folders in manual_dir."

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(None, None, 3)),
                    "label": tfds.features.ClassLabel(names=["cats", "dogs"]),
                }
            ),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(dl_manager.manual_dir)}

    def _generate_examples(self, root):
        for label in ["cats", "dogs"]:
            for path in sorted((root / label).glob("*.png")):
                yield str(path), {"image": str(path), "label": label}


def test_tfds_dataset_prepares_from_manual_dir(tmp_path, small_photos, no_network):
    write_folder(tmp_path / "manual", small_photos, layout={"cats": ["coffee"], "dogs": ["chelsea", "astronaut"]})
    data = tfds_dataset("zfkeras_tiny_photos", "train", data_dir=tmp_path / "tfds", manual_dir=tmp_path / "manual")
    assert data.class_names == ["cats", "dogs"]
    batches = preprocess_dataset(data, mode="center", image_size=IMAGE_SIZE, crop_size=CROP_SIZE, batch_size=8)
    x, y = next(iter(batches))
    candidates = {
        n: numpy_center_crop(numpy_center_crop(small_photos[n], IMAGE_SIZE), CROP_SIZE).astype(np.float32)
        for n in small_photos
    }
    labelled = sorted((matching_source(image, candidates), int(label)) for image, label in zip(x.numpy(), y.numpy()))
    assert labelled == [("astronaut", 1), ("chelsea", 1), ("coffee", 0)]
    # Prepared now: loads without manual_dir.
    assert tfds_dataset("zfkeras_tiny_photos", "train", data_dir=tmp_path / "tfds").cardinality() == 3
    with pytest.raises(ValueError, match="has no split 'test'"):
        tfds_dataset("zfkeras_tiny_photos", "test", data_dir=tmp_path / "tfds")
    assert no_network == []
