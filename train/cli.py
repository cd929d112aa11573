"""``zfkeras train``: argument parsing (no TensorFlow import) and the run."""

import argparse
import dataclasses
import os
import sys

from zfkeras.cli.verbs import cli_main, format_default, verb_parser
from zfkeras.train.config import DATASETS, MODELS, RECIPE_DEFAULTS, TrainConfig
from zfkeras.utils.atomic import ASIDE_INFIX
from zfkeras.utils.errors import InputError, MissingInputError

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
    "augment_translate": "Fashion-MNIST: shift each training image by up to this many pixels (zero-filled; 0: none)",
    "augment_cutout": "Fashion-MNIST: set a random N x N square of each training image to the mean pixel (Cutout; 0: none)",
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
    "weight_decay": "decoupled weight decay of the kernels (w -= learning rate x this x w each step; biases excluded)",
    "nesterov": "Nesterov momentum instead of plain momentum",
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
    parser.add_argument("--overwrite", action="store_true",
                        help=f"start over: the run folder's content (a run or anything else) is moved aside to "
                        f"RUN_DIR{ASIDE_INFIX}<time> once the inputs are checked, never deleted; it is moved back "
                        "when the new run fails before its first checkpoint")
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


def check_data(config):
    """`InputError` when the training data cannot be where the configuration says (before anything is written)."""
    from zfkeras.utils.paths import check_readable_folder

    root = config.data_dir
    if root and os.path.lexists(root) and not os.path.isdir(root):
        raise InputError(f"--data-dir {root!r} is a file, not a folder; pass the folder holding the data")
    if config.dataset == "fashion_mnist":
        from zfkeras.data.fashion_mnist import find_fashion_mnist

        if root and os.path.isdir(root):
            check_readable_folder(root, "--data-dir")  # a permission problem is not "files not found"
        find_fashion_mnist(root or None)
    elif config.dataset == "folder":
        check_readable_folder(root, "--data-dir")
        if not os.path.isdir(os.path.join(root, "train")):
            raise MissingInputError(
                f"--data-dir {root!r} needs a train/ sub-folder holding one folder of images per class "
                "(optionally val/ and test/ beside it; what is missing is held out of train/)"
            )


def check_run_dir(config, overwrite):
    """Checks ``--run-dir`` before anything is written; returns whether its content is to be moved aside.

    Raises:
        InputError: it is a file, read-only, or holds something other than
            a run without ``--overwrite``.
    """
    from zfkeras.runs.outputs import OutputFolderError, describe_entries, is_run_folder, visible_entries
    from zfkeras.utils.paths import check_writable_folder

    path = config.run_dir
    check_writable_folder(path, "--run-dir")
    if not os.path.isdir(path) or not visible_entries(path):
        return False
    if overwrite:
        return True
    if not is_run_folder(path):
        raise OutputFolderError(
            f"--run-dir {path!r} is not empty and holds no run (it holds {describe_entries(visible_entries(path))}); "
            f"choose another --run-dir, or pass --overwrite to move its content aside to {path}{ASIDE_INFIX}<time>"
        )
    return False  # a run: resumed, or refused when its configuration differs (`prepare_run_dir`)


def _has_checkpoint(run_dir):
    """Whether `run_dir` holds a complete checkpoint (``epoch_NNNN/``; a temporary does not count)."""
    import re

    from zfkeras.runs.layout import CHECKPOINT_REGEX, RunLayout

    folder = RunLayout(run_dir).checkpoints
    return folder.is_dir() and any(re.match(CHECKPOINT_REGEX, path.name) for path in folder.iterdir())


def _undo(run_dir, kept_folder, aside):
    """After a failed run that started in an empty (or moved-aside) folder: removes
    what it wrote unless a checkpoint is there to resume from, and puts the old content back.

    Args:
        run_dir: the run folder.
        kept_folder: the (empty) folder was there before: only its content goes.
        aside: where ``--overwrite`` moved the old content, or None.
    """
    import shutil

    if _has_checkpoint(run_dir):
        if aside:
            print(f"zfkeras train: the previous content of {run_dir} is in {aside}", file=sys.stderr)
        return
    if not os.path.isdir(run_dir):
        pass
    elif kept_folder:
        for name in os.listdir(run_dir):
            path = os.path.join(run_dir, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    if aside:
        os.replace(aside, run_dir)


@cli_main("zfkeras train")
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as e:
        parser.error(str(e))
    # Everything is checked before anything is written: a run folder is
    # neither created nor moved for a command that cannot start.
    check_data(config)
    move_aside = check_run_dir(config, args.overwrite)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter
    from zfkeras.train.devices import worker_role
    from zfkeras.train.runner import run

    is_chief = worker_role()[0]
    # This command owns the folder's content when it starts it empty (or
    # moved the old content aside): a failure takes back what it wrote.
    fresh = move_aside or not (os.path.isdir(config.run_dir) and os.listdir(config.run_dir))
    kept_folder = os.path.isdir(config.run_dir) and not move_aside
    aside, locks = None, []
    if is_chief:
        # One zfkeras train per run folder: the second is refused (the
        # lock goes with the process, even when it is killed).
        locks.append(_lock(config.run_dir))
    if move_aside and is_chief:
        from zfkeras.utils.atomic import aside_name

        aside = aside_name(config.run_dir)
        os.replace(config.run_dir, aside)  # one rename: the old run is kept whole
        print(f"zfkeras train: --overwrite: moved the previous content of {config.run_dir} to {aside}",
              file=sys.stderr)
        locks.append(_lock(config.run_dir))
    # A run folder that holds another run, data that is missing or too small
    # for the splits raise InputError: one line saying what to do (`cli_main`).
    try:
        run(config, overwrite=args.overwrite)
    except BaseException as error:
        if is_chief and fresh:
            _undo(config.run_dir, kept_folder, aside)
        lost = lost_worker_message(error, config.run_dir, argv if argv is not None else sys.argv[1:])
        if lost is not None:
            raise InputError(lost) from error
        raise
    finally:
        for fd in locks:
            os.close(fd)
    return 0


def _lock(run_dir):
    """Creates `run_dir` if missing and locks it (``flock`` on the folder); returns the descriptor.

    Raises:
        InputError: another process holds the lock.
    """
    import fcntl

    os.makedirs(run_dir, exist_ok=True)
    fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise InputError(f"--run-dir {run_dir!r} is being written by another zfkeras train; wait for it to "
                         "finish (rerunning then resumes it), or choose another --run-dir") from None
    return fd


def lost_worker_message(error, run_dir, argv, tf_config=None):
    """What to say when a worker of a multi-worker run went away mid-training, else None.

    TensorFlow raises ``UnavailableError`` (or ``AbortedError``) on the
    survivors; the message names the worker(s) that no longer answer and
    the command that resumes from the last complete epoch.

    Args:
        error: the exception `run` raised.
        run_dir: the run folder.
        argv: the command's arguments (repeated in the resume command).
        tf_config: ``TF_CONFIG`` (default: the environment's).

    Returns:
        str or None (not a lost worker, or not a multi-worker run).
    """
    raw = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not raw or type(error).__name__ not in ("UnavailableError", "AbortedError", "CancelledError"):
        return None
    import re
    import shlex

    from zfkeras.train.multiworker import cluster_workers, unreachable

    addresses, kind, index = cluster_workers(raw)
    others = [(name, address) for name, address in addresses if name != f"{kind} {index}"]
    text = str(error)
    named = [(name, address) for name, address in others if address in text]
    for task in re.findall(r"/job:(worker|chief)/(?:replica:\d+/)?task:(\d+)", text):
        named += [(name, address) for name, address in others if name == f"{task[0]} {task[1]}"]
    lost = list(dict.fromkeys(named)) or unreachable(others) or others
    who = ", ".join(f"{name} at {address}" for name, address in lost)
    command = "zfkeras train " + " ".join(shlex.quote(a) for a in argv if a != "--overwrite")
    return (f"{who} went away during training ({type(error).__name__}); restart every worker with its TF_CONFIG "
            f"and the same command, `{command}`: it resumes from the last complete epoch in {run_dir}")


if __name__ == "__main__":
    sys.exit(main())
