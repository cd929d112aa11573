"""Paper Table 2: the architecture ablations, trained with one recipe.

Every variant of `zfkeras.models.ABLATIONS` is trained from scratch by the
training code of ``zfkeras train`` (`zfkeras.train.runner.run`) with the
base run's configuration -- same data, recipe, epochs, seed -- changing
only ``ablation``. Each variant gets its own run folder
``<ablation folder>/<variant>/`` (default ``RUN_DIR/ablations/``), so a
rerun skips finished variants and resumes an interrupted one from its last
epoch.

Widths: the variants are relative to the builder's defaults
(`zfkeras.models.ablations`), so on ``zfnet_small`` "fc 2048 / 8192" means
fc6/fc7 at half / twice its 512 units (256 / 1024) and "conv3-5 at
512/1024/512" means conv3-5 at 512/384, 1024/384, 512/256 of its 128, 128,
64 maps (171, 341, 128).

The table reports, like the paper, train top-1, validation top-1 and top-5
error (%). Train top-1 is the last epoch's running training accuracy (with
dropout on, as Keras logs it); "validation" is the run's test split (never
trained or annealed on), which is what ImageNet's validation set was for
the paper.
"""

import dataclasses
import html
import os
import pathlib

from zfkeras.analysis.output import figures, tables
from zfkeras.analysis.report.section import Section, SectionUnavailable
from zfkeras.models import ABLATIONS
from zfkeras.runs.folder import RunFolder
from zfkeras.runs import layout
from zfkeras.runs.layout import RunLayout
from zfkeras.utils.errors import InputError

STEM = "table2_ablations"
# The base run's config (the caption) and every variant trained under ablations/.
INPUTS = (layout.CONFIG, layout.ABLATIONS)
# variant -> (paper row, train top-1, val top-1, val top-5 error %). The
# removal rows are on the paper's Krizhevsky replication, the width rows on
# its own model.
PAPER_TABLE2 = {
    "zf": ("Our model (as per Fig. 3)", 33.1, 38.4, 16.5),
    "remove_conv3_conv4": ("Removed layers 3,4 (Krizhevsky)", 41.8, 45.4, 22.1),
    "remove_fc7": ("Removed layer 7 (Krizhevsky)", 27.4, 40.0, 18.4),
    "remove_fc6_fc7": ("Removed layers 6,7 (Krizhevsky)", 27.4, 44.8, 22.4),
    "remove_conv3_conv4_fc6_fc7": ("Removed layers 3,4,6,7 (Krizhevsky)", 71.1, 71.3, 50.1),
    "fc_2048": ("Adjust layers 6,7: 2048 units", 38.2, 40.2, 17.6),
    "fc_8192": ("Adjust layers 6,7: 8192 units", 22.0, 38.8, 17.0),
    "conv345_512_1024_512": ("Adjust layers 3,4,5: 512,1024,512 maps", 18.8, 37.5, 16.0),
}


def check_variants(variants):
    """The variant names, validated (default: all of `ABLATIONS`)."""
    if not variants:
        return list(ABLATIONS)
    unknown = [v for v in variants if v not in ABLATIONS]
    if unknown:
        raise InputError(f"unknown ablation variant(s) {unknown}; choose from {list(ABLATIONS)}")
    return list(dict.fromkeys(variants))


def variant_configs(base, root, variants=None, **overrides):
    """One `TrainConfig` per variant: ``base`` with only the ablation, the
    run folder and ``overrides`` (the budget) changed.

    Args:
        base: the base run's `zfkeras.train.config.TrainConfig`.
        root: the ablation folder.
        variants: names (default: all).
        **overrides: TrainConfig fields set for every variant (e.g.
            ``epochs``, ``max_train_examples``).

    Returns:
        dict variant -> validated TrainConfig.
    """
    return {
        v: dataclasses.replace(base, ablation=v, run_dir=str(pathlib.Path(root) / v), **overrides).validate()
        for v in check_variants(variants)
    }


def train_ablations(configs, verbose=None):
    """Trains each variant (finished ones are skipped, others resumed).

    Returns:
        dict variant -> metrics dict.
    """
    from zfkeras.train.runner import run

    results = {}
    for i, (variant, config) in enumerate(configs.items(), 1):
        print(f"[ablate] variant {i}/{len(configs)}: {variant} -> {config.run_dir}", flush=True)
        results[variant] = run(config, verbose=verbose, ten_crop=False)  # Table 2 reads single-crop
    return results


def collect(root):
    """Finished variants under ``root``, in `ABLATIONS` order.

    Returns:
        list of dicts: variant, errors (%), epochs, examples, seconds,
        and the variant's config.
    """
    rows = []
    for variant in ABLATIONS:
        folder = RunLayout(pathlib.Path(root) / variant)
        if not folder.metrics.is_file():
            continue
        variant_run = RunFolder(folder.root)
        m, config = variant_run.metrics, variant_run.config
        train_acc = (m.get("history", {}).get("accuracy") or [float("nan")])[-1]
        top5 = m.get("test_top5")
        rows.append({
            "variant": variant, "train_top1_error": 100 * (1 - train_acc),
            "val_top1_error": 100 * (1 - m["test_accuracy"]),
            "val_top5_error": None if top5 is None else 100 * (1 - top5),
            "epochs": m.get("epochs"), "train_examples": m.get("train_examples"),
            "test_examples": m.get("test_examples"), "seconds": round(sum(m.get("epoch_seconds") or []), 1),
            "config": config,
        })
    return rows


HEADER = ["variant", "train_top1_error_pct", "val_top1_error_pct", "val_top5_error_pct", "epochs",
          "train_examples", "test_examples", "train_seconds", "model", "dataset", "seed",
          "paper_train_top1", "paper_val_top1", "paper_val_top5"]
SHOWN = ["Error %", "Train Top-1", "Val Top-1", "Val Top-5", "paper (row: train / val top-1 / val top-5)"]


def _pct(value):
    return "—" if value is None else f"{value:.1f}"


def _num(value):
    return "" if value is None else round(float(value), 2)


def write_table2(rows, out_dir, root, command=""):
    """Writes ``table2_ablations.csv/.md`` into ``out_dir``.

    Returns:
        ``(files, shown_rows, notes)``.
    """
    csv_rows, shown = [], []
    for r in rows:
        paper = PAPER_TABLE2[r["variant"]]
        c = r["config"]
        csv_rows.append([r["variant"], _num(r["train_top1_error"]), _num(r["val_top1_error"]),
                         _num(r["val_top5_error"]), r["epochs"], r["train_examples"], r["test_examples"],
                         r["seconds"], c.get("model"), c.get("dataset"), c.get("seed"), *paper[1:]])
        shown.append([r["variant"], _pct(r["train_top1_error"]), _pct(r["val_top1_error"]),
                      _pct(r["val_top5_error"]), f"{paper[0]}: {paper[1]} / {paper[2]} / {paper[3]}"])
    c = rows[0]["config"]
    notes = [
        f"Model family {c.get('model')} on {c.get('dataset')}; every variant trained from scratch with one recipe: "
        f"{c.get('epochs')} epochs, batch {c.get('batch_size')}, SGD lr {c.get('learning_rate')} momentum "
        f"{c.get('momentum')}, annealing x{c.get('anneal_factor')} after {c.get('anneal_patience')} flat epochs, "
        f"seed {c.get('seed')}, {rows[0]['train_examples']} training examples "
        f"({'all' if not c.get('max_train_examples') else 'capped by max_train_examples'}).",
        "Widths relative to the builder's defaults (zfkeras.models.ablations): on zfnet_small fc 2048/8192 -> "
        "256/1024 units, conv3-5 512/1024/512 -> 171/341/128 maps.",
        "Train top-1: last epoch's running training accuracy (dropout on). Val: the run's test split "
        f"({rows[0]['test_examples']} images never trained or annealed on). Variant runs in {root}.",
        "Paper: ImageNet 2012, 70 epochs (orientation only)." + (f" Command: `{command}`" if command else ""),
    ]
    files = tables.write_table(out_dir, STEM, HEADER, csv_rows, SHOWN, shown, "Table 2: ablations", notes)
    return files, shown, notes


def report_section(run, out_dir, verbose="auto"):
    """Table 2 when ``RUN_DIR/ablations/`` holds finished variants."""
    root = run.ablations_dir
    rows = collect(root) if root.is_dir() else []
    if not rows:
        raise SectionUnavailable(
            f"no finished ablation run in {root}; train the Table 2 variants with `zfkeras ablate {run.path}` "
            "(8 runs with this run's recipe; see --variants and --epochs to reduce it), then rerun the report"
        )
    command = f"zfkeras ablate {run.path}"
    files, shown, notes = write_table2(rows, str(out_dir), root, command)
    missing = [v for v in ABLATIONS if v not in {r["variant"] for r in rows}]
    caption = (
        "Paper Table 2: error rates of architecture variants, each trained from scratch. "
        f"Base run: {figures.run_description(run)}. " + " ".join(html.escape(n.replace("`", "")) for n in notes)
        + (f" Not yet trained: {html.escape(', '.join(missing))}." if missing else "")
    )
    body = figures.html_table(SHOWN, shown) + f'<p><a href="{STEM}.csv">{STEM}.csv</a> · <a href="{STEM}.md">{STEM}.md</a></p>'
    return Section("table2", "Table 2: ablations", caption, body, files)


def print_table(out_dir):
    """Prints the Markdown table written by `write_table2`."""
    print(open(os.path.join(out_dir, f"{STEM}.md")).read())
