"""`RunWriter`: how ``zfkeras train`` and ``zfkeras ablate`` write a run folder.

Every file goes to its name in `zfkeras.runs.layout`, atomically
(`zfkeras.utils.atomic`): a reader (`RunFolder`) sees a file whole or not at all.
``metrics.json`` is written last; with it the run counts as complete.

Importing this module needs only the standard library; numpy and Keras
are imported by the methods that need them.
"""

from zfkeras.utils.atomic import atomic_path, write_json_atomic
from zfkeras.runs.layout import RunLayout


class RunWriter:
    """Writes the files of one run folder.

    Args:
        path: the run folder (created by the first write).
    """

    def __init__(self, path):
        self.layout = RunLayout(path)

    @property
    def path(self):
        """The run folder (`pathlib.Path`)."""
        return self.layout.root

    def __repr__(self):
        return f"RunWriter({str(self.path)!r})"

    def write_config(self, config):
        """Writes ``config.json``.

        Args:
            config: JSON-serialisable dict (``TrainConfig.to_dict()``).

        Returns:
            The file's path.
        """
        return write_json_atomic(self.layout.config, config)

    def write_class_names(self, names):
        """Writes ``class_names.json`` (label names in label order).

        Returns:
            The file's path.
        """
        return write_json_atomic(self.layout.class_names, [str(name) for name in names])

    def write_splits(self, plan):
        """Writes ``splits.json`` (a plan of `zfkeras.runs.splits.plan_splits`).

        Returns:
            The file's path.
        """
        return write_json_atomic(self.layout.splits, plan)

    def write_normalization(self, mean_image, pixel_std):
        """Writes ``normalization.npz`` (Fashion-MNIST runs).

        Args:
            mean_image: ``(H, W, C)`` per-pixel mean of the training split.
            pixel_std: the pixel standard deviation.

        Returns:
            The file's path.
        """
        import numpy as np

        with atomic_path(self.layout.normalization) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, mean_image=np.asarray(mean_image, np.float32), pixel_std=np.float32(pixel_std))
        return self.layout.normalization

    def write_model(self, model):
        """Saves the final model as ``model.keras``.

        Args:
            model: a Keras model.

        Returns:
            The file's path.
        """
        with atomic_path(self.layout.model) as tmp:
            model.save(tmp)
        return self.layout.model

    def write_metrics(self, metrics):
        """Writes ``metrics.json``; call it last (the run is then complete).

        Returns:
            The file's path.
        """
        return write_json_atomic(self.layout.metrics, metrics)
