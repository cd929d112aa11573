"""``zfkeras train --dataset tfds``: a TFDS builder prepared from manual_dir."""

import json

import numpy as np

from tests.images_helpers import photos, small, write_folder
from zfkeras.runs.folder import RunFolder
from zfkeras.train.config import TrainConfig


def test_trains_from_a_tfds_builder_prepared_from_manual_dir(tmp_path):
    import tensorflow_datasets as tfds

    class ZfkerasTinyTrainPhotos(tfds.core.GeneratorBasedBuilder):
        """Two classes of photos from manual_dir/<split>/<class>/*.png."""

        VERSION = tfds.core.Version("1.0.0")
        MANUAL_DOWNLOAD_INSTRUCTIONS = "Put <split>/<class>/<image>.png folders in manual_dir."

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Image(shape=(None, None, 3)),
                    "label": tfds.features.ClassLabel(names=["cats", "dogs"]),
                }),
                supervised_keys=("image", "label"),
            )

        def _split_generators(self, dl_manager):
            root = dl_manager.manual_dir
            return {"train": self._generate_examples(root / "train"),
                    "test": self._generate_examples(root / "test")}

        def _generate_examples(self, root):
            for label in ["cats", "dogs"]:
                for path in sorted((root / label).glob("*.png")):
                    yield str(path), {"image": str(path), "label": label}

    sources = {name: small(image, 40, 44) for name, image in photos().items()}
    layout = {"cats": ["coffee", "rocket", "china"], "dogs": ["chelsea", "astronaut", "flower"]}
    write_folder(tmp_path / "manual" / "train", sources, layout=layout)
    write_folder(tmp_path / "manual" / "test", sources, layout=layout)

    from zfkeras.train.runner import run

    config = TrainConfig(
        dataset="tfds", tfds_name="zfkeras_tiny_train_photos", data_dir=str(tmp_path / "tfds"),
        manual_dir=str(tmp_path / "manual"), image_size=36, crop_size=32, epochs=1, batch_size=3,
        validation_size=2, evolution_sample=4, evolution_maps=2, run_dir=str(tmp_path / "run"),
    )
    metrics = run(config, verbose=0)
    # no 'validation' split: the annealer's 2 examples are held out of
    # 'train', and the test metrics come from 'test', never annealed on
    assert metrics["train_examples"] == 4 and metrics["validation_examples"] == 2
    assert metrics["test_examples"] == 6 and metrics["test_split_independent"] is True
    assert "test: the 'test' split; validation: held out of 'train'" in metrics["test_split"]
    correct = metrics["test_ten_crop_accuracy"] * metrics["test_examples"]  # a whole count of the 6
    assert abs(correct - round(correct)) < 1e-6
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["test_accuracy"] == metrics["test_accuracy"]
    mean = np.load(tmp_path / "run" / "mean_image.npy")
    assert mean.shape == (36, 36, 3) and mean.std() > 1

    folder = RunFolder(tmp_path / "run")
    assert folder.class_names == ["cats", "dogs"] and folder.input_shape == (32, 32, 3)
    raw, labels = folder.load_split("test")
    assert raw.shape == (6, 32, 32, 3) and sorted(labels) == [0, 0, 0, 1, 1, 1]
    train_raw, _ = folder.load_split("train")
    assert len(train_raw) == 4
    from zfkeras.train.data import load_training_data

    data = load_training_data(config)
    fed = np.concatenate([x for x, _ in data.test.as_numpy_iterator()])
    # raw images are uint8 after the resize: at most half a grey level off
    assert np.abs(folder.preprocess(raw) - fed).max() <= 0.5 + 1e-4
