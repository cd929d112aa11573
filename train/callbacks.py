"""Small training callbacks: epoch wall time, a history that survives resumes, the learning rate."""

import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch's training and validation (not the work of
    later callbacks such as feature evolution).

    Args:
        seconds: times of epochs already done (from a checkpoint), or None.

    Attributes:
        seconds: list of float, one per epoch.
    """

    def __init__(self, seconds=None):
        super().__init__()
        self.seconds = _float_list(seconds or [], "seconds")

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


class HistoryRecorder(keras.callbacks.Callback):
    """Per-epoch logs as lists, carried across resumes.

    Args:
        history: ``{name: [value per epoch]}`` from a checkpoint, or None.
    """

    def __init__(self, history=None):
        super().__init__()
        history = {} if history is None else history
        if not isinstance(history, dict):
            raise TypeError(f"history must be a dict of name -> list of numbers, got {history!r}")
        self.history = {str(k): _float_list(v, f"history[{k!r}]") for k, v in history.items()}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))


class LearningRateLog(keras.callbacks.Callback):
    """Puts the optimizer's current learning rate into each epoch's logs.

    With a schedule the rate changes every step; the value logged is the
    one the next step uses, as `PlateauAnnealer` logs for the paper's recipe
    (so TensorBoard and the history show it either way).
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def _float_list(values, name):
    if isinstance(values, (str, bytes, dict)):
        raise TypeError(f"{name} must be a list of numbers, got {values!r}")
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a list of numbers, got {values!r}") from None
