"""Shared pieces of the probe, transfer and ablate commands (no TensorFlow).

Arguments are checked by argparse types, so a bad value is reported as a
usage error before anything heavy is imported.
"""

import argparse
import os

from zfkeras.cli.verbs import positive_int_argument
from zfkeras.utils.paths import check_writable_folder


def fold_count(text):
    """argparse type: the number of folds, at least 2."""
    value = positive_int_argument(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds (the paper uses 5), got {text!r}")
    return value


def add_output_options(parser, what):
    """``--out`` and the TFDS options of a ``tfds:NAME`` target."""
    parser.add_argument("--out", help=f"folder for {what} (default: RUN_DIR/report)")
    parser.add_argument("--tfds-data-dir", help="TFDS data_dir for a tfds:NAME target")
    parser.add_argument("--manual-dir", help="TFDS manual_dir holding the archives for a tfds:NAME target")


def parse_target_args(parser, argv):
    """Parses ``argv`` and checks ``--target`` (a usage error when bad)."""
    args = parser.parse_args(argv)
    from zfkeras.analysis.protocol.targets import check_target

    try:
        check_target(args.target)
    except ValueError as error:
        parser.error(str(error))
    return args


def open_target_run(parser, argv):
    """Parses ``argv``, checks ``--target`` and opens RUN_DIR: ``(args, run, output folder)``."""
    args = parse_target_args(parser, argv)
    run = open_run(parser, args.run_dir)
    out = args.out or str(run.report_dir)
    # A file, a run folder or a read-only folder is named now, not after the computation.
    check_writable_folder(out, "--out" if args.out else "the report folder")
    refuse_run_folder(out, parser.prog)
    return args, run, out


def refuse_run_folder(out, prog):
    """`InputError` when ``out`` is a training run folder (files are added to ``--out``, never to a run)."""
    from zfkeras.runs.outputs import OutputFolderError, is_run_folder

    if os.path.isdir(out) and is_run_folder(out):
        raise OutputFolderError(f"--out {out!r} is a training run folder; {prog} adds its files to a report "
                                "folder, never to a run: pass RUN_DIR/report, or another folder")


def print_written(out, table, files):
    """Prints the Markdown ``table`` written in ``out``, then the files written."""
    with open(os.path.join(out, table)) as f:
        print(f.read())
    print("Wrote " + ", ".join(os.path.join(out, name) for name in files))


def open_run(parser, path):
    """The `RunFolder` at ``path``, or a usage error naming the problem."""
    from zfkeras.runs.folder import RunFolder

    try:
        return RunFolder(path)
    except PermissionError:
        raise  # UnreadableInputError: one line from `cli_main`, exit 2
    except ValueError as error:
        parser.error(str(error))
