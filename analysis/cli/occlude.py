"""``zfkeras occlude RUN_DIR|MODEL IMAGE...``: Fig. 7 panels for your own images.

With a run folder, each image file is cut and preprocessed exactly as the
run's test images are (`RunFolder.read_image`, then `RunFolder.preprocess`):
for image-folder and TFDS runs the shortest side goes to the run's
``image_size``, then the centre square, then its centre ``crop_size`` crop
(256 -> 256 -> 224 in the paper), then the mean image is subtracted. With a
bare model file (``.keras``, or a legacy ``.h5`` / ``.hdf5``) no
preprocessing is known: the shortest side goes to the model's input side,
the centre is cut, and pixels in [0, 255] are multiplied by ``--rescale``
and fed as they are.

Writes ``OUT/<image name>_occlusion.png`` (panels (a)-(e) of Fig. 7) for
every image and ``OUT/occlusion.csv`` (one row per image). Every image is
read and every map computed before anything is written; the folder appears
complete or not at all. The images, the model and OUT are checked before
any work: OUT may be missing, empty or an earlier occlude output
(``--overwrite``); anything else is moved aside to ``OUT.old-<time>`` with
``--overwrite`` only, and a run folder is always refused
(`zfkeras.runs.outputs`, docs/RELIABILITY.md).
"""

import os

from zfkeras.cli.verbs import cli_main, positive_int_argument, verb_parser
from zfkeras.runs.outputs import OVERWRITE_HELP, only_entries, plan_output_folder
from zfkeras.utils.errors import InputError
from zfkeras.utils.paths import check_readable_file

PROG = "zfkeras occlude"
CSV_NAME = "occlusion.csv"
PANEL_SUFFIX = "_occlusion.png"

_DESCRIPTION = __doc__.split("\n\n")[0]


def build_parser():
    """The argument parser (no TensorFlow import)."""
    parser = verb_parser(PROG, _DESCRIPTION)
    parser.add_argument("model", metavar="RUN_DIR|MODEL",
                        help="a run folder or a model file (.keras, legacy .h5/.hdf5)")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files (PNG, JPEG, BMP, GIF)")
    parser.add_argument("--out", default="occlusion", help="output folder")
    parser.add_argument("--size", type=positive_int_argument, default=None,
                        help="side of the square in pixels (default: 50/224 of the input, the paper's)")
    parser.add_argument("--stride", type=positive_int_argument, default=None, help="step of the square (default: size // 5, at least 1)")
    parser.add_argument("--layer", default="conv5", help="conv layer whose strongest map is followed")
    parser.add_argument("--label", default=None,
                        help="true class (name or index) of every image (default: the unoccluded prediction)")
    parser.add_argument("--method", default="auto", choices=["auto", "full", "incremental", "approximate"],
                        help="occlusion method (docs/OCCLUSION.md); approximate also prints its error "
                        "against the exact maps")
    parser.add_argument("--tau", type=float, default=None,
                        help="--method approximate: projective-field threshold in (0, 1] (default 0.7)")
    parser.add_argument("--drill-down", type=float, default=None,
                        help="--method approximate: share of positions computed after the coarse pass, in (0, 1] "
                        "(default 0.5)")
    parser.add_argument("--coarse-stride", type=positive_int_argument, default=None,
                        help="--method approximate: stride of the coarse pass, a multiple of --stride "
                        "(default 2 x stride; tune_approximate in docs/OCCLUSION.md finds these for your model)")
    parser.add_argument("--rescale", type=float, default=1.0,
                        help="bare model files only: multiply pixels in [0, 255] by this (e.g. 0.00392)")
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    return parser


def _check_args(parser, args):
    given = [f"--{name.replace('_', '-')}" for name in ("tau", "drill_down", "coarse_stride")
             if getattr(args, name) is not None]
    if given and args.method != "approximate":
        parser.error(f"{', '.join(given)} only apply to --method approximate, not --method {args.method}")
    for name in ("tau", "drill_down"):
        value = getattr(args, name)
        if value is not None and not 0 < value <= 1:
            parser.error(f"--{name.replace('_', '-')} must be in (0, 1], got {value}")
    if not os.path.exists(args.model):
        parser.error(f"{args.model!r} is neither a run folder nor a model file (.keras, .h5, .hdf5)")
    # Everything read and the output folder are checked before any work.
    for path in args.images:
        check_readable_file(path, "image file")
    if not os.path.isdir(args.model):
        check_readable_file(args.model, "model file")
    return plan_output_folder(args.out, prog=PROG, flag="--out", is_own=is_occlusion_output,
                              overwrite=args.overwrite)


def is_occlusion_output(path):
    """Whether folder `path` holds only what ``zfkeras occlude`` writes."""
    return only_entries(lambda name: name == CSV_NAME or name.endswith(PANEL_SUFFIX))(path)


def read_bare_image(path, height, width, channels):
    """One image file -> uint8 ``(height, width, channels)`` for a bare model.

    `zfkeras.runs.sources.read_image_file` at the model's larger side (the
    shortest side resized to it, the centre square), then its centre
    ``height x width``.

    Raises:
        ValueError: the file is not a readable image (names it and why).
    """
    from zfkeras.runs.sources import read_image_file

    side = max(height, width)
    square = read_image_file(path, side, side, channels)
    top, left = (side - height) // 2, (side - width) // 2
    return square[top:top + height, left:left + width]


def _load(args):
    """(model, image reader, preprocess, class names) from a run folder or a model file."""
    # a SavedModel folder goes to load_model, which says how to convert it
    if os.path.isdir(args.model) and not os.path.isfile(os.path.join(args.model, "saved_model.pb")):
        from zfkeras.runs.folder import RunFolder

        run = RunFolder(args.model)
        return run.load_model(), run.read_image, run.preprocess, list(run.class_names)
    from zfkeras.keras_objects.saving import load_model

    try:
        model = load_model(args.model)
    except InputError:
        raise
    except Exception as error:  # Keras raises several types for a bad file
        raise InputError(f"cannot load model {args.model!r}: {error}") from None
    classes = model.output.shape[-1]
    h, w, c = (int(d) for d in model.input_shape[1:])
    return (model, lambda path: read_bare_image(path, h, w, c), (lambda x: x.astype("float32") * args.rescale),
            [str(i) for i in range(classes)])


def _label_index(label, names):
    if label is None:
        return None
    if label in names:
        return names.index(label)
    if label.isdigit() and int(label) < len(names):
        return int(label)
    raise InputError(f"--label {label!r} is neither a class name nor an index 0..{len(names) - 1} "
                     f"(classes: {', '.join(names)})")


@cli_main(PROG)
def main(argv=None):
    """Runs the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    plan = _check_args(parser, args)
    return _run(args, plan)


def _check_layer(model, name):
    """`InputError` unless `model` has a layer `name` (before the computation)."""
    names = [layer.name for layer in model.layers]
    if name not in names:
        convs = [layer.name for layer in model.layers if "conv" in type(layer).__name__.lower()] or names
        raise InputError(f"--layer {name!r}: the model has no such layer; choose one of {', '.join(convs)}")


def _run(args, plan):
    import numpy as np

    from zfkeras.analysis.sections import fig7_occlusion as f7
    from zfkeras.analysis.output import tables

    model, read_image, preprocess, names = _load(args)
    h, w = (int(d) for d in model.input_shape[1:3])
    _check_layer(model, args.layer)
    images = np.stack([read_image(path) for path in args.images])
    label = _label_index(args.label, names)
    labels = None if label is None else np.full(len(images), label)
    size = args.size or f7.square_size(h)
    if size > min(h, w):
        raise InputError(f"--size {size} is larger than the model's {h}x{w} input")
    stride = args.stride or max(1, size // 5)
    print(f"Occluding {len(images)} image(s) at {h}x{w}: square {size} px, stride {stride} px, layer {args.layer}, "
          f"method {args.method}")
    approximation = {name: getattr(args, name) for name in ("tau", "drill_down", "coarse_stride")
                     if getattr(args, name) is not None}
    data = f7.compute(model, images, preprocess, size, stride, args.layer, labels, verbose=1,
                      method=args.method, **approximation)
    print(f7.method_text(data.result))
    stems = [os.path.splitext(os.path.basename(p))[0] for p in args.images]
    with plan.directory() as tmp:
        for n, stem in enumerate(stems):
            one = f7.Fig7Data(data.images[n:n + 1], _row(data.result, n), data.projection[n:n + 1],
                              data.unoccluded_activity[n:n + 1], data.layer)
            f7.plot_panels(one, names, os.path.join(tmp, f"{stem}{PANEL_SUFFIX}"))
        r = data.result
        tables.write_csv(os.path.join(tmp, CSV_NAME),
                          ["image", "class", "p_class_unoccluded", "p_class_min", "strongest_map"],
                          [[p, names[r.true_label[n]], float(r.unoccluded_probability[n]),
                            float(r.class_probability[n].min()), int(r.strongest_channel[n])]
                           for n, p in enumerate(args.images)])
    print(f"Wrote {len(stems)} Fig. 7 panel(s) to {os.path.abspath(args.out)}")
    return 0


def _row(result, n):
    """The occlusion result of image ``n`` alone."""
    import dataclasses

    pick = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    for key in ("class_probability", "predicted_label", "layer_activity", "strongest_channel",
                "true_label", "unoccluded_probability"):
        if pick[key] is not None:
            pick[key] = pick[key][n:n + 1]
    return type(result)(**pick)
