"""The run folder's format: every file and folder name, defined once.

``zfkeras train`` writes these names (through `zfkeras.runs.writer`) and
every tool reads them (through `zfkeras.runs.folder.RunFolder`); nothing
else spells them. `RunLayout` turns them into paths of one run folder,
`describe` into the listing the docs show.

Needs only the standard library.
"""

import dataclasses
import os
import pathlib

CONFIG = "config.json"
SPLITS = "splits.json"
CLASS_NAMES = "class_names.json"
NORMALIZATION = "normalization.npz"
MEAN_IMAGE = "mean_image.npy"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
EVOLUTION = "evolution"
MODEL = "model.keras"
METRICS = "metrics.json"
REPORT = "report"
ABLATIONS = "ablations"
MINED = "mined"
VISUALIZED = "visualized"

# Inside checkpoints/: one folder per epoch holding the model and its state.
CHECKPOINT_PATTERN = "epoch_{epoch:04d}"
CHECKPOINT_REGEX = r"^epoch_(\d{4})$"
CHECKPOINT_MODEL = MODEL
CHECKPOINT_STATE = "state.json"
# Inside logs/: TensorBoard runs beside the scalars.
LOG_EVOLUTION = "evolution"
LOG_FILTERS = "filters"
# Inside evolution/: one record per recorded epoch.
EVOLUTION_PATTERN = "evolution_epoch_{epoch:03d}.npz"
EVOLUTION_GLOB = "evolution_epoch_*.npz"
# Inside report/: the page's summary of what it holds.
REPORT_SUMMARY = "report.json"
# Inside mined/: one file per mined layer, and the progress of a running pass.
MINED_PATTERN = "{layer}.npz"
MINED_GLOB = "*.npz"
MINED_PARTIAL = "partial"
MINED_PROGRESS = "progress.npz"
# Inside visualized/: one file per layer (or the classes) and optimisation settings.
VISUALIZED_GLOB = "*.npz"

# (name, what it holds), in the order the trainer writes them.
ENTRIES = (
    (CONFIG, "the configuration (compared on resume)"),
    (SPLITS, "where train / validation / test examples come from"),
    (CLASS_NAMES, "the label names, in label order"),
    (NORMALIZATION, "Fashion-MNIST: mean image and pixel std of the training split"),
    (MEAN_IMAGE, "image folders / TFDS: per-pixel mean of the training split's centre squares"),
    (CHECKPOINTS + "/", f"one complete checkpoint per epoch ({CHECKPOINT_PATTERN.split('{')[0]}NNNN/: "
                        f"{CHECKPOINT_MODEL}, {CHECKPOINT_STATE}; newest two)"),
    (LOGS + "/", f"TensorBoard: scalars, conv1 filters ({LOG_FILTERS}/), feature evolution ({LOG_EVOLUTION}/)"),
    (EVOLUTION + "/", f"raw Fig. 4 projections and image ids per recorded epoch ({EVOLUTION_GLOB})"),
    (MODEL, "the final model (written when training finished)"),
    (METRICS, "test metrics, history, timings, checks (written last: the run is complete)"),
    (REPORT + "/", f"what zfkeras report writes (index.html, {REPORT_SUMMARY}, figures, tables)"),
    (ABLATIONS + "/", "zfkeras ablate: one run folder per Table 2 variant"),
    (MINED + "/", f"zfkeras mine: each layer's top-k activations ({MINED_PATTERN.format(layer='<layer>')}; "
                  f"{MINED_PARTIAL}/ while mining)"),
    (VISUALIZED + "/", "the explorer: optimised images (MaCo) of each layer's maps and of the classes"),
)


def describe(indent=4):
    """The layout as an indented listing (name, then what it holds).

    Args:
        indent: spaces before each line.

    Returns:
        str, one line per entry of `ENTRIES`.
    """
    width = max(len(name) for name, _ in ENTRIES) + 2
    return "\n".join(f"{' ' * indent}{name:<{width}}{what}" for name, what in ENTRIES)


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """The paths of one run folder's files (nothing is read or created).

    Args:
        root: the run folder.
    """

    root: pathlib.Path

    def __post_init__(self):
        object.__setattr__(self, "root", pathlib.Path(os.fspath(self.root)))

    @property
    def config(self):
        """``config.json``."""
        return self.root / CONFIG

    @property
    def splits(self):
        """``splits.json``."""
        return self.root / SPLITS

    @property
    def class_names(self):
        """``class_names.json``."""
        return self.root / CLASS_NAMES

    @property
    def normalization(self):
        """``normalization.npz`` (Fashion-MNIST runs)."""
        return self.root / NORMALIZATION

    @property
    def mean_image(self):
        """``mean_image.npy`` (image-folder and TFDS runs)."""
        return self.root / MEAN_IMAGE

    @property
    def checkpoints(self):
        """``checkpoints/``."""
        return self.root / CHECKPOINTS

    @property
    def logs(self):
        """``logs/`` (TensorBoard)."""
        return self.root / LOGS

    @property
    def filter_logs(self):
        """``logs/filters/`` (TensorBoard images of conv1's filters)."""
        return self.logs / LOG_FILTERS

    @property
    def evolution_logs(self):
        """``logs/evolution/`` (TensorBoard images of the feature evolution)."""
        return self.logs / LOG_EVOLUTION

    @property
    def evolution(self):
        """``evolution/``."""
        return self.root / EVOLUTION

    @property
    def model(self):
        """``model.keras``."""
        return self.root / MODEL

    @property
    def metrics(self):
        """``metrics.json``."""
        return self.root / METRICS

    @property
    def report(self):
        """``report/``."""
        return self.root / REPORT

    @property
    def ablations(self):
        """``ablations/``."""
        return self.root / ABLATIONS

    @property
    def mined(self):
        """``mined/`` (top-k activations written by ``zfkeras mine``)."""
        return self.root / MINED

    @property
    def visualized(self):
        """``visualized/`` (the explorer's feature visualisations, `zfkeras.runs.visualized`)."""
        return self.root / VISUALIZED

    @property
    def mined_progress(self):
        """``mined/partial/progress.npz`` (the progress of an unfinished ``zfkeras mine``)."""
        return self.mined / MINED_PARTIAL / MINED_PROGRESS
