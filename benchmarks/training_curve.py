"""Accuracy against training time for finished runs (recipes side by side).

For each run folder: validation accuracy after every epoch against the
training wall time spent so far (`metrics.json`'s ``epoch_seconds``: each
epoch's training and validation, not the feature-evolution records), and the
final single-crop test accuracy as a marker at the end. Runs measured back to
back on one idle machine are comparable; the CPU is in the title.
Runs recorded while other jobs shared the machine can be drawn on one clock
instead: ``--images-per-second R`` puts the end of epoch e at e x (the run's
training images) / R, R being the training throughput measured on an idle
machine (fair only between recipes whose steps cost the same per image; the
axis label and the printed rows say which clock is used).

    .venv/bin/python -m benchmarks.training_curve RUN_DIR[=LABEL] ... --out docs/images/accuracy_vs_time.png
"""

import argparse
import json
import os

import numpy as np


def curve(run_dir, images_per_second=None):
    """``(minutes, validation accuracy %, test accuracy %, recipe)`` of one finished run.

    Args:
        run_dir: a finished run folder.
        images_per_second: when given, each epoch takes the run's training
            images / images_per_second instead of its recorded ``epoch_seconds``.
    """
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    measured = np.asarray(metrics["epoch_seconds"], float)
    if images_per_second is not None:
        measured = np.full_like(measured, metrics["train_examples"] / float(images_per_second))
    minutes = np.cumsum(measured) / 60
    val = 100 * np.asarray(metrics["history"]["val_accuracy"], float)
    return minutes, val, 100 * metrics["test_accuracy"], metrics.get("recipe", "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders, each optionally =LABEL")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default="Fashion-MNIST, zfnet_small")
    parser.add_argument("--images-per-second", type=float, default=None,
                        help="draw every run on one clock: R training images per second (measured idle) "
                             "instead of each run's recorded epoch times")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.output.figures import save_png
    from analysis.output.machine import cpu_model, today

    figure, axes = plt.subplots(figsize=(10, 4.2))
    rows = []
    for spec in args.runs:
        run_dir, _, label = spec.partition("=")
        minutes, val, test, recipe = curve(run_dir, args.images_per_second)
        label = label or os.path.basename(os.path.normpath(run_dir))
        line, = axes.plot(minutes, val, marker="o", markersize=3, label=f"{label}: validation")
        axes.plot([minutes[-1]], [test], marker="*", markersize=12, color=line.get_color(), linestyle="none",
                  label=f"{label}: test {test:.2f}%")
        rows.append({"run": run_dir, "label": label, "recipe": recipe, "epochs": len(minutes),
                     "training_minutes": round(float(minutes[-1]), 2), "test_accuracy": round(test, 2),
                     "final_validation_accuracy": round(float(val[-1]), 2),
                     "clock": "recorded" if args.images_per_second is None
                     else f"{args.images_per_second:g} training images/s"})
    if args.images_per_second is None:
        axes.set_xlabel("training wall time (minutes; epochs with validation)")
    else:
        axes.set_xlabel(f"training time (minutes) at {args.images_per_second:g} training images/s, measured idle")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(bottom=max(80.0, axes.get_ylim()[0]))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    axes.set_title(f"{args.title}: accuracy against training time\n{cpu_model()}, {today()}", fontsize=9)
    save_png(figure, args.out)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
