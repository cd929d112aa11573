"""A small image-folder run folder, written without training (a helper module).

`write_folder_run` lays out what ``zfkeras train --dataset folder`` leaves
behind, through `zfkeras.runs.writer.RunWriter`: config.json (image_size
larger than crop_size, as the paper's 256 / 224), splits.json,
class_names.json, mean_image.npy, model.keras (an untrained zfnet_small,
seeded) and metrics.json. Its data folder holds real photos at sizes that
need resizing, so a photo cut another way than the trainer's reaches the
model as other pixels.
"""

import pathlib

import numpy as np

from tests.images_helpers import LAYOUT, photos, small, write_folder

IMAGE_SIZE = 36
CROP_SIZE = 28


def write_folder_run(root, seed=0):
    """Writes ``root/data`` (train/ and test/ photo folders) and ``root/run``.

    Args:
        root: a fresh folder.
        seed: seed of the model's weights and the mean image.

    Returns:
        ``(run folder path, {test photo path: class index})``.
    """
    from zfkeras.data.mean_image import save_mean_image
    from zfkeras.models import zfnet_small
    from zfkeras.runs.splits import plan_splits
    from zfkeras.runs.writer import RunWriter
    from zfkeras.train.config import TrainConfig

    root = pathlib.Path(root)
    # Landscape and portrait photos, none at image_size: every one is resized.
    sources = {name: small(image, *((45, 61) if i % 2 else (61, 45))) for i, (name, image) in enumerate(photos().items())}
    write_folder(root / "data" / "train", sources)
    test = write_folder(root / "data" / "test", sources)
    names = sorted(LAYOUT)
    config = TrainConfig(dataset="folder", data_dir=str(root / "data"), image_size=IMAGE_SIZE,
                         crop_size=CROP_SIZE, validation_size=1, epochs=1, seed=seed,
                         run_dir=str(root / "run")).validate()
    writer = RunWriter(root / "run")
    writer.write_config(config.to_dict())
    writer.write_splits(plan_splits(["train", "test"], config.validation_size, seed))
    writer.write_class_names(names)
    rng = np.random.RandomState(seed)
    save_mean_image(rng.uniform(90, 160, (IMAGE_SIZE, IMAGE_SIZE, 3)), writer.path)
    model = zfnet_small((CROP_SIZE, CROP_SIZE, 3), len(names), conv_filters=(4, 4, 8, 8, 4), fc_units=16, seed=seed)
    # Raw pixel units saturate an untrained softmax; soften the last layer so
    # that the probabilities follow the input.
    last = model.layers[-1]
    last.kernel.assign(last.kernel * 1e-3)
    writer.write_model(model)
    writer.write_metrics({"test_accuracy": 0.0, "test_examples": len(test), "history": {}})
    labels = {path: names.index(cls) for path, (cls, _) in test.items()}
    return writer.path, labels
