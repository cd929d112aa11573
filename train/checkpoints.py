"""Per-epoch checkpoints that are never half-written, and resuming from them.

A checkpoint is a folder ``checkpoints/epoch_NNNN/`` holding ``model.keras``
(weights and optimizer state, learning rate included) and ``state.json``
(epoch, history, annealing state). It is written with
`zfkeras.utils.atomic.atomic_directory`: under a temporary name, renamed into
place only when complete, so a process killed at any moment leaves either
the previous checkpoint or the new one, never a partial one. Temporary
leftovers are removed on the next start.
"""

import json
import os
import re
import shutil

import keras

from zfkeras.utils.atomic import atomic_directory, remove_temporaries
from zfkeras.runs.layout import CHECKPOINT_MODEL, CHECKPOINT_PATTERN, CHECKPOINT_REGEX, CHECKPOINT_STATE
from zfkeras.utils.validation import positive_int

_NAME = re.compile(CHECKPOINT_REGEX)


def list_checkpoints(checkpoint_dir):
    """Complete checkpoints as ``[(epoch, path), ...]``, oldest first."""
    if not os.path.isdir(checkpoint_dir):
        return []
    found = []
    for name in os.listdir(checkpoint_dir):
        m = _NAME.match(name)
        path = os.path.join(checkpoint_dir, name)
        if m and os.path.isfile(os.path.join(path, CHECKPOINT_STATE)):
            found.append((int(m.group(1)), path))
    return sorted(found)


def remove_partial_checkpoints(checkpoint_dir):
    """Deletes temporary folders left by a process killed while saving.

    Returns:
        Sorted names removed.
    """
    return remove_temporaries(checkpoint_dir)


def save_checkpoint(model, checkpoint_dir, epoch, state, keep=2):
    """Atomically writes the checkpoint of a completed (1-based) `epoch`.

    Args:
        model: the compiled model (its optimizer state is saved too).
        checkpoint_dir: the run's checkpoint folder.
        epoch: number of completed epochs.
        state: JSON-serialisable dict saved as ``state.json``.
        keep: how many of the newest checkpoints to keep (>= 1).

    Returns:
        The checkpoint's path.
    """
    keep = positive_int(keep, "keep")
    final = os.path.join(checkpoint_dir, CHECKPOINT_PATTERN.format(epoch=epoch))
    with atomic_directory(final, replace=True) as tmp:
        model.save(os.path.join(tmp, CHECKPOINT_MODEL))
        with open(os.path.join(tmp, CHECKPOINT_STATE), "w") as f:
            json.dump({**state, "epoch": epoch}, f, indent=1)
    for _, old in list_checkpoints(checkpoint_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def restore_checkpoint(model, path):
    """Loads weights and optimizer state into a compiled `model`.

    Returns:
        The checkpoint's ``state.json`` as a dict.
    """
    model.optimizer.build(model.trainable_variables)
    model.load_weights(os.path.join(path, CHECKPOINT_MODEL))
    with open(os.path.join(path, CHECKPOINT_STATE)) as f:
        return json.load(f)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a checkpoint at the end of every epoch.

    Args:
        checkpoint_dir: the run's checkpoint folder.
        state_fn: called with the 1-based epoch; returns the extra state to
            save (history, annealing state, ...).
        keep: how many of the newest checkpoints to keep (>= 1).
    """

    def __init__(self, checkpoint_dir, state_fn, keep=2):
        super().__init__()
        if not isinstance(checkpoint_dir, (str, os.PathLike)) or not os.fspath(checkpoint_dir):
            raise TypeError(f"checkpoint_dir must be a folder path, got {checkpoint_dir!r}")
        if not callable(state_fn):
            raise TypeError(f"state_fn must be callable (epoch -> dict), got {state_fn!r}")
        self.checkpoint_dir = os.fspath(checkpoint_dir)
        self.state_fn = state_fn
        self.keep = positive_int(keep, "keep")

    def on_epoch_end(self, epoch, logs=None):
        save_checkpoint(self.model, self.checkpoint_dir, epoch + 1, self.state_fn(epoch + 1), self.keep)
