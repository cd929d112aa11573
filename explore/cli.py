"""``zfkeras explore MODEL --images FOLDER --logdir LOGDIR``: any Keras convnet in the explorer.

Prepares a log-folder entry (`zfkeras.explore.entry`): a copy of the
model (a ``.keras`` file, or a legacy ``.h5`` / ``.hdf5`` one saved again as
``.keras``), the image folder cut to the model's input (the dataset its top 9
are mined over), the preprocessing and the class names, so that
``tensorboard --logdir LOGDIR`` shows it in the zfkeras tab beside any
training run. The model is checked first: it must load, have a fixed
square input of 1 or 3 channels, and be one `zfkeras.Deconvnet` accepts.
Arguments are parsed without importing TensorFlow.
"""

import json
import pathlib
import re

from zfkeras.cli.verbs import cli_main, positive_int_argument, verb_parser
from zfkeras.keras_objects.model_files import KERAS, model_file_format
from zfkeras.utils.errors import InputError
from zfkeras.explore.entry import PREPROCESS_MODES, is_entry
from zfkeras.runs.outputs import plan_output_folder
from zfkeras.utils.atomic import ASIDE_INFIX
from zfkeras.utils.paths import check_readable_file

PROG = "zfkeras explore"
MAX_IMAGES = 2000


def build_parser():
    parser = verb_parser(
        PROG,
        "Prepare a Keras model (any convnet zfkeras.Deconvnet accepts, keras.applications included) and a "
        "folder of images for the TensorBoard explorer: then run `tensorboard --logdir LOGDIR`.",
    )
    parser.add_argument("model", help="the model: a .keras file, or a legacy .h5/.hdf5 file (Keras 2, tf.keras)")
    parser.add_argument("--images", required=True,
                        help="folder of images (searched recursively): the dataset its top 9 are mined over")
    parser.add_argument("--logdir", required=True, help="the log folder TensorBoard will serve")
    parser.add_argument("--name", help="the entry's folder under LOGDIR (default: the model file's name)")
    parser.add_argument("--preprocess", choices=PREPROCESS_MODES, default="none",
                        help="raw pixels [0, 255] -> model input: as they are, /255, or keras.applications' "
                        "caffe / tf / torch modes")
    parser.add_argument("--class-names",
                        help="file of label names in output order (one per line, or a JSON list); default class N")
    parser.add_argument("--overwrite", action="store_true",
                        help="LOGDIR/NAME holds something other than an explore entry (an entry is replaced "
                        f"without it): move it aside to LOGDIR/NAME{ASIDE_INFIX}<time> and write the entry there; "
                        "a training run folder is always refused")
    parser.add_argument("--max-images", type=positive_int_argument, default=MAX_IMAGES, help="at most this many images (the first, sorted)")
    return parser


def _class_names(path, count):
    if path is None:
        return [f"class {i}" for i in range(count)]
    try:
        text = pathlib.Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"--class-names {path!r}: {e.strerror}") from None
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"--class-names {path!r} starts as a JSON list but is not valid JSON ({e}); "
                             "write a JSON list of strings, or one name per line") from None
        if not isinstance(names, list):
            raise InputError(f"--class-names {path!r} must hold a JSON list of names")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != count:
        raise InputError(f"--class-names {path!r} has {len(names)} names; the model has {count} outputs")
    return [str(n) for n in names]


def check_model(model):
    """``(H, W, C)`` of a model the explorer can show; raises `InputError` otherwise."""
    from zfkeras import Deconvnet

    shape = tuple(model.input_shape[1:]) if isinstance(model.input_shape, tuple) else None
    if shape is None or len(shape) != 3 or None in shape:
        raise InputError(f"the model's input must be one fixed (H, W, C) image, got {model.input_shape}")
    if shape[0] != shape[1] or shape[2] not in (1, 3):
        raise InputError(f"the model's input must be square with 1 or 3 channels, got {shape}")
    if len(model.output_shape) != 2:
        raise InputError(f"the model must end in class scores (N, classes), got output {model.output_shape}")
    Deconvnet(model)  # InputError naming what it cannot mirror
    return tuple(int(d) for d in shape)


@cli_main(PROG)
def main(argv=None):
    args = build_parser().parse_args(argv)
    model_path = pathlib.Path(args.model)
    model_format = model_file_format(model_path)  # before TensorFlow loads: a wrong path fails fast
    name = args.name or model_path.stem
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
        raise InputError(f"--name {name!r}: use letters, digits, '_', '-' and '.'")
    # Where the entry goes, and what is read, are checked before any work.
    plan = plan_output_folder(pathlib.Path(args.logdir) / name, prog=PROG, flag="--logdir/--name",
                              is_own=is_entry, overwrite=args.overwrite, own_replaced=True)
    check_readable_file(model_path, "model file")  # a permission problem, named before Keras reads it
    if args.class_names is not None:
        check_readable_file(args.class_names, "--class-names")
    import numpy as np

    from zfkeras.explore.entry import image_files, write_entry
    from zfkeras.runs.sources import read_image_file
    from zfkeras.keras_objects.saving import load_model

    try:
        model = load_model(model_path, compile=False)
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - Keras raises many types for a file it cannot read
        raise InputError(f"cannot load {args.model!r} as a Keras model: {type(e).__name__}: {e}") from None
    height, _, channels = check_model(model)
    classes = _class_names(args.class_names, int(model.output_shape[-1]))
    files = image_files(args.images)[:args.max_images]
    if len(files) < 9:
        raise InputError(f"--images {args.images!r} has {len(files)} images; the top 9 need at least 9")
    images = np.stack([read_image_file(path, height, height, channels) for path in files])
    relative = [str(path.relative_to(args.images)) for path in files]
    target = pathlib.Path(args.logdir) / name
    # A legacy .h5 model is saved again as the entry's model.keras; a .keras file is copied as it is.
    write_entry(target, model_path, images, relative, args.preprocess, classes,
                {"model": model_path.resolve(), "images": pathlib.Path(args.images).resolve()}, plan=plan,
                model=None if model_format == KERAS else model)
    print(f"{PROG}: wrote {target} ({len(images)} images at {height}x{height}, preprocessing {args.preprocess})")
    print(f"open it with: tensorboard --logdir {args.logdir}")
    return 0
