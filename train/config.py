"""Training configuration: defaults, config files and command-line overrides.

Importing this module does not import TensorFlow.
"""

import dataclasses
import json
import os

from zfkeras import ABLATIONS

MODELS = ("zfnet_small", "zfnet", "alexnet_dense")
DATASETS = ("fashion_mnist", "folder", "tfds")
EVOLUTION_EPOCHS = (1, 2, 5, 10, 20, 30, 40, 64)


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as ``config.json``.

    The defaults are the paper's recipe (Sec. 3) at the scale of the
    embedded dataset: SGD, learning rate 1e-2, momentum 0.9, batch 128,
    dropout 0.5 on fc6/fc7, feature-scale clipping at RMS 0.1 on conv
    kernels, learning rate divided by 10 when validation error plateaus.
    """

    # data
    dataset: str = "fashion_mnist"
    data_dir: str = ""           # fashion_mnist files / class-folder root / TFDS data_dir
    tfds_name: str = ""          # e.g. imagenet2012, caltech101 (dataset == "tfds")
    manual_dir: str = ""         # TFDS manual_dir holding the downloaded archives
    image_size: int = 256        # folder/tfds: shortest side and centre crop
    crop_size: int = 224         # folder/tfds: training crop (one of ten)
    validation_size: int = 5000  # held out from the training split
    max_train_examples: int = 0  # 0 = all (small values for tests and smoke runs)
    augment_flip: bool = False   # Fashion-MNIST: random horizontal flips (image data always uses the ten crops +- flip)
    # model
    model: str = "zfnet_small"
    ablation: str = "zf"
    fc_units: int = 0            # 0 = the model's default
    dropout: float = 0.5
    filter_rms_clip: float = 0.1
    # recipe
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 0.01
    momentum: float = 0.9
    anneal_factor: float = 0.1
    anneal_patience: int = 2
    min_learning_rate: float = 1e-5
    seed: int = 0
    # devices
    devices: int = 0             # 0: all GPUs if several, else the CPU; N: N logical CPUs
    # feature evolution (paper Fig. 4)
    evolution_epochs: tuple = EVOLUTION_EPOCHS
    evolution_maps: int = 8
    evolution_sample: int = 2048
    # output
    run_dir: str = "runs/zfnet_small-fashion_mnist"

    def validate(self):
        """Raises ValueError naming the first bad field."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.dataset == "folder" and not self.data_dir:
            raise ValueError("dataset 'folder' needs --data-dir (a folder of class sub-folders)")
        if self.dataset == "tfds" and not self.tfds_name:
            raise ValueError("dataset 'tfds' needs --tfds-name (e.g. imagenet2012)")
        for name in ("epochs", "batch_size", "evolution_maps", "evolution_sample", "image_size", "crop_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("validation_size", "max_train_examples", "devices", "anneal_patience", "fc_units"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 < self.anneal_factor < 1:
            raise ValueError(f"anneal_factor must be in (0, 1), got {self.anneal_factor}")
        if self.crop_size > self.image_size:
            raise ValueError(f"crop_size {self.crop_size} exceeds image_size {self.image_size}")
        if any(int(e) < 1 for e in self.evolution_epochs):
            raise ValueError(f"evolution_epochs must be positive, got {self.evolution_epochs}")
        if self.ablation not in ABLATIONS:
            raise ValueError(f"ablation must be one of {sorted(ABLATIONS)}, got {self.ablation!r}")
        return self

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["evolution_epochs"] = list(self.evolution_epochs)
        return d

    @classmethod
    def from_dict(cls, d):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known keys: {sorted(fields)}")
        d = dict(d)
        if "evolution_epochs" in d:
            d["evolution_epochs"] = tuple(int(e) for e in d["evolution_epochs"])
        return cls(**d)

    @classmethod
    def from_file(cls, path):
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise ValueError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"config file {path} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a JSON object")
        return cls.from_dict(data)

    def save(self, path):
        write_json_atomic(path, self.to_dict())


# Fields that may differ when a run is resumed (they do not change results).
RESUMABLE_DIFFERENCES = ("devices", "run_dir", "data_dir", "manual_dir")


def write_json_atomic(path, data):
    """Writes JSON to a temporary file beside `path`, then renames it over."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
