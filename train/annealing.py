"""The paper's learning-rate annealing, with state that survives a resume."""

import keras

from zfkeras.utils.validation import float_in_range, one_of, positive_int


class PlateauAnnealer(keras.callbacks.Callback):
    """Divides the learning rate when validation error stops improving.

    Zeiler & Fergus annealed the rate by hand "when the validation error
    plateaus"; this is that rule made automatic: after `patience` epochs
    without a new best `monitor` value, multiply the rate by `factor`
    (0.1: divide by 10), never below `min_lr`, then wait `patience` epochs
    again. Unlike `keras.callbacks.ReduceLROnPlateau`, its state can be
    saved and restored (`get_state`/`set_state`), so a resumed run anneals
    exactly as an uninterrupted one.

    Args:
        monitor: a validation metric where lower is better
            (e.g. ``"val_error"``), or higher-is-better with ``mode="max"``.
        factor: multiplier applied at a plateau, in (0, 1).
        patience: epochs without improvement before annealing (int >= 1).
        min_lr: floor of the learning rate (>= 0).
        mode: ``"min"`` or ``"max"``.

    Raises:
        ValueError, TypeError: an argument out of range or of the wrong type.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=1, min_lr=1e-5, mode="min"):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"monitor must be a metric name such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        # factor >= 1 would raise the rate at every plateau, 0 would stop training.
        self.factor = float_in_range(factor, "factor", 0, 1, low_inclusive=False, high_inclusive=False)
        self.patience = positive_int(patience, "patience")
        self.min_lr = float_in_range(min_lr, "min_lr", 0, None)
        self.mode = one_of(mode, "mode", ("min", "max"))
        self.best = None
        self.wait = 0
        self.events = []  # [[epoch, new_lr], ...] (JSON-friendly)

    def get_state(self):
        return {"best": self.best, "wait": self.wait, "events": self.events}

    def set_state(self, state):
        self.best, self.wait = state["best"], state["wait"]
        self.events = [list(e) for e in state["events"]]

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(
                f"PlateauAnnealer monitors {self.monitor!r} but the epoch's logs only have "
                f"{sorted(logs)}; pass validation data to fit"
            )
        value = float(logs[self.monitor])
        if self._improved(value):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                new_lr = max(lr * self.factor, self.min_lr)
                if new_lr < lr:
                    self.model.optimizer.learning_rate.assign(new_lr)
                    self.events.append([epoch + 1, new_lr])
                    print(f"\nEpoch {epoch + 1}: {self.monitor} plateaued; learning rate {lr:.2e} -> {new_lr:.2e}")
                self.wait = 0
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
