"""Tiny run folders for the report tests (a helper module, not a test module).

`make_tiny_run` writes what ``zfkeras train`` leaves behind (config.json,
normalization.npz, model.keras, metrics.json, evolution/*.npz), readable by
`zfkeras.runs.folder.RunFolder`, around a zfnet_small with a few maps per
layer fitted for one epoch on a few hundred Fashion-MNIST images: seconds
instead of the trainer's minutes (it evaluates on the whole test split).
"""

import json
import pathlib

import numpy as np

CONV_FILTERS = (4, 4, 8, 8, 4)


def tiny_model(seed=0):
    """zfnet_small at 28x28 grey with 4-8 maps per conv layer, fc 16."""
    from zfkeras.models import zfnet_small

    return zfnet_small((28, 28, 1), 10, conv_filters=CONV_FILTERS, fc_units=16, seed=seed)


def make_tiny_run(folder, examples=256, model=True, evolution=True, fit=True, seed=0):
    """Writes a small finished (or deliberately incomplete) run folder.

    Args:
        folder: where (created).
        examples: Fashion-MNIST training images used.
        model: write model.keras and metrics.json.
        evolution: write evolution/evolution_epoch_001.npz.
        fit: train the model one epoch (else keep its initial weights).
        seed: the model's initial weights and the training's shuffling (another
            seed: an independently trained model of the same data).

    Returns:
        pathlib.Path of the folder.
    """
    import keras

    from zfkeras.data import load_fashion_mnist
    from zfkeras.train.config import TrainConfig
    from zfkeras.train.evolution import FeatureEvolution

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = TrainConfig(run_dir=str(folder), max_train_examples=examples, epochs=1, validation_size=100,
                         evolution_sample=64, evolution_maps=2, evolution_epochs=(1,))
    config.save(str(folder / "config.json"))
    (x, y), _ = load_fashion_mnist()
    x, y = x[:examples], y[:examples]
    mean = x.astype(np.float32).mean(axis=0)
    std = float((x.astype(np.float32) - mean).std())
    np.savez(folder / "normalization.npz", mean_image=mean, pixel_std=np.float32(std))
    images = (x.astype(np.float32) - mean) / std
    net = tiny_model(seed)
    if fit:
        keras.utils.set_random_seed(seed)
        net.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy",
                    jit_compile=False)
        net.fit(images, y, batch_size=64, epochs=1, verbose=0)
    if model:
        net.save(folder / "model.keras")
        accuracy = float(np.mean(net.predict(images[:128], verbose=0).argmax(-1) == y[:128]))
        (folder / "metrics.json").write_text(json.dumps({"test_accuracy": accuracy, "test_examples": 128}))
    if evolution:
        callback = FeatureEvolution(images[:64], folder / "logs" / "evolution", folder / "evolution",
                                    epochs=(1,), total_epochs=1, maps_per_layer=2)
        callback.set_model(net)
        callback.record(1)
    return folder
