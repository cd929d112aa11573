"""One training run: data, model, recipe, devices, checkpoints, TensorBoard.

`run(config)` is what ``zfkeras train`` calls. It writes the run folder
through `zfkeras.runs.writer.RunWriter` (the names and what each holds:
`zfkeras.runs.layout`); read it with `zfkeras.runs.folder.RunFolder`.

Every file is written atomically (`zfkeras.utils.atomic`). The run folder is
checked before TensorFlow is imported: this module and the configuration
import neither TensorFlow nor Keras, so a conflicting or unreadable run
folder is reported at once.
"""

import dataclasses
import os
import sys
import warnings

from zfkeras.runs import layout
from zfkeras.runs.folder import RunFolder
from zfkeras.runs.layout import RunLayout
from zfkeras.runs.writer import RunWriter
from zfkeras.train.config import TrainConfig, config_differences, read_json
from zfkeras.utils.errors import InputError


class RunFolderConflict(InputError):
    """The run folder holds a different run."""


def prepare_run_dir(config, overwrite=False, write=True):
    """Creates the run folder, or checks it holds this same run.

    With ``write=False`` (a multi-worker run's other workers) the folder is
    only checked, never created, moved or written. With ``overwrite`` a
    non-empty folder is moved aside (``NAME.old-<UTC time>``), never deleted.

    Returns:
        True when the folder already held this run (resume or finished).

    Raises:
        RunFolderConflict: the folder holds another run, an unreadable
            configuration, or is a file.
    """
    path = RunLayout(config.run_dir).config
    if os.path.exists(config.run_dir) and not os.path.isdir(config.run_dir):
        raise RunFolderConflict(f"run folder {config.run_dir} is a file; choose another --run-dir")
    if overwrite and os.path.isdir(config.run_dir) and write and os.listdir(config.run_dir):
        # never deleted: the old content is moved aside, NAME.old-<time> (docs/RELIABILITY.md)
        from zfkeras.utils.atomic import aside_name

        os.replace(config.run_dir, aside_name(config.run_dir))
    if os.path.exists(path):
        try:
            TrainConfig.from_file(path)  # readable, with known keys
            # compared as written: a key it lacks (an older zfkeras) counts as
            # that version's default (`config_differences`)
            saved = read_json(path)
        except (ValueError, TypeError) as e:
            raise RunFolderConflict(
                f"run folder {config.run_dir} has an unreadable {layout.CONFIG} ({e}); choose another "
                "--run-dir, or pass --overwrite to start over"
            ) from None
        diff = config_differences(saved, config.to_dict())
        if diff:
            details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, old, new in diff)
            raise RunFolderConflict(
                f"run folder {config.run_dir} holds a run with a different configuration "
                f"({details}); choose another --run-dir, or pass --overwrite to start over"
            )
        return True
    if write:
        RunWriter(config.run_dir).write_config(config.to_dict())
    return False


def run(config, overwrite=False, verbose=None, ten_crop=True):
    """Trains, evaluates and writes the run folder. Returns the metrics dict.

    With ``ten_crop`` (as ``zfkeras train``) the test is also taken the
    paper's way, over ten crops (ten forward passes per test image), and a
    finished run that lacks it gets it from its saved model; the report's
    short comparison runs (Fig. 6, Table 2) pass False.
    """
    config.validate()
    from zfkeras.train.devices import worker_role

    is_chief, role = worker_role()
    # The run folder is checked before TensorFlow loads (nothing above
    # imports it), so a conflict is reported at once. Only the chief writes
    # it; the other workers of a multi-worker run read its checkpoints.
    existed = False if overwrite and not is_chief else prepare_run_dir(config, overwrite, write=is_chief)
    if existed and RunFolder(config.run_dir).is_complete:
        metrics = RunFolder(config.run_dir).metrics
        if is_chief and ten_crop:
            metrics = _with_ten_crop(config, metrics)
        print(f"Run {config.run_dir} is already complete ({result_line(metrics)}); "
              "pass --overwrite to train again.")
        return metrics
    from zfkeras.train.multiworker import WorkerFolder

    # Every worker must save (saving runs collectives): the others write the
    # same files into a temporary folder they remove (TensorFlow's guide).
    worker = WorkerFolder(config.run_dir, is_chief, role)
    try:
        return _train(dataclasses.replace(config, run_dir=worker.path), config.run_dir,
                      existed, role, verbose, ten_crop)
    finally:
        worker.close()


def _train(config, shared_run_dir, resume, role, verbose, ten_crop=True):
    """Trains in `config.run_dir`, resuming from `shared_run_dir`'s (the
    chief's) checkpoints when `resume`."""
    writer = RunWriter(config.run_dir)
    if config.run_dir != shared_run_dir:  # another worker's temporary folder
        writer.write_config(config.to_dict())
    strategy, strategy_desc = _configure_devices(config)
    import keras
    import tensorflow as tf

    from zfkeras.train import multiworker

    many_workers = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    print(f"zfkeras train: {config.model} on {config.dataset}, {strategy_desc}, run folder {shared_run_dir}"
          + (f" ({role} writes to {config.run_dir})" if config.run_dir != shared_run_dir else ""))
    keras.utils.set_random_seed(config.seed)
    data = _load_data(config, writer, many_workers)
    model = _compiled_model(config, data, strategy)
    if many_workers:
        multiworker.fix_keras_multi_worker(model)
    resume_from = str(RunLayout(shared_run_dir).checkpoints) if resume else None
    state, initial_epoch = _resume(model, data, strategy, many_workers, str(writer.layout.checkpoints), resume_from)
    records = _TrainingRecords.from_state(config, writer, model, data, state)
    _fit(config, model, data, _callbacks(writer, records), initial_epoch, verbose)
    test = _evaluate(model, data, strategy, ten_crop)
    metrics = _metrics(config, data if ten_crop else dataclasses.replace(data, ten_crop=None), test, records,
                       model, strategy, strategy_desc)
    multiworker.write_weight_digest(model, role)
    _write_results(writer, model, metrics, shared_run_dir)
    return metrics


def _configure_devices(config):
    """Sets up the configured devices; returns ``(strategy, description)``."""
    # Devices first: splitting the CPU must happen before any TF op runs.
    from zfkeras.train.devices import configure_devices, make_strategy

    configure_devices(config.devices)
    return make_strategy(config.devices, config.worker_timeout)


def _load_data(config, writer, many_workers):
    """The run's `TrainingData`, sharded over the workers of a multi-worker
    run; writes its class names and splits to the run folder."""
    from zfkeras.data.pipeline import set_data_threads
    from zfkeras.train import multiworker
    from zfkeras.train.data import load_training_data

    set_data_threads(config.data_threads)
    data = load_training_data(config)
    if many_workers:  # each worker reads its part of every global batch
        data = dataclasses.replace(data, **{name: multiworker.shard_by_examples(getattr(data, name))
                                            for name in ("train", "validation", "test", "train_probe")})
    writer.write_class_names(data.class_names)
    writer.write_splits(data.splits)
    return data


def _compiled_model(config, data, strategy):
    """The configured model, built under `strategy` and the precision
    policy, compiled with the recipe's optimizer and loss."""
    import keras

    from zfkeras.keras_objects.precision import float32_outputs, mixed_precision_policy
    from zfkeras.train import recipes

    with strategy.scope(), mixed_precision_policy(config.mixed_precision):
        model = build_model(config, data.input_shape, data.num_classes)
        float32_outputs(model)
        metrics_list = ["accuracy"]
        if data.num_classes >= 10:
            metrics_list.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
        model.compile(
            optimizer=recipes.optimizer(config, data.num_train),
            loss=recipes.loss(config),
            metrics=metrics_list,
            jit_compile=False,  # MaxPoolWithArgmax has no XLA kernel
        )
    return model


def _resume(model, data, strategy, many_workers, checkpoint_dir, resume_from):
    """Restores the newest checkpoint of `resume_from` (a checkpoint folder,
    or None to start afresh) into `model`.

    Returns:
        ``(state, initial_epoch)``: the checkpoint's saved state
        (`_TrainingRecords.checkpoint_state`) and its epoch, or for a fresh
        start a state holding only the initial training loss, and 0.
    """
    import keras

    from zfkeras.train import checkpoints as ckpt
    from zfkeras.train import multiworker

    ckpt.remove_partial_checkpoints(checkpoint_dir)
    found = ckpt.list_checkpoints(resume_from) if resume_from is not None else []
    if many_workers:
        multiworker.agree_on(strategy, found[-1][0] if found else 0, "the epoch to resume from")
    if not found:
        return {"initial_train_loss": float(model.evaluate(data.train_probe, verbose=0)[0])}, 0
    epoch, path = found[-1]
    with strategy.scope():
        state = ckpt.restore_checkpoint(model, path)
    print(f"Resuming from {path}: {epoch} complete epochs, learning rate "
          f"{float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)):.2e}")
    return state, epoch


@dataclasses.dataclass
class _TrainingRecords:
    """The callbacks that record the run (learning rate annealing, epoch
    times, feature evolution, history), carried across a resume by the
    checkpoints (`checkpoint_state`) and reported in the metrics."""

    recipe: str
    annealer: object  # PlateauAnnealer
    timer: object  # EpochTimer
    evolution: object  # FeatureEvolution
    history: object  # HistoryRecorder
    initial_train_loss: float

    @classmethod
    def from_state(cls, config, writer, model, data, state):
        """The records of `config`'s run, continuing a checkpoint's `state`
        (`_resume`)."""
        from zfkeras.train.annealing import PlateauAnnealer
        from zfkeras.train.callbacks import EpochTimer, HistoryRecorder
        from zfkeras.train.evolution import CONV_LAYERS, FeatureEvolution

        annealer = PlateauAnnealer(
            "val_accuracy", config.anneal_factor, config.anneal_patience,
            config.min_learning_rate, mode="max",
        )
        if "annealer" in state:
            annealer.set_state(state["annealer"])
        present = {layer.name for layer in model.layers}
        evolution = FeatureEvolution(
            data.evolution_images, str(writer.layout.evolution_logs),
            str(writer.layout.evolution), epochs=config.evolution_epochs,
            total_epochs=config.epochs, maps_per_layer=config.evolution_maps,
            image_ids=data.evolution_ids, seed=config.seed,
            # Table 2 variants lack some of conv1-conv5: follow the ones present
            layers=tuple(name for name in CONV_LAYERS if name in present),
        )
        evolution.history = list(state.get("evolution", []))
        return cls(
            recipe=config.recipe, annealer=annealer,
            timer=EpochTimer(state.get("epoch_seconds", [])),  # carried across a resume
            evolution=evolution, history=HistoryRecorder(state.get("history", {})),
            initial_train_loss=state["initial_train_loss"],
        )

    def checkpoint_state(self, epoch):
        """What a checkpoint saves besides the model (`from_state` reads it)."""
        return {
            "history": self.history.history,
            "annealer": self.annealer.get_state(),
            "epoch_seconds": self.timer.seconds,
            "evolution": self.evolution.history,
            "initial_train_loss": self.initial_train_loss,
        }


def _callbacks(writer, records):
    """The callbacks of `fit`, in the order they must run."""
    import keras

    from zfkeras.train import checkpoints as ckpt
    from zfkeras.train.callbacks import LearningRateLog
    from zfkeras.train.filters import FilterImages

    return [
        records.timer,
        # before TensorBoard, so the learning rate is in its logs
        records.annealer if records.recipe == "paper" else LearningRateLog(),
        keras.callbacks.TensorBoard(str(writer.layout.logs), write_graph=False, update_freq="epoch"),
        FilterImages(str(writer.layout.filter_logs)),
        records.evolution,
        records.history,
        ckpt.EpochCheckpoint(str(writer.layout.checkpoints), records.checkpoint_state),  # last: sees everything
    ]


def _fit(config, model, data, callbacks, initial_epoch, verbose):
    """Trains from `initial_epoch` to the configured number of epochs."""
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    if initial_epoch < config.epochs:
        # Keras warns that fit's default shuffle=True is ignored for a
        # tf.data dataset; ours are shuffled by the pipeline.
        warnings.filterwarnings("ignore", message=".*`shuffle=True` was passed.*")
        model.fit(
            data.train, validation_data=data.validation, epochs=config.epochs,
            initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose,
        )


def _evaluate(model, data, strategy=None, ten_crop=True):
    """The test split's metrics: single-crop (`model.evaluate`) and the
    paper's ten-crop ones (`_ten_crop`): dict name -> float."""
    print(f"Evaluating on the test split ({data.splits['description']}) ...")
    test = {k: float(v) for k, v in model.evaluate(data.test, verbose=0, return_dict=True).items()}
    if ten_crop and data.ten_crop_test is not None:
        test.update(_ten_crop(model, data, strategy))
    return test


def _ten_crop(model, data, strategy=None):
    """The paper's ten-crop test accuracy (and top-5 where the single-crop
    test has one: 10 classes or more), over `strategy`'s replicas."""
    import time

    from zfkeras.measures.evaluation import ten_crop_metrics

    print(f"Ten-crop test: {data.ten_crop['description']} ...")
    start = time.perf_counter()
    # The replicas of a mirrored strategy share each batch's crops.
    several = strategy is not None and strategy.num_replicas_in_sync > 1
    results = ten_crop_metrics(model, data.ten_crop_test, data.crop_size, strategy=strategy if several else None)
    print(f"Ten-crop test done in {time.perf_counter() - start:.1f} s")
    if data.num_classes < 10:
        results["ten_crop_top5"] = None
    return results


def _with_ten_crop(config, metrics):
    """A finished run's metrics, with the ten-crop test added (computed from
    the saved model, without training, and written to ``metrics.json``) if
    the run finished before zfkeras computed it for its dataset."""
    from zfkeras.train.data import config_ten_crop

    if metrics.get("test_ten_crop_accuracy") is not None and metrics.get("ten_crop"):
        return metrics
    if metrics.get("test_ten_crop_accuracy") is not None:  # measured, geometry not yet recorded
        metrics = {**metrics, "ten_crop": config_ten_crop(config)}
    else:
        from zfkeras.train.data import load_training_data

        print(f"Run {config.run_dir} finished without the ten-crop test; measuring it with the saved model ...")
        data = load_training_data(config)
        test = _ten_crop(RunFolder(config.run_dir).load_model(), data)
        metrics = {**metrics, "test_ten_crop_accuracy": test["ten_crop_accuracy"],
                   "test_ten_crop_top5": test["ten_crop_top5"], "ten_crop": data.ten_crop}
    RunWriter(config.run_dir).write_metrics(metrics)
    return metrics


def _metrics(config, data, test, records, model, strategy, strategy_desc):
    """The run's metrics.json: test results, training record, timings and
    the distribution strategy."""
    return {
        **_test_metrics(data, test),
        **_training_metrics(config, data, records),
        **_timing_metrics(records),
        **_strategy_metrics(model, strategy, strategy_desc),
        "bad_files": data.bad_files,
    }


def _test_metrics(data, test):
    return {
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "test_top5": test.get("top5"),
        "test_ten_crop_accuracy": test.get("ten_crop_accuracy"),
        "test_ten_crop_top5": test.get("ten_crop_top5"),
        "ten_crop": data.ten_crop,  # how the ten crops are cut (train.data.ten_crop_geometry)
        "test_examples": data.num_test,
        # The test examples were never trained or annealed on (splits.json).
        "test_split": data.splits["description"],
        "test_split_independent": True,
    }


def _training_metrics(config, data, records):
    from zfkeras.train import recipes

    return {
        "train_examples": data.num_train,
        "validation_examples": data.num_validation,
        "epochs": config.epochs,
        "history": records.history.history,
        "initial_train_loss": records.initial_train_loss,
        "recipe": recipes.describe(config),
        "learning_rate_events": records.annealer.events,
    }


def _timing_metrics(records):
    import numpy as np

    seconds = records.timer.seconds
    epoch_seconds = float(np.mean(seconds)) if seconds else None
    evo_seconds = [e["seconds"] for e in records.evolution.history]
    return {
        "epoch_seconds": seconds,
        "mean_epoch_seconds": epoch_seconds,
        "evolution_seconds": evo_seconds,
        "evolution_cost_fraction_of_epoch": (
            float(np.mean(evo_seconds)) / epoch_seconds if evo_seconds and epoch_seconds else None
        ),
    }


def _strategy_metrics(model, strategy, strategy_desc):
    from zfkeras.train.devices import replica_weight_spread

    return {
        "strategy": strategy_desc,
        "num_replicas": int(strategy.num_replicas_in_sync),
        "replica_weight_max_abs_diff": replica_weight_spread(model, strategy),
    }


def _write_results(writer, model, metrics, shared_run_dir):
    """Writes the trained model and the metrics (which complete the run),
    and says where they are."""
    from zfkeras.keras_objects.precision import float32_model

    writer.write_model(float32_model(model))  # what every analysis loads
    writer.write_metrics(metrics)  # last: with it the run counts as complete
    line = result_line(metrics)
    print(line[0].upper() + line[1:])
    print(f"Run folder: {os.path.abspath(shared_run_dir)}")
    print(f"TensorBoard: tensorboard --logdir {os.path.abspath(RunLayout(shared_run_dir).logs)}")


def result_line(metrics):
    """The test results of a run's metrics in one line: single-crop and
    ten-crop accuracy (and top-5 where measured)."""
    line = f"test accuracy {metrics['test_accuracy']:.4f}"
    if metrics.get("test_top5") is not None:
        line += f", top-5 {metrics['test_top5']:.4f}"
    if metrics.get("test_ten_crop_accuracy") is not None:
        line += f"; ten-crop test accuracy {metrics['test_ten_crop_accuracy']:.4f}"
        if metrics.get("test_ten_crop_top5") is not None:
            line += f", top-5 {metrics['test_ten_crop_top5']:.4f}"
    return line


def build_model(config, input_shape, num_classes):
    """The configured ZFNet-family model and Table 2 variant (uncompiled)."""
    from zfkeras import models

    kwargs = {"fc_units": config.fc_units} if config.fc_units else {}
    if config.conv1:
        kwargs["conv1"] = tuple(config.conv1)
    return models.zfnet_ablation(
        config.ablation, getattr(models, config.model), input_shape=input_shape,
        num_classes=num_classes, dropout=config.dropout,
        filter_rms_clip=config.filter_rms_clip or None, seed=config.seed, name=config.model, **kwargs,
    )
