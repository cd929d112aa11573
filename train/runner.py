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
    only checked, never created, deleted or written.

    Returns:
        True when the folder already held this run (resume or finished).

    Raises:
        RunFolderConflict: the folder holds another run, an unreadable
            configuration, or is a file.
    """
    import shutil

    path = RunLayout(config.run_dir).config
    if os.path.exists(config.run_dir) and not os.path.isdir(config.run_dir):
        raise RunFolderConflict(f"run folder {config.run_dir} is a file; choose another --run-dir")
    if overwrite and os.path.isdir(config.run_dir) and write:
        shutil.rmtree(config.run_dir)
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


def run(config, overwrite=False, verbose=None):
    """Trains, evaluates and writes the run folder. Returns the metrics dict."""
    config.validate()
    from zfkeras.train.devices import worker_role

    is_chief, role = worker_role()
    # The run folder is checked before TensorFlow loads (nothing above
    # imports it), so a conflict is reported at once. Only the chief writes
    # it; the other workers of a multi-worker run read its checkpoints.
    existed = False if overwrite and not is_chief else prepare_run_dir(config, overwrite, write=is_chief)
    if existed and RunFolder(config.run_dir).is_complete:
        metrics = RunFolder(config.run_dir).metrics
        print(f"Run {config.run_dir} is already complete (test accuracy "
              f"{metrics['test_accuracy']:.4f}); pass --overwrite to train again.")
        return metrics
    from zfkeras.train.multiworker import WorkerFolder

    # Every worker must save (saving runs collectives): the others write the
    # same files into a temporary folder they remove (TensorFlow's guide).
    worker = WorkerFolder(config.run_dir, is_chief, role)
    try:
        return _train(dataclasses.replace(config, run_dir=worker.path), config.run_dir,
                      existed, role, verbose)
    finally:
        worker.close()


def _train(config, shared_run_dir, resume, role, verbose):
    """Trains in `config.run_dir`, resuming from `shared_run_dir`'s (the
    chief's) checkpoints when `resume`."""
    writer = RunWriter(config.run_dir)
    if config.run_dir != shared_run_dir:  # another worker's temporary folder
        writer.write_config(config.to_dict())
    # Devices next: splitting the CPU must happen before any TF op runs.
    from zfkeras.train.devices import configure_devices, make_strategy, replica_weight_spread

    configure_devices(config.devices)
    import keras
    import numpy as np
    import tensorflow as tf

    from zfkeras.data.pipeline import set_data_threads
    from zfkeras.keras_objects.precision import float32_model, float32_outputs, mixed_precision_policy
    from zfkeras.train import checkpoints as ckpt
    from zfkeras.train import multiworker
    from zfkeras.train.annealing import PlateauAnnealer
    from zfkeras.train import recipes
    from zfkeras.train.callbacks import EpochTimer, HistoryRecorder, LearningRateLog
    from zfkeras.train.data import load_training_data
    from zfkeras.train.evolution import CONV_LAYERS, FeatureEvolution
    from zfkeras.train.filters import FilterImages

    strategy, strategy_desc = make_strategy(config.devices, config.worker_timeout)
    many_workers = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    print(f"zfkeras train: {config.model} on {config.dataset}, {strategy_desc}, run folder {shared_run_dir}"
          + (f" ({role} writes to {config.run_dir})" if config.run_dir != shared_run_dir else ""))
    keras.utils.set_random_seed(config.seed)
    set_data_threads(config.data_threads)
    data = load_training_data(config)
    if many_workers:  # each worker reads its part of every global batch
        data = dataclasses.replace(data, **{name: multiworker.shard_by_examples(getattr(data, name))
                                            for name in ("train", "validation", "test", "train_probe")})
    writer.write_class_names(data.class_names)
    writer.write_splits(data.splits)

    with strategy.scope(), mixed_precision_policy(config.mixed_precision):
        model = build_model(config, data.input_shape, data.num_classes)
        float32_outputs(model)
        metrics_list = ["accuracy"]
        if data.num_classes >= 10:
            metrics_list.append(keras.metrics.SparseTopKCategoricalAccuracy(5, name="top5"))
        model.compile(
            optimizer=keras.optimizers.SGD(recipes.learning_rate(config, data.num_train), momentum=config.momentum),
            loss=recipes.loss(config),
            metrics=metrics_list,
            jit_compile=False,  # MaxPoolWithArgmax has no XLA kernel
        )
    if many_workers:
        multiworker.fix_keras_multi_worker(model)

    checkpoint_dir = str(writer.layout.checkpoints)
    ckpt.remove_partial_checkpoints(checkpoint_dir)
    annealer = PlateauAnnealer(
        "val_accuracy", config.anneal_factor, config.anneal_patience,
        config.min_learning_rate, mode="max",
    )
    state = {"history": {}, "epoch_seconds": [], "evolution": [], "initial_train_loss": None}
    initial_epoch = 0
    found = ckpt.list_checkpoints(str(RunLayout(shared_run_dir).checkpoints)) if resume else []
    if many_workers:
        multiworker.agree_on(strategy, found[-1][0] if found else 0, "the epoch to resume from")
    if found:
        epoch, path = found[-1]
        with strategy.scope():
            state = ckpt.restore_checkpoint(model, path)
        annealer.set_state(state["annealer"])
        initial_epoch = epoch
        print(f"Resuming from {path}: {epoch} complete epochs, learning rate "
              f"{float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)):.2e}")
    else:
        state["initial_train_loss"] = float(model.evaluate(data.train_probe, verbose=0)[0])
    timer = EpochTimer(state["epoch_seconds"])  # carried across a resume

    log_dir = str(writer.layout.logs)
    present = {layer.name for layer in model.layers}
    evolution = FeatureEvolution(
        data.evolution_images, str(writer.layout.evolution_logs),
        str(writer.layout.evolution), epochs=config.evolution_epochs,
        total_epochs=config.epochs, maps_per_layer=config.evolution_maps,
        image_ids=data.evolution_ids, seed=config.seed,
        # Table 2 variants lack some of conv1-conv5: follow the ones present
        layers=tuple(name for name in CONV_LAYERS if name in present),
    )
    evolution.history = list(state["evolution"])
    history = HistoryRecorder(state["history"])

    def checkpoint_state(epoch):
        return {
            "history": history.history,
            "annealer": annealer.get_state(),
            "epoch_seconds": timer.seconds,
            "evolution": evolution.history,
            "initial_train_loss": state["initial_train_loss"],
        }

    callbacks = [
        timer,
        # before TensorBoard, so the learning rate is in its logs
        annealer if config.recipe == "paper" else LearningRateLog(),
        keras.callbacks.TensorBoard(log_dir, write_graph=False, update_freq="epoch"),
        FilterImages(str(writer.layout.filter_logs)),
        evolution,
        history,
        ckpt.EpochCheckpoint(checkpoint_dir, checkpoint_state),  # last: sees everything
    ]
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

    print(f"Evaluating on the test split ({data.splits['description']}) ...")
    test = {k: float(v) for k, v in model.evaluate(data.test, verbose=0, return_dict=True).items()}
    if data.ten_crop_test is not None:
        from zfkeras.measures.evaluation import ten_crop_metrics

        test.update(ten_crop_metrics(model, data.ten_crop_test, data.crop_size))
    epoch_seconds = float(np.mean(timer.seconds)) if timer.seconds else None
    evo_seconds = [e["seconds"] for e in evolution.history]
    metrics = {
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "test_top5": test.get("top5"),
        "test_ten_crop_accuracy": test.get("ten_crop_accuracy"),
        "test_ten_crop_top5": test.get("ten_crop_top5"),
        "test_examples": data.num_test,
        # The test examples were never trained or annealed on (splits.json).
        "test_split": data.splits["description"],
        "test_split_independent": True,
        "train_examples": data.num_train,
        "validation_examples": data.num_validation,
        "epochs": config.epochs,
        "history": history.history,
        "initial_train_loss": state["initial_train_loss"],
        "recipe": recipes.describe(config),
        "learning_rate_events": annealer.events,
        "epoch_seconds": timer.seconds,
        "mean_epoch_seconds": epoch_seconds,
        "evolution_seconds": evo_seconds,
        "evolution_cost_fraction_of_epoch": (
            float(np.mean(evo_seconds)) / epoch_seconds if evo_seconds and epoch_seconds else None
        ),
        "strategy": strategy_desc,
        "num_replicas": int(strategy.num_replicas_in_sync),
        "replica_weight_max_abs_diff": replica_weight_spread(model, strategy),
        "bad_files": data.bad_files,
    }
    multiworker.write_weight_digest(model, role)
    writer.write_model(float32_model(model))  # what every analysis loads
    writer.write_metrics(metrics)  # last: with it the run counts as complete
    print(f"Test accuracy {metrics['test_accuracy']:.4f}"
          + (f", top-5 {metrics['test_top5']:.4f}" if metrics["test_top5"] is not None else ""))
    print(f"Run folder: {os.path.abspath(shared_run_dir)}")
    print(f"TensorBoard: tensorboard --logdir {os.path.abspath(RunLayout(shared_run_dir).logs)}")
    return metrics


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
