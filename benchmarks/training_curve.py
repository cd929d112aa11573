"""Accuracy against training time for finished runs (recipes side by side).

For each run folder: validation accuracy after every epoch against the
training wall time spent so far (`metrics.json`'s ``epoch_seconds``: each
epoch's training and validation, not the feature-evolution records), and the
final single-crop test accuracy as a marker at the end. Runs measured back to
back on one idle machine are comparable; the CPU is in the title.

    .venv/bin/python -m benchmarks.training_curve RUN_DIR[=LABEL] ... --out docs/figures/accuracy_vs_time.png
"""

import argparse
import json
import os

import numpy as np


def curve(run_dir):
    """``(minutes, validation accuracy %, test accuracy %, recipe)`` of one finished run."""
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    minutes = np.cumsum(metrics["epoch_seconds"]) / 60
    val = 100 * np.asarray(metrics["history"]["val_accuracy"], float)
    return minutes, val, 100 * metrics["test_accuracy"], metrics.get("recipe", "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders, each optionally =LABEL")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default="Fashion-MNIST, zfnet_small")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.output.figures import save_png
    from analysis.output.machine import cpu_model, today

    figure, axes = plt.subplots(figsize=(7, 4.2))
    rows = []
    for spec in args.runs:
        run_dir, _, label = spec.partition("=")
        minutes, val, test, recipe = curve(run_dir)
        label = label or os.path.basename(os.path.normpath(run_dir))
        line, = axes.plot(minutes, val, marker="o", markersize=3, label=f"{label}: validation")
        axes.plot([minutes[-1]], [test], marker="*", markersize=12, color=line.get_color(), linestyle="none",
                  label=f"{label}: test {test:.2f}%")
        rows.append({"run": run_dir, "label": label, "recipe": recipe, "epochs": len(minutes),
                     "training_minutes": round(float(minutes[-1]), 2), "test_accuracy": round(test, 2),
                     "final_validation_accuracy": round(float(val[-1]), 2)})
    axes.set_xlabel("training wall time (minutes; epochs with validation)")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(bottom=max(80.0, axes.get_ylim()[0]))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    axes.set_title(f"{args.title}: accuracy against training time\n{cpu_model()}, {today()}", fontsize=9)
    save_png(figure, args.out)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
