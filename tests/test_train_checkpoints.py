import json
import os

import numpy as np
import keras
import pytest

from zfkeras.train import checkpoints as ckpt
from zfkeras.train.annealing import PlateauAnnealer


def _model():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
    m.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse", jit_compile=False)
    return m


def test_restore_brings_back_weights_optimizer_state_and_learning_rate(tmp_path):
    x, y = np.random.RandomState(0).rand(32, 4), np.random.RandomState(1).rand(32, 3)
    model = _model()
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.optimizer.learning_rate.assign(0.001)
    path = ckpt.save_checkpoint(model, str(tmp_path), 2, {"note": "hi"})
    fresh = _model()
    state = ckpt.restore_checkpoint(fresh, path)
    assert state == {"note": "hi", "epoch": 2}
    assert int(fresh.optimizer.iterations) == 8
    assert np.isclose(float(fresh.optimizer.learning_rate), 0.001)
    for a, b in zip(model.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_partial_checkpoints_are_ignored_and_cleaned(tmp_path):
    model = _model()
    ckpt.save_checkpoint(model, str(tmp_path), 1, {})
    # what a process killed while saving epoch 2 leaves behind
    partial = tmp_path / ".tmp-epoch_0002-999"
    partial.mkdir()
    (partial / "model.keras").write_bytes(b"half")
    # a folder with a model but no state.json is not complete either
    (tmp_path / "epoch_0003").mkdir()
    assert [e for e, _ in ckpt.list_checkpoints(str(tmp_path))] == [1]
    assert ckpt.remove_partial_checkpoints(str(tmp_path)) == [".tmp-epoch_0002-999"]
    assert not partial.exists()


def test_keeps_only_the_newest(tmp_path):
    model = _model()
    for epoch in range(1, 5):
        ckpt.save_checkpoint(model, str(tmp_path), epoch, {}, keep=2)
    assert [e for e, _ in ckpt.list_checkpoints(str(tmp_path))] == [3, 4]
    assert not any(n.startswith(".tmp") for n in os.listdir(tmp_path))


def test_annealer_divides_on_plateau_and_state_round_trips():
    model = _model()
    annealer = PlateauAnnealer("val_accuracy", factor=0.1, patience=2, min_lr=1e-4, mode="max")
    annealer.set_model(model)
    lrs = []
    for epoch, acc in enumerate([0.5, 0.6, 0.6, 0.59, 0.7, 0.7, 0.69, 0.1, 0.1, 0.1, 0.1]):
        logs = {"val_accuracy": acc}
        annealer.on_epoch_end(epoch, logs)
        lrs.append(round(logs["learning_rate"], 6))
    # plateaus after epochs 2-3 and 6-7, then floors at min_lr
    assert lrs[:4] == [0.1, 0.1, 0.1, 0.01]
    assert lrs[6] == 0.001 and lrs[-1] == 0.0001
    assert [e for e, _ in annealer.events] == [4, 7, 9]
    clone = PlateauAnnealer("val_accuracy", mode="max")
    clone.set_state(json.loads(json.dumps(annealer.get_state())))
    assert clone.get_state() == json.loads(json.dumps(annealer.get_state()))


def test_annealer_needs_validation_logs():
    annealer = PlateauAnnealer("val_accuracy", mode="max")
    annealer.set_model(_model())
    try:
        annealer.on_epoch_end(0, {"loss": 1.0})
    except ValueError as e:
        assert "pass validation data" in str(e)
    else:
        raise AssertionError("no error")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(factor=10), ValueError, r"factor must be in \(0, 1\), got 10"),
    (dict(factor=1.0), ValueError, r"factor must be in \(0, 1\)"),
    (dict(factor=0), ValueError, r"factor must be in \(0, 1\)"),
    (dict(factor="0.1"), TypeError, "factor must be a number"),
    (dict(patience=0), ValueError, "patience must be a positive integer, got 0"),
    (dict(patience=-2), ValueError, "patience must be a positive integer"),
    (dict(patience=1.5), TypeError, "patience must be a positive integer"),
    (dict(min_lr=-1e-3), ValueError, "min_lr must be in"),
    (dict(mode="up"), ValueError, "mode must be one of 'min', 'max'; got 'up'"),
    (dict(monitor=""), TypeError, "monitor must be a metric name"),
])
def test_annealer_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        PlateauAnnealer(**kwargs)


def test_annealer_accepts_numpy_numbers():
    annealer = PlateauAnnealer(factor=np.float32(0.5), patience=np.int64(3))
    assert annealer.patience == 3 and annealer.factor == 0.5


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(checkpoint_dir=None), TypeError, "checkpoint_dir must be a folder path"),
    (dict(state_fn="history"), TypeError, "state_fn must be callable"),
    (dict(keep=0), ValueError, "keep must be a positive integer, got 0"),
])
def test_epoch_checkpoint_rejects_bad_arguments(tmp_path, kwargs, error, match):
    args = dict(checkpoint_dir=str(tmp_path), state_fn=lambda epoch: {})
    args.update(kwargs)
    with pytest.raises(error, match=match):
        ckpt.EpochCheckpoint(**args)


def test_callbacks_validate_and_carry_state(monkeypatch):
    import types

    from zfkeras.train import callbacks
    from zfkeras.train.callbacks import EpochTimer, HistoryRecorder

    recorder = HistoryRecorder({"loss": [2, 1.5]})
    recorder.on_epoch_end(2, {"loss": np.float32(1.0), "val_accuracy": 0.5})
    assert recorder.history == {"loss": [2.0, 1.5, 1.0], "val_accuracy": [0.5]}
    # the epoch's time is the clock's difference between its begin and its end
    clock = iter([100.0, 102.5])
    monkeypatch.setattr(callbacks, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    timer = EpochTimer([3.0])
    timer.on_epoch_begin(1)
    timer.on_epoch_end(1)
    assert timer.seconds == [3.0, 2.5]
    with pytest.raises(TypeError, match="history must be a dict"):
        HistoryRecorder([1.0])
    with pytest.raises(TypeError, match=r"history\['loss'\] must be a list of numbers"):
        HistoryRecorder({"loss": "1.0"})
    with pytest.raises(TypeError, match="seconds must be a list of numbers"):
        EpochTimer(["fast"])


def test_a_failed_save_leaves_the_previous_checkpoint_and_no_temporary(tmp_path):
    model = _model()
    ckpt.save_checkpoint(model, str(tmp_path), 1, {"n": 1})

    class DiskFull(OSError):
        pass

    def failing_save(path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"half")
        raise DiskFull("no space left")

    model.save = failing_save
    with pytest.raises(DiskFull):
        ckpt.save_checkpoint(model, str(tmp_path), 2, {"n": 2})
    assert sorted(os.listdir(tmp_path)) == ["epoch_0001"]
    assert [e for e, _ in ckpt.list_checkpoints(str(tmp_path))] == [1]
