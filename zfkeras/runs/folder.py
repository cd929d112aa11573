"""`RunFolder`: everything a finished (or running) training run left behind.

``zfkeras train --run-dir DIR`` writes (`zfkeras.runs.layout`)::

{layout}

`RunFolder` reads these for the report, the probes and the export, so no
tool parses them on its own. Opening one reads only ``config.json``; numpy,
Keras and the data are loaded when a method needs them.
"""

import json

from zfkeras.data.fashion_mnist import FASHION_MNIST_CLASSES
from zfkeras.keras_objects.model_files import zip_damage
from zfkeras.runs import layout
from zfkeras.runs.layout import RunLayout
from zfkeras.runs.splits import plan_splits
from zfkeras.utils.errors import InputError
from zfkeras.utils.paths import check_readable_file

__doc__ = __doc__.replace("{layout}", layout.describe())


class IncompleteRunError(InputError):
    """The run folder lacks a file that training writes (it did not finish)."""


class CorruptRunError(InputError):
    """A file of the run folder exists but is damaged (e.g. truncated)."""


class RunFolder:
    """A training run's folder.

    Args:
        path: the folder given to ``zfkeras train --run-dir``.

    Raises:
        ValueError: `path` is not a run folder (no readable config.json).
    """

    def __init__(self, path):
        self.layout = RunLayout(path)
        self.path = self.layout.root
        config_path = self.layout.config
        if not self.path.is_dir():
            raise InputError(f"not a run folder: {str(self.path)!r} does not exist or is not a folder")
        if not config_path.is_file():
            raise InputError(
                f"not a run folder: {str(self.path)!r} has no {layout.CONFIG}; pass the folder "
                "`zfkeras train --run-dir DIR` wrote"
            )
        config = self._read_json(layout.CONFIG)
        if not isinstance(config, dict) or "dataset" not in config:
            raise InputError(f"not a run folder: {config_path} is not a zfkeras training configuration")
        self.config = config

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    # -- files -------------------------------------------------------------

    def _read_json(self, name):
        path = self.path / name
        check_readable_file(path, f"run folder {self.path}:")
        try:
            with open(path) as f:
                return json.load(f)
        except json.JSONDecodeError as e:
            raise InputError(f"run folder {self.path}: {name} is not valid JSON ({e})") from None

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
        return self.layout.model

    @property
    def report_dir(self):
        """Folder for the report (``<run>/report``; not created here)."""
        return self.layout.report

    @property
    def ablations_dir(self):
        """Folder of the Table 2 variant runs (``<run>/ablations``)."""
        return self.layout.ablations

    @property
    def is_complete(self):
        """Whether training finished (the model and metrics are written)."""
        return self.model_path.is_file() and self.layout.metrics.is_file()

    def load_model(self, **kwargs):
        """Loads ``model.keras`` (zfkeras layers registered).

        Args:
            **kwargs: passed to `zfkeras.load_model` (e.g. ``compile=False``).

        Returns:
            The Keras model.

        Raises:
            IncompleteRunError: training has not written the model yet.
            CorruptRunError: the file exists but is not a complete
                ``.keras`` archive (e.g. truncated by a full disk or a copy).
        """
        self._require(layout.MODEL)
        # A file this user may not read is not damaged: say so before
        # Keras (and the damage check below) call it corrupt.
        check_readable_file(self.model_path, f"run folder {self.path}:")
        import zfkeras.runs.preprocessing  # noqa: F401  (registers its layer)
        from zfkeras.keras_objects.saving import load_model

        try:
            return load_model(self.model_path, **kwargs)
        except Exception as error:  # Keras raises several types for a bad file
            damage = zip_damage(self.model_path)
            if damage is None:
                raise
            raise CorruptRunError(
                f"run folder {self.path}: {self.model_path} is corrupt ({damage}); move it away "
                f"(mv {self.model_path} {self.model_path}.damaged) and run "
                f"`zfkeras train --run-dir {self.path}` to write it again from the last checkpoint"
            ) from error

    @property
    def metrics(self):
        """``metrics.json`` as a dict (test metrics, history, timings)."""
        self._require(layout.METRICS)
        return self._read_json(layout.METRICS)

    @property
    def history(self):
        """Per-epoch logs ``{name: [value per epoch]}`` (from metrics.json,
        or the newest checkpoint while training runs)."""
        if self.layout.metrics.is_file():
            return self.metrics["history"]
        checkpoints = sorted(self.layout.checkpoints.glob(f"*/{layout.CHECKPOINT_STATE}"))
        if not checkpoints:
            raise self._incomplete(layout.METRICS, "no epoch has finished yet")
        with open(checkpoints[-1]) as f:
            return json.load(f)["history"]

    def digest(self, name):
        """SHA-256 of one file of the run folder (read in 1 MiB blocks).

        Args:
            name: a file name of `zfkeras.runs.layout` (e.g. ``layout.MODEL``).

        Returns:
            Hex digest (str), or None when the file does not exist.
        """
        import hashlib

        path = self.path / name
        if not path.is_file():
            return None
        sha = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                sha.update(block)
        return sha.hexdigest()

    # -- data --------------------------------------------------------------

    @property
    def dataset(self):
        """The data source: ``"fashion_mnist"``, ``"folder"`` or ``"tfds"``."""
        return self.config["dataset"]

    @property
    def class_names(self):
        """Label names in label order (list of str)."""
        if self.layout.class_names.is_file():
            return [str(name) for name in self._read_json(layout.CLASS_NAMES)]
        if self.dataset == "fashion_mnist":
            return list(FASHION_MNIST_CLASSES)  # runs from before class_names.json
        raise self._incomplete(layout.CLASS_NAMES, "training has not started")

    @property
    def splits(self):
        """The split plan (see `zfkeras.runs.splits.plan_splits`)."""
        if self.layout.splits.is_file():
            return self._read_json(layout.SPLITS)
        if self.dataset == "fashion_mnist":  # runs from before splits.json
            return plan_splits(["train", "test"], self.config["validation_size"], self.config["seed"])
        raise self._incomplete(layout.SPLITS, "training has not started")

    def normalization(self):
        """``(mean_image, scale)`` the model's inputs are normalised with."""
        import numpy as np

        if self.dataset == "fashion_mnist":
            path = self._require(layout.NORMALIZATION, "training has not started")
            with np.load(path) as f:
                return f["mean_image"].astype(np.float32), float(f["pixel_std"])
        path = self._require(layout.MEAN_IMAGE, "training has not started")
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

    def read_image(self, path):
        """An image file as the run's test images are: uint8 at `input_shape`.

        Image-folder and TFDS runs: the shortest side resized to the run's
        ``image_size``, the centre square, its centre ``crop_size`` crop
        (256 -> 256 -> 224 in the paper), exactly as `load_split` and the
        trainer's test pipeline cut their images. Fashion-MNIST runs: the
        shortest side resized to 28, the centre 28x28, grey. Feed the result
        to `preprocess`.

        Args:
            path: a JPEG, PNG, BMP or GIF file.

        Returns:
            uint8 numpy array ``input_shape``.

        Raises:
            ValueError: the file cannot be read as an image.
        """
        from zfkeras.runs.sources import read_image_file

        height, _, channels = self.input_shape
        side = height if self.dataset == "fashion_mnist" else int(self.config["image_size"])
        return read_image_file(path, side, height, channels)

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
            raise InputError(f"split must be 'train' or 'test', got {split!r}")
        if max_examples is not None and (isinstance(max_examples, bool) or not isinstance(max_examples, int)
                                         or max_examples < 1):
            raise InputError(f"max_examples must be a positive int or None, got {max_examples!r}")
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

        files = sorted(self.layout.evolution.glob(layout.EVOLUTION_GLOB))
        if not files:
            raise self._incomplete(f"{layout.EVOLUTION}/{layout.EVOLUTION_GLOB}", "no recorded epoch has finished yet")
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
