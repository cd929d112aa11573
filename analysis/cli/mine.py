"""``zfkeras mine RUN_DIR``: the top-k activations of a run's layers, stored in the run.

Mines the run's test (or training) split, preprocessed as in training
(`RunFolder.load_split`, `RunFolder.preprocess`), chunk by chunk. After
each chunk the merged top-k so far and the next image are saved atomically
(`zfkeras.runs.mined.save_progress`), so a pass that is killed continues
from its last chunk and ends with the result of an uninterrupted pass (the
merge is exact). The result goes to ``RUN_DIR/mined/<layer>.npz``
(`zfkeras.runs.mined`), where the report's Fig. 2 and the explorers find it.

Under ``TF_CONFIG`` (several workers, `MultiWorkerMirroredStrategy`) every
worker runs the same command: each mines only its shard of every chunk,
the candidates are gathered on every worker, and only the chief writes.
Arguments are parsed without importing TensorFlow.
"""

from zfkeras.analysis.cli.common import open_run
from zfkeras.cli.verbs import cli_main, non_negative_int_argument, positive_int_argument, verb_parser
from zfkeras.utils.errors import InputError

PROG = "zfkeras mine"
# Fig. 2's defaults (zfkeras.analysis.sections.fig2_top9), so that the report reuses what this writes.
DEFAULT_K = 9
DEFAULT_MAX_IMAGES = 10000
DEFAULT_CHUNK = 2048


def build_parser():
    parser = verb_parser(
        PROG,
        "Mine the top-k activations of every feature map of some layers over the run's test (or training) "
        "images and store them in RUN_DIR/mined/, where zfkeras report and the explorer reuse them. "
        "Resumes an interrupted pass; runs across the workers of TF_CONFIG.",
    )
    parser.add_argument("run_dir", help="run folder written by zfkeras train")
    parser.add_argument("--layers", nargs="+", help="layers to mine (default: every conv layer, as Fig. 2)")
    parser.add_argument("--k", type=positive_int_argument, default=DEFAULT_K, help="images kept per feature map")
    parser.add_argument("--split", choices=("test", "train"), default="test", help="the run's images to mine")
    parser.add_argument("--max-images", type=non_negative_int_argument, default=DEFAULT_MAX_IMAGES,
                        help="at most this many images of the split, a seeded draw (0: all)")
    parser.add_argument("--seed", type=non_negative_int_argument, default=0, help="seed of that draw")
    parser.add_argument("--batch-size", type=positive_int_argument, default=64, help="images per forward pass (all workers)")
    parser.add_argument("--chunk-size", type=positive_int_argument, default=DEFAULT_CHUNK,
                        help="images mined between two saves of the progress")
    parser.add_argument("--verbose", choices=("0", "1", "auto"), default="auto",
                        help="progress bar over the images: 0 never, 1 always, auto when more than one chunk")
    return parser


@cli_main(PROG)
def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    run = open_run(parser, args.run_dir)
    from zfkeras.train.devices import make_strategy, worker_role
    from zfkeras.utils.paths import check_readable_file, check_writable_folder

    is_chief, role = worker_role()
    # A model this user cannot read, or a mined/ that cannot be written (a
    # file, read-only), is named before the pass, not after it.
    if run.model_path.exists():
        check_readable_file(run.model_path, f"run folder {run.path}:")
    if is_chief:
        check_writable_folder(run.layout.mined, "the mined folder")
    strategy, description = make_strategy()  # before any other TensorFlow op (MultiWorkerMirroredStrategy)
    import tensorflow as tf

    if not isinstance(strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)):
        strategy = None
    verbose = args.verbose if args.verbose == "auto" else int(args.verbose)
    written = mine_run(run, args.layers, args.k, args.split, args.max_images or None, args.seed, args.batch_size,
                       args.chunk_size, strategy=strategy, is_chief=is_chief, verbose=verbose if is_chief else 0)
    if is_chief:
        print(f"Mined on {description}. Wrote " + ", ".join(str(p) for p in written))
    else:
        print(f"{role}: mined its shards on {description}; the chief wrote the result")
    return 0


def default_layers(model):
    """Fig. 2's layers: the conv layers the deconvnet can project from."""
    from zfkeras import Deconvnet
    from zfkeras.analysis.sections.fig2_top9 import conv_layers

    return conv_layers(model, Deconvnet(model))


def mine_run(run, layers, k, split, max_images, seed, batch_size, chunk_size, strategy=None, is_chief=True,
             verbose="auto"):
    """Mines the run's images chunk by chunk, resuming, and stores the result.

    Args:
        run: a `RunFolder`.
        layers: layer names, or None for `default_layers`.
        k: images per map.
        split, max_images, seed: the images, ``run.load_split(split,
            max_examples=max_images, seed=seed)``.
        batch_size: the global batch.
        chunk_size: images between two saves of the progress.
        strategy: a `tf.distribute` strategy, or None.
        is_chief: whether this process writes.
        verbose: the progress bar over images (Keras' verbose).

    Returns:
        list of the files written (empty on a non-chief worker).
    """
    from zfkeras.methods.top_activations import merge_top_activations, top_activations
    from zfkeras.utils.progress import progress_bar
    from zfkeras.runs import mined
    from zfkeras.graph.addressing import resolve_layers

    if strategy is None:
        model = run.load_model(compile=False)
    else:
        with strategy.scope():  # weights mirrored on every replica's device
            model = run.load_model(compile=False)
    layers = list(layers) if layers else default_layers(model)
    try:
        resolve_layers(model, layers, PROG, maps_only=True)
    except (TypeError, ValueError) as error:
        raise InputError(str(error)) from None
    raw, _ = run.load_split(split, max_examples=max_images, seed=seed)
    n = len(raw)
    if k > n:
        raise InputError(f"--k {k} is larger than the number of images mined ({n}); give a smaller --k")
    params = {"split": split, "max_images": max_images, "seed": seed, "num_images": n}
    progress = dict(params, layers=layers, wanted_k=k)
    saved = mined.load_progress(run, **progress) if is_chief else None
    state, offset = saved if saved is not None else (None, 0)
    offset = _chief_value(strategy, offset)
    if offset and is_chief:
        print(f"Resuming at image {offset} of {n} (the progress saved by an interrupted pass)")
    bar = progress_bar(-(-n // chunk_size), verbose, "chunk", auto_minimum=1)
    for step, start in enumerate(range(offset, n, chunk_size)):
        stop = min(start + chunk_size, n)
        part = top_activations(model, run.preprocess(raw[start:stop]), layers, k=min(k, stop - start),
                               batch_size=batch_size, strategy=strategy, verbose=0)
        parts, offsets = ([part], [start]) if state is None else ([state, part], [0, start])
        state = merge_top_activations(parts, k=min(k, stop), offsets=offsets)
        if is_chief:
            mined.save_progress(run, layers, state, dict(progress, next_offset=stop))
        if bar is not None:
            bar.update(-(-stop // chunk_size))
    if not is_chief:
        return []
    files = [mined.save_top_activations(run, layer, state[layer], params) for layer in layers]
    mined.clear_progress(run)
    return files


def _chief_value(strategy, value):
    """The chief's ``value`` on every worker (a sum where only the chief's first replica gives it)."""
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return value
    import tensorflow as tf

    local = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(value if context.replica_id_in_sync_group == 0 else 0, tf.int64))
    return int(strategy.reduce(tf.distribute.ReduceOp.SUM, local, axis=None))
