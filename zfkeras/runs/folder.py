"""`RunFolder`: everything a finished (or running) training run left behind.

``zfkeras train --run-dir DIR`` writes::

    config.json          the configuration
    splits.json          where train / validation / test examples come from
    class_names.json     the label names, in label order
    normalization.npz    Fashion-MNIST: mean image and pixel std
    mean_image.npy       image folders / TFDS: mean of the centre squares
    checkpoints/         one complete checkpoint per epoch (newest two)
    logs/                TensorBoard event files
    evolution/           feature-evolution records, one .npz per epoch
    model.keras          the final model (written when training finished)
    metrics.json         test metrics, history, timings
    report/              what ``zfkeras report`` writes

`RunFolder` reads these for the report, the probes and the export, so no
tool parses them on its own. Opening one reads only ``config.json``; numpy,
Keras and the data are loaded when a method needs them.
"""

import json
import os
import pathlib

from zfkeras.runs.splits import SPLITS_FILENAME, plan_splits

FASHION_MNIST_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


class IncompleteRunError(ValueError):
    """The run folder lacks a file that training writes (it did not finish)."""


class RunFolder:
    """A training run's folder.

    Args:
        path: the folder given to ``zfkeras train --run-dir``.

    Raises:
        ValueError: `path` is not a run folder (no readable config.json).
    """

    def __init__(self, path):
        self.path = pathlib.Path(os.fspath(path))
        config_path = self.path / "config.json"
        if not self.path.is_dir():
            raise ValueError(f"not a run folder: {self.path} does not exist or is not a folder")
        if not config_path.is_file():
            raise ValueError(
                f"not a run folder: {self.path} has no config.json; pass the folder "
                "`zfkeras train --run-dir DIR` wrote"
            )
        config = self._read_json("config.json")
        if not isinstance(config, dict) or "dataset" not in config:
            raise ValueError(f"not a run folder: {config_path} is not a zfkeras training configuration")
        self.config = config

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    # -- files -------------------------------------------------------------

    def _read_json(self, name):
        path = self.path / name
        try:
            with open(path) as f:
                return json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"run folder {self.path}: {name} is not valid JSON ({e})") from None

    def _incomplete(self, what, why="training did not finish"):
        return IncompleteRunError(
            f"run folder {self.path} is incomplete: {what} is missing ({why}); run "
            f"`zfkeras train --run-dir {self.path}` to resume"
        )

    def _require(self, name, why="training did not finish"):
        path = self.path / name
        if not path.exists():
            raise self._incomplete(name, why)
        return path

    @property
    def model_path(self):
        """Path of the final model (``model.keras``)."""
        return self.path / "model.keras"

    @property
    def report_dir(self):
        """Folder for the report (``<run>/report``; not created here)."""
        return self.path / "report"

    @property
    def is_complete(self):
        """Whether training finished (the model and metrics are written)."""
        return self.model_path.is_file() and (self.path / "metrics.json").is_file()

    def load_model(self, **kwargs):
        """Loads ``model.keras`` (zfkeras layers registered).

        Args:
            **kwargs: passed to `zfkeras.load_model` (e.g. ``compile=False``).

        Raises:
            IncompleteRunError: training has not written the model yet.
        """
        self._require("model.keras")
        import zfkeras.runs.preprocessing  # noqa: F401  (registers its layer)
        from zfkeras.saving import load_model

        return load_model(self.model_path, **kwargs)

    @property
    def metrics(self):
        """``metrics.json`` as a dict (test metrics, history, timings)."""
        self._require("metrics.json")
        return self._read_json("metrics.json")

    @property
    def history(self):
        """Per-epoch logs ``{name: [value per epoch]}`` (from metrics.json,
        or the newest checkpoint while training runs)."""
        if (self.path / "metrics.json").is_file():
            return self.metrics["history"]
        checkpoints = sorted((self.path / "checkpoints").glob("epoch_*/state.json"))
        if not checkpoints:
            raise self._incomplete("metrics.json", "no epoch has finished yet")
        with open(checkpoints[-1]) as f:
            return json.load(f)["history"]

    # -- data --------------------------------------------------------------

    @property
    def dataset(self):
        """The data source: ``"fashion_mnist"``, ``"folder"`` or ``"tfds"``."""
        return self.config["dataset"]

    @property
    def class_names(self):
        """Label names in label order (list of str)."""
        if (self.path / "class_names.json").is_file():
            return [str(name) for name in self._read_json("class_names.json")]
        if self.dataset == "fashion_mnist":
            return list(FASHION_MNIST_NAMES)  # runs from before class_names.json
        raise self._incomplete("class_names.json", "training has not started")

    @property
    def splits(self):
        """The split plan (see `zfkeras.runs.splits.plan_splits`)."""
        if (self.path / SPLITS_FILENAME).is_file():
            return self._read_json(SPLITS_FILENAME)
        if self.dataset == "fashion_mnist":  # runs from before splits.json
            return plan_splits(["train", "test"], self.config["validation_size"], self.config["seed"])
        raise self._incomplete(SPLITS_FILENAME, "training has not started")

    def normalization(self):
        """``(mean_image, scale)`` the model's inputs are normalised with."""
        import numpy as np

        if self.dataset == "fashion_mnist":
            path = self._require("normalization.npz", "training has not started")
            with np.load(path) as f:
                return f["mean_image"].astype(np.float32), float(f["pixel_std"])
        path = self._require("mean_image.npy", "training has not started")
        return np.load(path).astype(np.float32), 1.0

    @property
    def input_shape(self):
        """``(H, W, C)`` of the model's input."""
        mean, _ = self.normalization()
        if self.dataset == "fashion_mnist":
            return tuple(int(d) for d in mean.shape)
        crop = int(self.config["crop_size"])
        return (crop, crop, int(mean.shape[-1]))

    def preprocess(self, images):
        """Raw images -> the float32 inputs the model was trained on.

        Args:
            images: uint8 or float ``(N, H, W, C)`` pixels in [0, 255] at the
                model's input size (`input_shape`), or, for image-folder
                and TFDS runs, at the ``image_size`` centre square (then
                centre-cropped after the mean is subtracted, as in training).

        Returns:
            float32 numpy array ``(N, *input_shape)``.
        """
        from zfkeras.runs.preprocessing import preprocess_images

        mean, scale = self.normalization()
        return preprocess_images(images, mean, scale, self.input_shape[:2])

    def preprocessing_layer(self, name="run_preprocessing"):
        """A Keras layer doing `preprocess` in-graph (uint8 or float input).

        Returns:
            `zfkeras.runs.preprocessing.RunPreprocessing` (serialisable).
        """
        from zfkeras.runs.preprocessing import RunPreprocessing, preprocess_images

        mean, scale = self.normalization()
        h, w, c = self.input_shape
        # The mean at the input size, cut exactly as preprocess() cuts it.
        mean_crop = preprocess_images(mean[None], mean * 0, 1.0, (h, w))[0]
        return RunPreprocessing((h, w, c), scale, mean=mean_crop, name=name)

    def load_split(self, split, max_examples=None, seed=0):
        """Raw images and labels of the run's training or test data.

        ``"test"`` is data the run never trained or annealed on (see
        `splits`). Images are uint8 at the model's input size: Fashion-MNIST
        as stored, image files resized and centre-cropped as in training.

        Args:
            split: ``"train"`` or ``"test"``.
            max_examples: at most this many, drawn at random (sorted by
                index); None: all.
            seed: seed of that draw.

        Returns:
            ``(images uint8 (N, H, W, C), labels int64 (N,))``.
        """
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if max_examples is not None and (isinstance(max_examples, bool) or not isinstance(max_examples, int)
                                         or max_examples < 1):
            raise ValueError(f"max_examples must be a positive int or None, got {max_examples!r}")
        from zfkeras.runs.sources import load_raw_split

        return load_raw_split(self, split, max_examples, seed)

    # -- feature evolution -------------------------------------------------

    def evolution(self):
        """Feature-evolution records (paper Fig. 4) of every recorded epoch.

        Returns:
            dict layer name -> list (by epoch) of dicts with ``epoch``,
            ``projections`` (M, H, W, C), ``channels`` (M,), ``image_ids``
            (M,), ``positions`` (M, 2) and ``values`` (M,). Image ids are
            indices into Fashion-MNIST's training array, or positions in
            the run's (decodable) training files / TFDS training stream.

        Raises:
            IncompleteRunError: no epoch has been recorded.
        """
        import numpy as np

        files = sorted((self.path / "evolution").glob("evolution_epoch_*.npz"))
        if not files:
            raise self._incomplete("evolution/evolution_epoch_*.npz", "no recorded epoch has finished yet")
        records = {}
        for path in files:
            with np.load(path) as f:
                epoch = int(f["epoch"])
                for layer in [str(name) for name in f["layers"]]:
                    records.setdefault(layer, []).append({
                        "epoch": epoch,
                        **{key: f[f"{layer}_{key}"] for key in
                           ("projections", "channels", "image_ids", "positions", "values")},
                    })
        for layer_records in records.values():
            layer_records.sort(key=lambda record: record["epoch"])
        return records
