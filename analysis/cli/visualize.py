"""``zfkeras visualize RUN_DIR``: feature visualisations of a run's units and classes.

Optimises an image per feature map of ``--layer`` (and per ``--classes``)
with `zfkeras.feature_visualization`: MaCo by default, its magnitude
spectrum taken from the run's own training images, its images kept within
what the run's preprocessing makes of valid pixels (`RunFolder.preprocess`).
Writes ``OUT/feature_visualization.npz`` (``images``, ``pixels``,
``values``, ``transparency``, ``objectives``) and ``OUT/pixels.png`` (a
grid, one image per objective, in order), plus ``OUT/transparency.png``
for MaCo. Arguments are parsed without importing TensorFlow.

OUT is checked before the optimisation (`zfkeras.runs.outputs`,
docs/RELIABILITY.md): missing or empty, it is written in one step; holding
an earlier visualize output, it is replaced; anything else is refused
unless ``--overwrite``, and then moved aside to ``OUT.old-<time>``; a
training run folder is always refused.
"""

import os

from zfkeras.analysis.cli.common import open_run
from zfkeras.cli.verbs import non_negative_int_argument as non_negative_int, positive_int_argument as positive_int
from zfkeras.cli.verbs import cli_main, verb_parser
from zfkeras.runs.outputs import OVERWRITE_HELP, only_entries, plan_output_folder
from zfkeras.utils.errors import InputError

PROG = "zfkeras visualize"
RESULT_FILE = "feature_visualization.npz"
PIXELS_FILE = "pixels.png"
TRANSPARENCY_FILE = "transparency.png"


def build_parser():
    parser = verb_parser(
        PROG,
        "Optimise an image for every feature map of a layer of a trained run (and for classes): MaCo "
        "(the phase over the run's own image spectrum) or Lucid's Fourier method. Writes the images, "
        "their values and MaCo's transparency maps, and PNG grids.",
    )
    parser.add_argument("run_dir", help="run folder written by zfkeras train")
    parser.add_argument("--layer", help="layer whose feature maps are visualised (default: the last conv layer)")
    parser.add_argument("--channels", type=non_negative_int, nargs="+",
                        help="feature maps of --layer (default: all of them)")
    parser.add_argument("--classes", type=non_negative_int, nargs="+", default=[],
                        help="classes to visualise too (their pre-softmax scores)")
    parser.add_argument("--method", choices=("maco", "fourier"), default="maco", help="the method")
    parser.add_argument("--steps", type=positive_int, help="optimisation steps (default: 256 MaCo, 512 Lucid)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="fixes the images")
    parser.add_argument("--max-images", type=positive_int, default=2000,
                        help="training images the spectrum is averaged over (a seeded draw)")
    parser.add_argument("--batch-size", type=positive_int,
                        help="most images per step (objectives x crops): lower it for big models")
    parser.add_argument("--out", help="output folder (default: RUN_DIR/visualize/<layer>_<method>)")
    parser.add_argument("--verbose", choices=("0", "1", "auto"), default="auto", help="progress bar over the steps")
    parser.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    return parser


def is_visualize_output(path):
    """Whether folder `path` holds only what ``zfkeras visualize`` writes."""
    return only_entries(lambda name: name in (RESULT_FILE, PIXELS_FILE, TRANSPARENCY_FILE))(path)


def _plan(out, flag, overwrite):
    """The checked output folder: an earlier visualize output is replaced, anything else needs --overwrite."""
    return plan_output_folder(out, prog=PROG, flag=flag, is_own=is_visualize_output, overwrite=overwrite,
                              own_replaced=True)


def _save_grids(result, out, method):
    import numpy as np

    from zfkeras.analysis.output.figures import montage, save_image_array

    pixels = result.pixels.astype("float32") / 255.0
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    columns = int(np.ceil(np.sqrt(len(pixels))))
    save_image_array(montage(pixels, columns), os.path.join(out, PIXELS_FILE))
    written = [PIXELS_FILE]
    if method == "maco":
        alpha = np.repeat(result.transparency[..., None], 3, axis=-1)
        save_image_array(montage(alpha, columns), os.path.join(out, TRANSPARENCY_FILE))
        written.append(TRANSPARENCY_FILE)
    return written


@cli_main(PROG)
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    run = open_run(parser, args.run_dir)
    # An explicit --out is checked before the model is loaded; the default one names the layer.
    plan = _plan(args.out, "--out", args.overwrite) if args.out else None
    import numpy as np

    from zfkeras import Unit, feature_visualization

    model = run.load_model()
    from zfkeras.analysis.sections.feature_visualization import last_conv_layer

    layer = args.layer or last_conv_layer(model)
    if args.channels is None:
        from zfkeras.graph.addressing import qualified_layer

        try:
            channels = range(int(qualified_layer(model, layer).output.shape[-1]))
        except ValueError:
            raise InputError(f"--layer {layer!r}: model {model.name!r} has no such layer") from None
    else:
        channels = args.channels
    objectives = [Unit(layer, c) for c in channels] + list(args.classes)
    if plan is None:
        plan = _plan(os.path.join(run.path, "visualize", f"{layer.replace('/', '_')}_{args.method}"),
                     "the output folder", args.overwrite)
    train, _ = run.load_split("train", max_examples=args.max_images, seed=args.seed)
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    result = feature_visualization(model, objectives, method=args.method, inputs=run.preprocess(train),
                                   preprocess=run.preprocess, steps=args.steps, seed=args.seed,
                                   batch_size=args.batch_size, verbose=verbose)
    out = plan.path
    names = np.array([str(o) if isinstance(o, Unit) else f"class {o}" for o in result.objectives])
    with plan.directory() as tmp:  # the folder appears complete, or not at all
        with open(os.path.join(tmp, RESULT_FILE), "wb") as f:
            np.savez(f, images=result.images, pixels=result.pixels, values=result.values, objectives=names,
                     transparency=np.zeros(0, "float32") if result.transparency is None else result.transparency)
        written = [RESULT_FILE] + _save_grids(result, tmp, args.method)
    for name, value in zip(names, result.values):
        print(f"{name}: {value:.4g}")
    print("Wrote " + ", ".join(os.path.join(out, name) for name in written))
    return 0
