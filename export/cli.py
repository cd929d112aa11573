"""``zfkeras export RUN_DIR OUT_DIR``: a run's model as a servable SavedModel.

Parsing and the run-folder checks import neither TensorFlow nor Keras, so
``--help`` and argument errors answer at once.
"""

import os
import sys

from zfkeras.cli.verbs import cli_main, positive_int_argument, verb_parser
from zfkeras.runs.outputs import is_run_folder
from zfkeras.utils.paths import check_readable_file, check_writable_folder


def build_parser():
    """The argument parser of ``zfkeras export``."""
    parser = verb_parser(
        "zfkeras export",
        (
            "Write OUT_DIR/<version>/: a SavedModel of the run's trained model taking raw uint8 "
            "images, with signatures serving_default (probabilities, top classes and labels), "
            "features (conv1..conv5, fc7), project and project_<method> (deconvnet and other "
            "backward-rule projections), explain_<method> (LRP composites, LRP-epsilon and Integrated "
            "Gradients by default: a class's maps and attributions) and occlude (Fig. 7 maps "
            "for a square fixed here). It loads with "
            "TensorFlow alone and serves with TensorFlow Serving (docs/EXPORT.md). Prints the "
            "version folder."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by 'zfkeras train'")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="model folder a server watches (created if missing)")
    parser.add_argument(
        "--version", type=positive_int_argument, default=None, metavar="N",
        help="version folder number (default: one more than the highest in OUT_DIR, 1 if none; "
        "the highest itself when it was exported from the same model with the same parameters)",
    )
    parser.add_argument("--occlude-size", type=positive_int_argument, default=None, metavar="PX",
                        help="occlude signature: side of the square (default: 50/224 of the input side)")
    parser.add_argument("--occlude-stride", type=positive_int_argument, default=None, metavar="PX",
                        help="occlude signature: step of the square (default: a fifth of its side)")
    parser.add_argument("--occlude-layer", default=None, metavar="LAYER",
                        help="occlude signature: layer whose strongest map is followed (default: conv5)")
    parser.add_argument(
        "--explain", default=None, type=_explain_argument, metavar="METHODS",
        help="explain_<method> signatures: 'all', 'none', or comma-separated method names (default: the LRP "
        "composites, lrp_epsilon and integrated_gradients; the uniform rules lrp_0, lrp_gamma, "
        "lrp_alpha1_beta0, lrp_alpha2_beta1 only when named or with 'all')",
    )
    parser.add_argument(
        "--force", action="store_true",
        help="write a new version even when the newest one was exported from the same model",
    )
    return parser


def _explain_argument(text):
    """``--explain``: ``all``, ``none`` or comma-separated method names, as `export_run` takes them."""
    if text == "all":
        return "all"
    if text == "none":
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


@cli_main("zfkeras export")
def main(argv=None):
    """Runs the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from zfkeras.export import record as export_record  # no TensorFlow
    from zfkeras.runs.folder import RunFolder
    from zfkeras.runs.layout import MODEL

    try:
        run = RunFolder(args.run_dir)
    except PermissionError:
        raise  # an unreadable config.json: one line from `cli_main`
    except ValueError as e:
        parser.error(str(e))
    if not run.model_path.is_file():
        parser.error(
            f"run folder {run.path} has no {MODEL} (training did not finish); run "
            f"`zfkeras train --run-dir {run.path}` to resume"
        )
    if os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
        parser.error(f"OUT_DIR {args.out_dir!r} exists and is not a folder; choose a folder")
    # An unreadable model or a read-only OUT_DIR is named before the export
    # is traced, as a permission problem (never as a damaged file).
    check_readable_file(run.model_path, f"run folder {run.path}:")
    check_writable_folder(args.out_dir, "OUT_DIR")
    if os.path.isdir(args.out_dir) and is_run_folder(args.out_dir):
        parser.error(f"OUT_DIR {args.out_dir!r} is a training run folder; export writes numbered version "
                     "folders for a server: choose another folder (e.g. RUN_DIR/export)")
    occlude = {"size": args.occlude_size, "stride": args.occlude_stride, "layer": args.occlude_layer}
    from zfkeras.export.projections import explain_signatures
    from zfkeras.utils.errors import InputError

    try:
        explain_signatures(args.explain)  # plain Python: an unknown method is named before TensorFlow loads
    except InputError as e:
        parser.error(f"--explain: {e}")
    record = export_record.run_record(run, occlude=occlude, explain_methods=args.explain)
    found = None if args.force or args.version else export_record.reusable_version(args.out_dir, record)
    if found is not None:
        print(f"zfkeras export: reused {found}: it was exported from the same {MODEL} "
              f"(sha256 {record['model_sha256'][:12]}...) with the same parameters; pass --force for a new "
              "version", file=sys.stderr)
        print(os.path.abspath(found))
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter
    from zfkeras.export.archive import export_run

    print(f"zfkeras export: exporting {run.path} (tracing the signatures) ...", file=sys.stderr)
    path = export_run(run.path, args.out_dir, version=args.version, occlude_size=args.occlude_size,
                      occlude_stride=args.occlude_stride, occlude_layer=args.occlude_layer,
                      explain_methods=args.explain)
    print(os.path.abspath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
