"""``zfkeras ablate RUN_DIR``: train every Table 2 variant and tabulate them.

Each variant reuses RUN_DIR's configuration (data, recipe, seed) with only
the ablation changed, trains in ``RUN_DIR/ablations/<variant>/`` (rerun to
skip finished variants and resume the others) and the table goes to the
run's report folder (``table2_ablations.csv``, ``.md``) and the terminal.
Arguments are parsed without importing TensorFlow.

``--seeds 0 1`` trains every variant at each seed: ``<variant>/`` at the
run's own seed, ``<variant>-seedN/`` at another seed N; all variants of the
first seed before the second. The table gives each error's mean ± sample
std over the seeds and the paper's claims against the seed spread.

``--fig6`` trains Fig. 6's three arms instead (conv1 5x5/1 and 9x9/2,
clipping and none) at the same budget and seeds, in
``<ablation folder>/fig6/<arm>[-seedN]/`` (the ZF arm is Table 2's ``zf``
run when that is the same run), and writes ``fig6_seeded.csv/.md``.

RUN_DIR's configuration, ``--out`` and the ablation folder are checked
before any training (`zfkeras.runs.outputs`, docs/RELIABILITY.md): ``--out``
receives the table files beside what is there (a file, a read-only folder
or a training run folder is refused); the ablation folder holds only the
variant runs ablate trains (its own output, resumed): a training run folder
as the ablation folder, or a variant folder holding something other than a
run, is refused.
"""

import os
import pathlib

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
    parser.add_argument("--seeds", nargs="+", type=non_negative_int_argument, metavar="SEED",
                        help="train every variant at each seed (default: the run's own seed); the table gives "
                             "mean ± std over the seeds")
    parser.add_argument("--fig6", action="store_true",
                        help="train Fig. 6's arms (conv1 5x5/1 vs 9x9/2, clipping vs none) at this budget "
                             "instead of the Table 2 variants")
    parser.add_argument("--table-only", action="store_true", help="only tabulate the finished variants")
    return parser


@cli_main(PROG)
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.fig6 and args.variants:
        parser.error("--fig6 trains Fig. 6's three arms, not Table 2 variants: drop --variants")
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
    overrides = {"evolution_sample": args.evolution_sample}
    for name in ("epochs", "max_train_examples", "validation_size"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.fig6:
        from zfkeras.analysis.sections import fig6_architecture as fig6

        configs = fig6.converged_arm_configs(base, root, args.seeds, **overrides)
    else:
        configs = t2.seeded_configs(base, root, args.variants, args.seeds, **overrides)
    # Where ablate writes is checked now, not after hours of training.
    _check_outputs(out, "--out" if args.out else "the report folder", root,
                   "--ablation-dir" if args.ablation_dir else "the ablation folder",
                   [c.run_dir for c in configs.values()], args.table_only)
    if not args.table_only:
        t2.train_ablations(configs, root=root)
    command = f"zfkeras ablate {args.run_dir}" + (" --fig6" if args.fig6 else "") + \
        (f" --variants {' '.join(dict.fromkeys(v for v, _ in configs))}" if args.variants else "") + \
        (f" --seeds {' '.join(str(s) for s in dict.fromkeys(s for _, s in configs))}" if args.seeds else "") + \
        "".join(f" --{k.replace('_', '-')} {v}" for k, v in overrides.items() if k != "evolution_sample")
    if args.fig6:
        return _fig6_table(args, configs, out, command)
    rows = t2.summarize(t2.collect_runs(root, [c.run_dir for c in configs.values()]))
    if not rows:
        raise InputError(f"no finished variant in {root}; run without --table-only to train them")
    files, _, _ = t2.write_table2(rows, out, root, command)
    t2.print_table(out)
    print("Wrote " + ", ".join(os.path.join(out, f) for f in files))
    return 0


def _fig6_table(args, configs, out, command):
    """Measures the finished Fig. 6 arms and writes ``fig6_seeded.csv/.md``."""
    from zfkeras.analysis.sections import fig6_architecture as fig6
    from zfkeras.runs.folder import RunFolder

    arms = {}
    for (key, _), config in configs.items():
        if RunFolder(config.run_dir).is_complete:
            arms.setdefault(key, []).append(RunFolder(config.run_dir))
    keys = [v.key for v in fig6.variants()]
    missing = [k for k in keys if k not in arms]
    if missing:
        raise InputError(f"Fig. 6 arm(s) {', '.join(missing)} have no finished run; run without --table-only "
                         "to train them")
    notes = [f"Runs: {', '.join(str(f.path) for k in keys for f in arms[k])}.", f"Command: `{command}`"]
    _, _, files, _, _, _ = fig6.converged_numbers(RunFolder(args.run_dir), arms, pathlib.Path(out),
                                                  notes=notes)
    print(open(os.path.join(out, files[1])).read())
    print("Wrote " + ", ".join(os.path.join(out, f) for f in files))
    return 0


def _check_outputs(out, out_flag, root, root_flag, folders, table_only):
    """Refuses a table folder or an ablation folder ablate may not write (before any training).

    Args:
        folders: the run folders ablate will train in.

    Raises:
        InputError, UnwritableOutputError, OutputFolderError.
    """
    from zfkeras.analysis.cli.common import refuse_run_folder
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
    for folder in folders:
        if os.path.lexists(folder) and not os.path.isdir(folder):
            raise InputError(f"{root_flag} {root!r}: {folder} is a file, not a variant's run folder; move it away")
        if os.path.isdir(folder) and visible_entries(folder) and not is_run_folder(folder):
            raise OutputFolderError(
                f"{root_flag} {root!r}: {folder} holds {describe_entries(visible_entries(folder))}, not a run "
                f"{PROG} trained; move it away or choose another {root_flag}")
