"""A tiny stand-in run for the probe, transfer and ablation tests.

`StubRun` offers what those modules use of `zfkeras.runs.folder.RunFolder`
(path, config, model, preprocessing, class names, test split) around a tiny
untrained zfnet_small, so the tests need no training and no
Fashion-MNIST. A helper module, not a test module.
"""

import pathlib

import numpy as np

INPUT_SHAPE = (16, 16, 1)


def tiny_model(num_classes=3, seed=0):
    """zfnet_small at 16x16 grey with 4 maps per conv layer, fc 8."""
    from zfkeras.models import zfnet_small

    return zfnet_small(INPUT_SHAPE, num_classes, conv_filters=(4, 4, 4, 4, 4), fc_units=8, seed=seed)


class StubRun:
    """Duck-typed `RunFolder` over a saved tiny model and a digit test split."""

    def __init__(self, folder, num_classes=3, per_class=20):
        from sklearn.datasets import load_digits

        from zfkeras.analysis.protocol.targets import resize_square

        self.path = pathlib.Path(folder)
        self.path.mkdir(parents=True, exist_ok=True)
        tiny_model(num_classes).save(self.path / "model.keras")
        self.config = {"model": "zfnet_small", "dataset": "digits-stub"}
        self.input_shape = INPUT_SHAPE
        self.class_names = [f"digit{i}" for i in range(num_classes)]
        digits = load_digits()
        keep = np.concatenate([np.flatnonzero(digits.target == c)[:per_class] for c in range(num_classes)])
        self._images = np.stack([resize_square(im * 255 / 16, INPUT_SHAPE[:2], 1) for im in digits.images[keep]])
        self._labels = digits.target[keep].astype(np.int64)

    @property
    def report_dir(self):
        return self.path / "report"

    @property
    def model_path(self):
        return self.path / "model.keras"

    def load_model(self):
        import keras

        return keras.saving.load_model(self.path / "model.keras")

    def preprocess(self, images):
        return (np.asarray(images, np.float32) - 128.0) / 64.0

    def load_split(self, split, max_examples=None, seed=0):
        return self._images, self._labels


def fashion_run_folder(folder, data_dir):
    """A minimal real run folder: Fashion-MNIST config, normalisation and an
    untrained tiny zfnet_small at 28x28 (readable by `RunFolder`)."""
    from zfkeras.models import zfnet_small
    from zfkeras.train.config import TrainConfig

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True)
    TrainConfig(run_dir=str(folder), data_dir=data_dir).save(folder / "config.json")
    np.savez(folder / "normalization.npz", mean_image=np.full((28, 28, 1), 72.9, np.float32),
             pixel_std=np.float32(90.0))
    zfnet_small((28, 28, 1), 10, conv_filters=(4, 4, 4, 4, 4), fc_units=8, seed=0).save(folder / "model.keras")
    return folder
