"""``zfkeras report RUN_DIR``: write the run's HTML report.

Parsing imports neither TensorFlow nor Keras, so ``--help`` and argument
errors answer at once.
"""

import os
import sys

from zfkeras.analysis.report.build import SECTIONS  # plain data, no TensorFlow
from zfkeras.cli.verbs import cli_main, verb_parser
from zfkeras.runs.layout import REPORT


def build_parser():
    """The argument parser of ``zfkeras report``."""
    names = [name for name, _ in SECTIONS]
    parser = verb_parser(
        "zfkeras report",
        (
            "Write RUN_DIR/report/index.html: the paper's figures and tables for a trained "
            "run (Figs. 2, 4-7, Tables 1-4, 6), an explorer of every feature map's top 9, "
            "and CSV/JSON files of every number. Finished sections are reused on a rerun. The new "
            "report replaces the old one only when it made at least as many of the asked-for sections; "
            "otherwise it is written beside it (RUN_DIR/report.incomplete-<time>) and the exit status is 1."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder written by 'zfkeras train'")
    parser.add_argument(
        "--sections", nargs="+", metavar="NAME", choices=names, default=None,
        help=f"only these sections, in this order (default: all): {', '.join(names)}",
    )
    parser.add_argument(
        "--occlusion-method", choices=["auto", "full", "incremental", "approximate"], default=None,
        help="how Fig. 7's occlusion maps are computed (docs/OCCLUSION.md; the caption says which, and "
        "for approximate its measured error against the exact maps; default: auto)",
    )
    parser.add_argument(
        "--second-run", metavar="RUN_DIR2", default=None,
        help="another run of the same data (e.g. another seed): its model classifies the class images of the "
        "feature visualisation section, whose caption then gives their transferability (docs/REPORT.md)",
    )
    parser.add_argument("--no-cache", action="store_true", help="recompute every section")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


@cli_main("zfkeras report")
def main(argv=None):
    """Runs the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not os.path.isdir(args.run_dir):
        parser.error(f"RUN_DIR {args.run_dir!r} is not a folder; pass the run folder written by 'zfkeras train'")
    params = {}
    if args.occlusion_method is not None:
        if args.sections is not None and "fig7_occlusion" not in args.sections:
            parser.error("--occlusion-method applies to the fig7_occlusion section, which --sections leaves out")
        params["fig7_occlusion"] = {"method": args.occlusion_method}
    if args.second_run is not None:
        if args.sections is not None and "feature_visualization" not in args.sections:
            parser.error("--second-run applies to the feature_visualization section, which --sections leaves out")
        if not os.path.isdir(args.second_run):
            parser.error(f"--second-run {args.second_run!r} is not a folder; pass another run folder of the same "
                         "data")
        params["feature_visualization"] = {"second_run": args.second_run}
    # The run folder and its model are read by this user, and the report
    # folder written, or the command stops here: a permission problem is
    # one line (exit 2), never a report of missing sections.
    from zfkeras.runs.folder import RunFolder
    from zfkeras.utils.paths import check_readable_file, check_writable_folder

    run = RunFolder(args.run_dir)
    if run.model_path.exists():
        check_readable_file(run.model_path, f"run folder {run.path}:")
    check_writable_folder(run.report_dir, "the report folder")
    from zfkeras.analysis.report.build import write_report

    index = write_report(args.run_dir, sections=args.sections, verbose=0 if args.quiet else "auto",
                         use_cache=not args.no_cache, params=params)
    print(f"Report: {os.path.abspath(index)}")
    kept = os.path.join(args.run_dir, REPORT)
    if os.path.abspath(os.path.dirname(index)) != os.path.abspath(kept):
        print(f"zfkeras report: error: the new report made fewer sections than the one in place "
              f"({_reasons(index)}); kept {os.path.join(kept, 'index.html')}, the new one is in "
              f"{os.path.dirname(index)}", file=sys.stderr)
        return 1
    return _status(index)


def _reasons(index):
    """Why sections are missing from the report at `index` (one line)."""
    import json

    from zfkeras.runs.layout import REPORT_SUMMARY

    with open(os.path.join(os.path.dirname(index), REPORT_SUMMARY)) as f:
        summary = json.load(f)
    return "; ".join(f"{m['module']}: {m['reason']}" for m in summary["missing"]) or "none missing"


def _status(index):
    """0 when the report holds a section; else 1, saying why none was made.

    Args:
        index: path of the written ``index.html`` (its folder holds ``report.json``).

    Returns:
        The exit status.
    """
    import json

    from zfkeras.runs.layout import REPORT_SUMMARY

    with open(os.path.join(os.path.dirname(index), REPORT_SUMMARY)) as f:
        summary = json.load(f)
    if summary["sections"]:
        return 0
    reasons = "; ".join(f"{m['module']}: {m['reason']}" for m in summary["missing"]) or "no section was asked for"
    print(f"zfkeras report: error: no section could be made ({reasons})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
