"""Training configuration: defaults, config files and command-line overrides.

Importing this module does not import TensorFlow.
"""

import dataclasses
import json

from zfkeras.utils.atomic import write_json_atomic
from zfkeras.models import ABLATIONS
from zfkeras.train.recipes import RECIPES
from zfkeras.utils.validation import float_in_range, int_pair, non_negative_int, one_of, positive_float, positive_int
from zfkeras.utils.errors import InputError

MODELS = ("zfnet_small", "zfnet", "alexnet_dense")
DATASETS = ("fashion_mnist", "folder", "tfds")
EVOLUTION_EPOCHS = (1, 2, 5, 10, 20, 30, 40, 64)
# What each recipe sets when the field is left at None. The cosine recipe's
# values were chosen on the main job's budget (docs/BENCHMARKS.md); the
# paper's are Sec. 3's (no warm-up or smoothing there).
RECIPE_DEFAULTS = {
    "cosine": {"epochs": 11, "learning_rate": 0.05, "warmup_epochs": 1.0, "label_smoothing": 0.1,
               "weight_decay": 0.0},
    "paper": {"epochs": 10, "learning_rate": 0.01, "warmup_epochs": 0.0, "label_smoothing": 0.0,
              "weight_decay": 0.0},
}
# A saved config from before recipes existed was trained with the paper's.
LEGACY_DEFAULTS = {"recipe": "paper", **RECIPE_DEFAULTS["paper"]}


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run; saved as ``config.json``.

    The model and its regularisation are the paper's (Sec. 3) at the scale
    of the embedded dataset: SGD with momentum 0.9, batch 128, dropout 0.5
    on fc6/fc7, feature-scale clipping at RMS 0.1 on conv kernels. The
    learning rate follows ``recipe`` (`zfkeras.train.recipes`): ``"cosine"``
    (default) warms up and anneals within the budget; ``"paper"`` divides a
    constant rate by 10 when validation accuracy plateaus. ``epochs``,
    ``learning_rate``, ``warmup_epochs`` and ``label_smoothing`` left at
    None take the recipe's values (`RECIPE_DEFAULTS`) in `validate`.
    """

    # data
    dataset: str = "fashion_mnist"
    data_dir: str = ""           # fashion_mnist files / class-folder root / TFDS data_dir
    tfds_name: str = ""          # e.g. imagenet2012, caltech101 (dataset == "tfds")
    manual_dir: str = ""         # TFDS manual_dir holding the downloaded archives
    image_size: int = 256        # folder/tfds: shortest side and centre crop
    crop_size: int = 224         # folder/tfds: training crop (one of ten)
    validation_size: int = 5000  # held out of the training split (see zfkeras.runs.splits)
    max_train_examples: int = 0  # 0 = all (small values for tests and smoke runs)
    augment_flip: bool = False   # Fashion-MNIST: random horizontal flips (image data always uses the ten crops +- flip)
    augment_translate: int = 0   # Fashion-MNIST: random shifts of up to this many pixels (zero-filled), per image
    augment_cutout: int = 0      # Fashion-MNIST: a random square of this side set to the mean pixel, per image
    # model
    model: str = "zfnet_small"
    ablation: str = "zf"
    fc_units: int = 0            # 0 = the model's default
    conv1: tuple = ()            # zfnet_small: (kernel, stride) of conv1; () = the model's default
    dropout: float = 0.5
    filter_rms_clip: float = 0.1
    # recipe (None: the recipe's value, see RECIPE_DEFAULTS)
    recipe: str = "cosine"
    epochs: int = None
    batch_size: int = 128
    learning_rate: float = None
    warmup_epochs: float = None
    label_smoothing: float = None
    weight_decay: float = None   # decoupled, Keras' SGD(weight_decay=): w -= lr * wd * w each step; biases excluded
    nesterov: bool = False
    momentum: float = 0.9
    anneal_factor: float = 0.1
    anneal_patience: int = 2
    min_learning_rate: float = 1e-5
    seed: int = 0
    # devices
    devices: int = 0             # 0: all GPUs if several, else the CPU; N: N logical CPUs
    mixed_precision: bool = False  # Keras mixed_float16 policy (GPUs); analysis stays float32
    worker_timeout: int = 300    # TF_CONFIG runs: seconds to wait for the other workers (0: no limit)
    data_threads: int = 0        # input pipelines: 0 = auto (1 thread on <= 2 cores, else AUTOTUNE); N threads
    # feature evolution (paper Fig. 4)
    evolution_epochs: tuple = EVOLUTION_EPOCHS
    evolution_maps: int = 8
    evolution_sample: int = 2048
    # output
    run_dir: str = "runs/zfnet_small-fashion_mnist"

    def validate(self):
        """Checks every field; returns self.

        Raises:
            ValueError, TypeError: naming the first bad field and its value.
        """
        one_of(self.model, "model", MODELS)
        one_of(self.recipe, "recipe", RECIPES)
        for name, value in RECIPE_DEFAULTS[self.recipe].items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        one_of(self.dataset, "dataset", DATASETS)
        if self.dataset == "folder" and not self.data_dir:
            raise InputError("dataset 'folder' needs --data-dir (a folder with a train/ sub-folder)")
        if self.dataset == "tfds" and not self.tfds_name:
            raise InputError("dataset 'tfds' needs --tfds-name (e.g. imagenet2012)")
        for name in ("epochs", "batch_size", "evolution_maps", "evolution_sample", "image_size",
                     "crop_size", "anneal_patience"):
            positive_int(getattr(self, name), name)
        for name in ("validation_size", "max_train_examples", "devices", "fc_units", "seed",
                     "worker_timeout", "data_threads"):
            non_negative_int(getattr(self, name), name)
        positive_float(self.learning_rate, "learning_rate")
        float_in_range(self.momentum, "momentum", 0, 1, high_inclusive=False)
        float_in_range(self.dropout, "dropout", 0, 1, high_inclusive=False)
        float_in_range(self.filter_rms_clip, "filter_rms_clip", 0, None)
        float_in_range(self.anneal_factor, "anneal_factor", 0, 1, low_inclusive=False, high_inclusive=False)
        float_in_range(self.min_learning_rate, "min_learning_rate", 0, None)
        if self.crop_size > self.image_size:
            raise InputError(f"crop_size {self.crop_size} exceeds image_size {self.image_size}")
        if isinstance(self.evolution_epochs, (str, bytes)) or not all(
                isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in self.evolution_epochs):
            raise InputError(f"evolution_epochs must be positive ints, got {self.evolution_epochs!r}")
        one_of(self.ablation, "ablation", sorted(ABLATIONS))
        if self.conv1:
            if self.model != "zfnet_small":
                raise InputError(f"conv1 can only be set for zfnet_small, not {self.model!r}")
            if isinstance(self.conv1, (str, bytes)) or len(self.conv1) != 2:
                raise InputError(f"conv1 must be two positive ints (kernel, stride), got {self.conv1!r}")
            self.conv1 = int_pair(self.conv1, "conv1")
        if self.recipe == "paper" and self.warmup_epochs:
            raise InputError("the paper recipe has no warm-up (its annealer sets the rate); "
                             "drop --warmup-epochs or use --recipe cosine")
        float_in_range(self.warmup_epochs, "warmup_epochs", 0, None)
        float_in_range(self.label_smoothing, "label_smoothing", 0, 1, high_inclusive=False)
        float_in_range(self.weight_decay, "weight_decay", 0, 1, high_inclusive=False)
        for name in ("augment_translate", "augment_cutout"):
            non_negative_int(getattr(self, name), name)
            if getattr(self, name) and self.dataset != "fashion_mnist":
                raise InputError(f"{name} applies to Fashion-MNIST only (got dataset {self.dataset!r}); "
                                 "image folders and TFDS train on the paper's random crops")
        if self.augment_cutout >= 28:
            raise InputError(f"augment_cutout must be smaller than the 28-pixel image, got {self.augment_cutout!r}")
        return self

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["evolution_epochs"] = list(self.evolution_epochs)
        d["conv1"] = list(self.conv1)
        return d

    @classmethod
    def from_dict(cls, d):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise InputError(f"unknown config keys {unknown}; known keys: {sorted(fields)}")
        d = dict(d)
        if "evolution_epochs" in d:
            d["evolution_epochs"] = tuple(int(e) for e in d["evolution_epochs"])
        if "conv1" in d:
            d["conv1"] = tuple(d["conv1"])
        return cls(**d)

    @classmethod
    def from_file(cls, path):
        try:
            with open(path) as f:
                data = json.load(f)
        except FileNotFoundError:
            raise InputError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as e:
            raise InputError(f"config file {path} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise InputError(f"config file {path} must hold a JSON object")
        return cls.from_dict(data)

    def save(self, path):
        write_json_atomic(path, self.to_dict())


# Fields that may differ when a run is resumed (they do not change results).
RESUMABLE_DIFFERENCES = ("devices", "run_dir", "data_dir", "manual_dir", "worker_timeout", "data_threads")


def read_json(path):
    """The JSON object in ``path`` (a config file already checked by `TrainConfig.from_file`)."""
    with open(path) as f:
        return json.load(f)


def completed(saved):
    """A config dict as some zfkeras version wrote it, with every field: one
    it lacks (written before the field existed) takes that version's default
    (`LEGACY_DEFAULTS`: the paper's recipe), else today's."""
    return {**TrainConfig().validate().to_dict(), **LEGACY_DEFAULTS, **saved}


def config_differences(saved, new):
    """Fields of two config dicts that differ and make them different runs.

    `saved` is `completed` first (a run from an older zfkeras).

    Returns:
        Sorted list of ``(field, saved value, new value)``.
    """
    saved = completed(saved)
    return sorted(
        (key, saved.get(key), value)
        for key, value in new.items()
        if key not in RESUMABLE_DIFFERENCES and saved.get(key) != value
    )
