"""The ``zfkeras <verb>`` command.

A small dispatcher: it knows the verbs and their one-line help, and imports
a verb's package only when that verb runs, so ``zfkeras --help`` and
argument errors answer at once, without importing TensorFlow. This is the
one place where the zfkeras core refers to zfkeras.train, zfkeras.analysis,
zfkeras.export and zfkeras.explore.
"""

import importlib
import os
import sys

# verb -> (module with `main(argv)` and `build_parser()`, one-line help)
VERBS = {
    "train": ("zfkeras.train.cli", "train a ZFNet-family model (paper recipe, checkpoints, TensorBoard)"),
    "report": ("zfkeras.analysis.cli.report", "write a run's HTML report: the paper's figures and tables"),
    "occlude": ("zfkeras.analysis.cli.occlude", "occlusion panels (Fig. 7) for your own image files"),
    "mine": ("zfkeras.analysis.cli.mine", "mine the top-k activations of a run's layers into RUN_DIR/mined/ (resumable)"),
    "probe": ("zfkeras.analysis.cli.probe", "per-layer linear SVM / softmax probes (Table 6)"),
    "transfer": ("zfkeras.analysis.cli.transfer", "few-shot transfer of the trained layers (Tables 3-4)"),
    "ablate": ("zfkeras.analysis.cli.ablate", "train every Table 2 variant and tabulate their errors"),
    "visualize": ("zfkeras.analysis.cli.visualize", "feature visualisation of a run's units and classes (MaCo, Lucid)"),
    "export": ("zfkeras.export.cli", "write a SavedModel that classifies, returns features and serves projections"),
    "explore": ("zfkeras.explore.cli", "prepare any Keras convnet and an image folder for the TensorBoard explorer"),
}


# Verbs that train or analyse ZFNet-family runs, where oneDNN was measured
# faster (benchmarks/cpu_kernels.py); on Keras Applications models at 224 px
# it was not, so the verbs for any convnet keep TensorFlow's choice.
ONEDNN_VERBS = ("train", "ablate", "report")


def _usage():
    lines = [
        "usage: zfkeras <verb> [options]",
        "",
        "Zeiler & Fergus (2014) for Keras: train ZFNet models and see inside them.",
        "",
        "verbs:",
    ]
    width = max(len(v) for v in VERBS)
    lines += [f"  {verb.ljust(width)}  {text}" for verb, (_, text) in VERBS.items()]
    lines += ["", "Run 'zfkeras <verb> --help' for a verb's options."]
    return "\n".join(lines)


def main(argv=None):
    """Entry point of the console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("-V", "--version"):
        from zfkeras import __version__

        print(f"zfkeras {__version__}")
        return 0
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(_usage(), file=sys.stderr)
        print(f"\nzfkeras: error: unknown verb {verb!r} (choose from {', '.join(VERBS)})", file=sys.stderr)
        return 2
    if verb in ONEDNN_VERBS:
        use_onednn()
    module = importlib.import_module(VERBS[verb][0])
    return module.main(rest)


def use_onednn():
    """Turns on TensorFlow's oneDNN CPU kernels unless the user chose.

    TensorFlow enables them by default only on CPUs with AVX-512 VNNI or
    newer; elsewhere (an AVX2-only AMD EPYC, for one) it falls back to
    Eigen's convolutions, and training zfnet_small took 1.2-2x longer per
    step, 1.3x longer to predict (docs/TRAINING.md, "CPU kernels").
    ``TF_ENABLE_ONEDNN_OPTS=0`` in
    the environment keeps Eigen's. Only effective before TensorFlow loads,
    which is why the dispatcher does it, not the library.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


if __name__ == "__main__":
    sys.exit(main())
