"""``zfkeras transfer RUN_DIR``: few-shot transfer of the trained layers
(Tables 3-4, the one-shot curve).

Arguments are parsed without importing TensorFlow; the table and curve are
written to the run's report folder (``transfer_<target>.csv``, ``.md``,
``_curve.png``) and printed.
"""

from zfkeras.analysis.cli.common import add_output_options, fold_count, open_target_run, print_written
from zfkeras.cli.verbs import cli_main, non_negative_int_argument, positive_int_argument, verb_parser

PROG = "zfkeras transfer"


def build_parser():
    parser = verb_parser(
        PROG,
        "Keep the trained layers fixed, train a new softmax on N images per class of a target, "
        "test on up to M per class, against the same architecture trained from scratch on the same images.",
    )
    parser.add_argument("run_dir", help="run folder written by zfkeras train")
    parser.add_argument("--target", default="digits",
                        help="'digits' (scikit-learn's, offline), a folder of class sub-folders, tfds:NAME, "
                        "or 'test' (the run's test split)")
    parser.add_argument("--per-class", type=positive_int_argument, nargs="+", default=[1, 2, 5, 10, 15, 30],
                        help="training images per class (N), one table row each")
    parser.add_argument("--test-per-class", type=positive_int_argument, default=50, help="at most this many test images per class")
    parser.add_argument("--folds", type=fold_count, default=5, help="random stratified train/test folds")
    parser.add_argument("--seed", type=non_negative_int_argument, default=0, help="seed of folds, initial weights, batches")
    parser.add_argument("--scratch-steps", type=non_negative_int_argument, default=100,
                        help="SGD steps of the from-scratch baseline per fold (0: skip the baseline)")
    parser.add_argument("--layer", help="feature layer (default: the last Dense layer before the output, fc7)")
    add_output_options(parser, "the table and curve")
    return parser


@cli_main(PROG)
def main(argv=None):
    parser = build_parser()
    args, run, out = open_target_run(parser, argv)
    from zfkeras.analysis.sections import table3_4_transfer as transfer

    rows, meta = transfer.transfer_run(
        run, args.target, args.per_class, args.test_per_class, args.folds, args.seed, args.scratch_steps,
        args.layer, verbose=1, data_dir=args.tfds_data_dir, manual_dir=args.manual_dir,
    )
    command = (f"zfkeras transfer {args.run_dir} --target {args.target} --per-class "
               f"{' '.join(map(str, args.per_class))} --test-per-class {args.test_per_class} --folds {args.folds} "
               f"--seed {args.seed} --scratch-steps {args.scratch_steps}")
    files, _, _ = transfer.write_transfer(rows, meta, out, command)
    print_written(out, files[1], files)
    return 0
