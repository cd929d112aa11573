"""Training recipes: how the learning rate moves during a run.

Two recipes, chosen by ``TrainConfig.recipe`` (``zfkeras train --recipe``):

* ``"cosine"`` (the default): a linear warm-up over the first
  ``warmup_epochs`` (at most a quarter of the run) to ``learning_rate``,
  then cosine annealing to zero at
  the last step of the last epoch. The paper annealed "when the validation
  error plateaus", which at the main job's budget happens once, near the
  end, while training accuracy is still rising; annealing smoothly within
  the budget reaches a better model in the same number of epochs
  (docs/BENCHMARKS.md has both recipes measured side by side).
* ``"paper"``: a constant learning rate divided by 10 each time validation
  accuracy stops improving (`zfkeras.train.annealing.PlateauAnnealer`),
  as in Sec. 3 of the paper.

Both use SGD with momentum. The cosine schedule is Keras' own
`keras.optimizers.schedules.CosineDecay` (with warm-up), so a saved model
loads anywhere Keras does, and a resumed run continues the schedule from the
optimizer's step counter.

Importing this module does not import TensorFlow.
"""

import math

RECIPES = ("cosine", "paper")


def steps_per_epoch(num_examples, batch_size):
    """Optimizer steps in one epoch of ``num_examples`` (the last batch may be short)."""
    return max(1, math.ceil(num_examples / batch_size))


def learning_rate(config, num_train):
    """The optimizer's learning rate for ``config``: a float or a schedule.

    Args:
        config: a `TrainConfig`.
        num_train: training examples per epoch (the global batch divides them).

    Returns:
        ``config.learning_rate`` for the paper's recipe (the annealer
        changes it), else a `keras.optimizers.schedules.CosineDecay`.
    """
    if config.recipe == "paper":
        return config.learning_rate
    import keras

    per_epoch = steps_per_epoch(num_train, config.batch_size)
    total = per_epoch * config.epochs
    # at most a quarter of the run, so that short runs (tests, ablations of
    # one epoch) still anneal
    warmup = min(int(round(config.warmup_epochs * per_epoch)), total // 4)
    return keras.optimizers.schedules.CosineDecay(
        # the warm-up starts from a small rate, not zero, so step 0 moves
        initial_learning_rate=config.learning_rate / max(warmup, 1) if warmup else config.learning_rate,
        decay_steps=max(total - warmup, 1),
        alpha=0.0,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
        name="warmup_cosine",
    )


def optimizer(config, num_train):
    """SGD with momentum (Nesterov's if ``config.nesterov``), the recipe's
    learning rate, and decoupled weight decay on kernels (not biases) when
    ``config.weight_decay`` is set."""
    import keras

    sgd = keras.optimizers.SGD(learning_rate(config, num_train), momentum=config.momentum,
                               nesterov=bool(config.nesterov),
                               weight_decay=config.weight_decay or None)
    if config.weight_decay:
        sgd.exclude_from_weight_decay(var_names=["bias"])
    return sgd


def loss(config):
    """The training loss: cross-entropy, with ``config.label_smoothing`` if set."""
    if not config.label_smoothing:
        return "sparse_categorical_crossentropy"
    from zfkeras.keras_objects.losses import SparseSmoothedCrossentropy

    return SparseSmoothedCrossentropy(config.label_smoothing)


def describe(config):
    """One line for metrics.json and the report: what the recipe did."""
    if config.recipe == "paper":
        smoothing = f", label smoothing {config.label_smoothing:g}" if config.label_smoothing else ""
        return (f"paper: SGD lr {config.learning_rate:g}, momentum {config.momentum:g}, "
                f"divided by {1 / config.anneal_factor:g} after {config.anneal_patience} epochs "
                f"without a better validation accuracy{smoothing}")
    smoothing = f", label smoothing {config.label_smoothing:g}" if config.label_smoothing else ""
    return (f"cosine: SGD momentum {config.momentum:g}, linear warm-up to {config.learning_rate:g} over "
            f"{config.warmup_epochs:g} epochs, cosine annealing to 0 at epoch {config.epochs}{smoothing}"
            f"{_extras(config)}")


def _extras(config):
    """The optional parts of the recipe, in words."""
    parts = []
    if getattr(config, "nesterov", False):
        parts.append("Nesterov momentum")
    if getattr(config, "weight_decay", 0):
        parts.append(f"weight decay {config.weight_decay:g}")
    if getattr(config, "augment_translate", 0):
        parts.append(f"random shifts of up to {config.augment_translate} px")
    if getattr(config, "augment_cutout", 0):
        parts.append(f"cutout of {config.augment_cutout} px squares")
    if getattr(config, "augment_flip", False):
        parts.append("random horizontal flips")
    return "".join(", " + p for p in parts)
