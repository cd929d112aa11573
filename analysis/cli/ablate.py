"""``zfkeras ablate RUN_DIR``: train every Table 2 variant and tabulate them.

Each variant reuses RUN_DIR's configuration (data, recipe, seed) with only
the ablation changed, trains in ``RUN_DIR/ablations/<variant>/`` (rerun to
skip finished variants and resume the others) and the table goes to the
run's report folder (``table2_ablations.csv``, ``.md``) and the terminal.
Arguments are parsed without importing TensorFlow.

RUN_DIR's configuration, ``--out`` and the ablation folder are checked
before any training (`zfkeras.runs.outputs`, docs/RELIABILITY.md): ``--out``
receives the table files beside what is there (a file, a read-only folder
or a training run folder is refused); the ablation folder holds only the
variant runs ablate trains (its own output, resumed): a training run folder
as the ablation folder, or a variant folder holding something other than a
run, is refused.
"""

import os

from zfkeras.cli.verbs import cli_main, non_negative_int_argument, positive_int_argument, verb_parser
from zfkeras.utils.errors import InputError
from zfkeras.utils.paths import check_readable_file, check_writable_folder

PROG = "zfkeras ablate"


def build_parser():
    from zfkeras.models import ABLATIONS

    parser = verb_parser(
        PROG,
        "Paper Table 2: train each architecture variant from scratch with the run's recipe, "
        "then report train top-1, validation top-1 and top-5 error.",
    )
    parser.add_argument("run_dir", help="run folder whose config.json gives the data and recipe")
    parser.add_argument("--variants", nargs="+", choices=list(ABLATIONS), metavar="VARIANT",
                        help=f"variants to train (default: all): {', '.join(ABLATIONS)}")
    parser.add_argument("--epochs", type=positive_int_argument, help="epochs per variant (default: the run's)")
    parser.add_argument("--max-train-examples", type=non_negative_int_argument,
                        help="use at most this many training examples (default: the run's; 0: all)")
    parser.add_argument("--validation-size", type=non_negative_int_argument, help="held-out validation examples (default: the run's)")
    parser.add_argument("--evolution-sample", type=positive_int_argument, default=256,
                        help="images searched per feature-evolution record (does not change training)")
    parser.add_argument("--ablation-dir", help="folder of the variant runs (default: RUN_DIR/ablations)")
    parser.add_argument("--out", help="folder for the table (default: RUN_DIR/report)")
    parser.add_argument("--table-only", action="store_true", help="only tabulate the finished variants")
    return parser


@cli_main(PROG)
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from zfkeras.runs.layout import CONFIG, RunLayout
    from zfkeras.train.config import TrainConfig

    layout = RunLayout(args.run_dir)
    config_path = layout.config
    if not os.path.lexists(config_path):
        parser.error(f"not a run folder: {args.run_dir} has no {CONFIG}; pass a folder zfkeras train wrote")
    check_readable_file(config_path, "run configuration")  # a FIFO or an unreadable file: one line
    try:
        base = TrainConfig.from_file(config_path)
    except ValueError as error:
        parser.error(str(error))
    from zfkeras.analysis.sections import table2_ablations as t2

    root = args.ablation_dir or str(layout.ablations)
    out = args.out or str(layout.report)
    # Where ablate writes is checked now, not after hours of training.
    _check_outputs(out, "--out" if args.out else "the report folder", root,
                   "--ablation-dir" if args.ablation_dir else "the ablation folder",
                   args.variants or [], args.table_only)
    overrides = {"evolution_sample": args.evolution_sample}
    for name in ("epochs", "max_train_examples", "validation_size"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    configs = t2.variant_configs(base, root, args.variants, **overrides)
    if not args.table_only:
        t2.train_ablations(configs)
    rows = [r for r in t2.collect(root) if r["variant"] in configs]
    if not rows:
        raise InputError(f"no finished variant in {root}; run without --table-only to train them")
    command = f"zfkeras ablate {args.run_dir}" + (f" --variants {' '.join(configs)}" if args.variants else "") + \
        "".join(f" --{k.replace('_', '-')} {v}" for k, v in overrides.items() if k != "evolution_sample")
    files, _, _ = t2.write_table2(rows, out, root, command)
    t2.print_table(out)
    print("Wrote " + ", ".join(os.path.join(out, f) for f in files))
    return 0


def _check_outputs(out, out_flag, root, root_flag, variants, table_only):
    """Refuses a table folder or an ablation folder ablate may not write (before any training).

    Raises:
        InputError, UnwritableOutputError, OutputFolderError.
    """
    from zfkeras.analysis.cli.common import refuse_run_folder
    from zfkeras.models import ABLATIONS
    from zfkeras.runs.outputs import OutputFolderError, describe_entries, is_run_folder, visible_entries

    check_writable_folder(out, out_flag)
    refuse_run_folder(out, PROG)
    if table_only:
        return
    check_writable_folder(root, root_flag)
    if os.path.isdir(root) and is_run_folder(root):
        raise OutputFolderError(f"{root_flag} {root!r} is a training run folder; {PROG} trains its variants in "
                                "sub-folders of a folder of its own, never in a run: choose another "
                                f"{root_flag}")
    for variant in variants or ABLATIONS:
        folder = os.path.join(root, variant)
        if os.path.lexists(folder) and not os.path.isdir(folder):
            raise InputError(f"{root_flag} {root!r}: {folder} is a file, not a variant's run folder; move it away")
        if os.path.isdir(folder) and visible_entries(folder) and not is_run_folder(folder):
            raise OutputFolderError(
                f"{root_flag} {root!r}: {folder} holds {describe_entries(visible_entries(folder))}, not a run "
                f"{PROG} trained; move it away or choose another {root_flag}")
