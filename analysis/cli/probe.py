"""``zfkeras probe RUN_DIR``: per-layer linear SVM / softmax probes (Table 6).

Arguments are parsed without importing TensorFlow; the table is written to
the run's report folder (``table6_probes.csv``, ``.md``, the depth plot)
and printed.
"""

from zfkeras.analysis.cli.common import add_output_options, fold_count, open_target_run, print_written
from zfkeras.cli.verbs import cli_main, non_negative_int_argument, positive_int_argument, verb_parser

PROG = "zfkeras probe"


def build_parser():
    parser = verb_parser(
        PROG,
        "Paper Table 6: train a linear SVM (and a softmax on conv5, fc7) on each layer's "
        "features of N images per class, test on up to M others per class, over random folds.",
    )
    parser.add_argument("run_dir", help="run folder written by zfkeras train")
    parser.add_argument("--layers", nargs="+", help="layers to probe (default: conv1-conv5, fc6, fc7 that exist)")
    parser.add_argument("--target", default="test",
                        help="images to probe on: 'test' (the run's test split), 'digits', a folder of class "
                        "sub-folders, or tfds:NAME")
    parser.add_argument("--per-class", type=positive_int_argument, default=30, help="training images per class (N)")
    parser.add_argument("--test-per-class", type=positive_int_argument, default=50, help="at most this many test images per class")
    parser.add_argument("--folds", type=fold_count, default=5, help="random stratified train/test folds")
    parser.add_argument("--seed", type=non_negative_int_argument, default=0, help="seed of the folds (fold i uses seed + i)")
    parser.add_argument("--pool", choices=("max", "avg", "none"), default="max",
                        help="conv-map reduction to a 2x2 grid ('none': raw maps, flattened)")
    parser.add_argument("--batch-size", type=positive_int_argument, default=128, help="images per forward pass")
    add_output_options(parser, "the table and plot")
    return parser


@cli_main(PROG)
def main(argv=None):
    parser = build_parser()
    args, run, out = open_target_run(parser, argv)
    from zfkeras.analysis.sections import table6_probes

    results, meta = table6_probes.probe_run(
        run, args.layers, args.target, args.per_class, args.test_per_class, args.folds, args.seed,
        None if args.pool == "none" else args.pool, args.batch_size, verbose=1, data_dir=args.tfds_data_dir,
        manual_dir=args.manual_dir,
    )
    command = f"zfkeras probe {args.run_dir} --target {args.target} --per-class {args.per_class} " \
              f"--test-per-class {args.test_per_class} --folds {args.folds} --seed {args.seed} --pool {args.pool}"
    files, _, _ = table6_probes.write_table6(results, meta, out, command)
    print_written(out, f"{table6_probes.CSV_NAME}.md", files)
    return 0
