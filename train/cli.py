"""``zfkeras train``: argument parsing (no TensorFlow import) and the run."""

import argparse
import dataclasses
import sys

from zfkeras.cli.verbs import cli_main, format_default, verb_parser
from zfkeras.train.config import DATASETS, MODELS, RECIPE_DEFAULTS, TrainConfig

_HELP = {
    "dataset": f"data source: {', '.join(DATASETS)}",
    "data_dir": "Fashion-MNIST folder, class-folder root, or TFDS data_dir",
    "tfds_name": "TFDS dataset name (e.g. imagenet2012, caltech101)",
    "manual_dir": "TFDS manual_dir holding the dataset's archives",
    "image_size": "folder/tfds: shortest side and centre crop (paper: 256)",
    "crop_size": "folder/tfds: training crop, one of ten (paper: 224)",
    "validation_size": "examples held out of the training split for validation (and for test when the data has no test split)",
    "max_train_examples": "use at most this many training examples (0: all)",
    "augment_flip": "Fashion-MNIST: random horizontal flips during training (image folders and TFDS always use the paper's ten crops with flips)",
    "model": f"architecture: {', '.join(MODELS)}",
    "ablation": "Table 2 variant (zf, remove_conv3_conv4, remove_fc7, ...)",
    "fc_units": "width of fc6/fc7 (0: the model's default)",
    "conv1": "zfnet_small: kernel and stride of conv1, e.g. --conv1 9 2 (Fig. 6's coarser baseline)",
    "filter_rms_clip": "feature-scale clipping radius (0 disables)",
    "recipe": "learning-rate recipe: cosine (warm-up, then cosine annealing within the epochs) or paper (divide by 10 at a validation plateau)",
    "epochs": "training epochs; the paper recipe's default is 10",
    "learning_rate": "SGD learning rate, the cosine recipe's peak; the paper recipe's default is 0.01",
    "warmup_epochs": "cosine recipe: epochs of linear warm-up; the paper recipe has none",
    "label_smoothing": "label smoothing of the cross-entropy; the paper recipe's default is 0",
    "anneal_factor": "paper recipe: learning-rate multiplier when validation accuracy plateaus",
    "anneal_patience": "paper recipe: epochs without improvement before annealing",
    "devices": "0: all GPUs if several, else the CPU; N: split the CPU into N logical devices",
    "mixed_precision": "train with Keras' mixed_float16 policy (GPUs); model.keras and the analyses stay float32",
    "worker_timeout": "with TF_CONFIG: seconds to wait for the other workers before failing (0: no limit)",
    "data_threads": "input pipeline threads: 0 = auto (1 on machines with <= 2 cores, else tf.data AUTOTUNE)",
    "evolution_epochs": "epochs at which to record feature evolution (the last is always added)",
    "evolution_maps": "feature maps per layer shown in the evolution views",
    "evolution_sample": "training images searched for each map's strongest activation",
    "run_dir": "run folder (config, checkpoints, logs, model, metrics); rerun to resume",
}


def build_parser():
    parser = verb_parser(
        "zfkeras train",
        "Train a ZFNet-family model with the paper's recipe. Rerunning the same "
        "command resumes from the last complete epoch.",
    )
    parser.add_argument("--config", help="JSON file of settings (flags given here override it)")
    parser.add_argument("--overwrite", action="store_true", help="delete the run folder and start over")
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        help_text = _HELP.get(field.name, field.name.replace("_", " "))
        # The parser's default is None (a flag not given leaves the --config
        # file's value), so the help states TrainConfig's default itself (a
        # recipe's value where the field is left to the recipe).
        if default is None:
            default = RECIPE_DEFAULTS[defaults.recipe].get(field.name)
        if default is not None and format_default(default):
            help_text += f" (default: {format_default(default)})"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif isinstance(default, tuple):
            parser.add_argument(flag, type=int, nargs="+", default=None, help=help_text)
        else:
            # a field left at None takes the recipe's value: its annotation says the type
            kind = field.type if getattr(defaults, field.name) is None else type(default)
            parser.add_argument(flag, type=kind, default=None, help=help_text)
    return parser


def config_from_args(args):
    """Config file values, then command-line flags on top; validated."""
    config = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    overrides = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name) is not None
    }
    for name in ("evolution_epochs", "conv1"):
        if name in overrides:
            overrides[name] = tuple(overrides[name])
    config = dataclasses.replace(config, **overrides)
    # A run folder named after the model and data unless one is given.
    if "run_dir" not in overrides and not (args.config and "run_dir" in _keys(args.config)):
        config.run_dir = f"runs/{config.model}-{config.tfds_name or config.dataset}"
    return config.validate()


def _keys(path):
    import json

    with open(path) as f:
        return json.load(f)


@cli_main("zfkeras train")
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as e:
        parser.error(str(e))
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter
    from zfkeras.train.runner import run

    # A run folder that holds another run, data that is missing or too small
    # for the splits raise InputError: one line saying what to do (`cli_main`).
    run(config, overwrite=args.overwrite)
    return 0


if __name__ == "__main__":
    sys.exit(main())
