"""Paper Table 2: the architecture ablations, trained with one recipe.

Every variant of `zfkeras.models.ABLATIONS` is trained from scratch by the
training code of ``zfkeras train`` (`zfkeras.train.runner.run`) with the
base run's configuration -- same data, recipe, epochs, seed -- changing
only ``ablation``. Each variant gets its own run folder
``<ablation folder>/<variant>/`` (default ``RUN_DIR/ablations/``), so a
rerun skips finished variants and resumes an interrupted one from its last
epoch.

Seeds: ``<variant>/`` is the variant at the base run's own seed; another
seed N trains in ``<variant>-seedN/`` (`run_folder_name`), so the folders
of a one-seed ablation stay valid. With several seeds the table gives the
mean and sample standard deviation (n - 1) over the seeds of each error,
the number of seeds, and one line per paper claim saying whether the
difference to ``zf`` exceeds the seed spread (`separation`).

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

import collections
import dataclasses
import html
import json
import os
import pathlib
import statistics

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


SEED_SUFFIX = "-seed"


def run_folder_name(name, seed, base_seed):
    """``name`` at the base run's seed, ``name-seedN`` at another seed N."""
    return name if seed == base_seed else f"{name}{SEED_SUFFIX}{seed}"


def check_seeds(seeds, base_seed):
    """The seeds, validated and without repeats (default: the base run's)."""
    if not seeds:
        return [base_seed]
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise InputError(f"seeds must be non-negative integers, got {bad[0]!r}")
    return list(dict.fromkeys(seeds))


def seeded_configs(base, root, variants=None, seeds=None, **overrides):
    """One `TrainConfig` per variant and seed, all variants of the first
    seed first (a partial run gives a complete one-seed table first).

    Args:
        base, root, variants, **overrides: as `variant_configs`.
        seeds: the seeds (default: ``base.seed`` only, in ``<variant>/``);
            another seed N trains in ``<variant>-seedN/``.

    Returns:
        dict ``(variant, seed)`` -> validated TrainConfig.
    """
    if "seed" in overrides:
        raise TypeError("pass seeds=, not seed=")
    configs = {}
    for seed in check_seeds(seeds, base.seed):
        for variant, config in variant_configs(base, root, variants, **overrides).items():
            folder = pathlib.Path(root) / run_folder_name(variant, seed, base.seed)
            configs[(variant, seed)] = dataclasses.replace(config, seed=seed, run_dir=str(folder)).validate()
    return configs


MACHINES = "machines.json"  # in the ablation folder: run folder (relative) -> CPU it was trained on


def record_machine(root, run_dir):
    """Notes in ``root/machines.json`` the CPU ``run_dir`` was just trained on."""
    from zfkeras.analysis.output import machine
    from zfkeras.utils.atomic import write_json_atomic

    path = pathlib.Path(root) / MACHINES
    records = _read_machines(root)
    records[pathlib.Path(run_dir).relative_to(root).as_posix()] = machine.cpu_model()
    write_json_atomic(path, records)


def _read_machines(root):
    try:
        with open(pathlib.Path(root) / MACHINES) as f:
            records = json.load(f)
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def train_ablations(configs, verbose=None, root=None):
    """Trains each run in order (finished ones are skipped, others resumed).

    Args:
        configs: dict variant (or ``(variant, seed)``) -> TrainConfig.
        root: the ablation folder; when given, the CPU of every run trained
            now is noted in its ``machines.json``.

    Returns:
        dict of the same keys -> metrics dict.
    """
    from zfkeras.train.runner import run

    results = {}
    for i, (key, config) in enumerate(configs.items(), 1):
        label = key if isinstance(key, str) else f"{key[0]}, seed {key[1]}"
        print(f"[ablate] variant {i}/{len(configs)}: {label} -> {config.run_dir}", flush=True)
        finished = RunFolder(config.run_dir).is_complete if os.path.isdir(config.run_dir) else False
        results[key] = run(config, verbose=verbose, ten_crop=False)  # Table 2 reads single-crop
        if root is not None and not finished:
            record_machine(root, config.run_dir)
    return results


def run_seconds(metrics):
    """A run's training time: its median epoch's wall time x its epochs, or
    the mean epoch time x epochs where only that is recorded (None if neither).

    The median, not the sum, because one epoch stretched by a paused or
    suspended process (or a resume that waited) would otherwise stand for
    the variant's cost."""
    seconds = metrics.get("epoch_seconds") or []
    if seconds:
        return float(statistics.median(seconds)) * len(seconds)
    if metrics.get("mean_epoch_seconds") is not None and metrics.get("epochs"):
        return float(metrics["mean_epoch_seconds"]) * int(metrics["epochs"])
    return None


def _parse_folder(name):
    """``(variant, seeded)`` for a folder name of `run_folder_name`, else None."""
    if name in ABLATIONS:
        return name, False
    variant, sep, seed = name.rpartition(SEED_SUFFIX)
    if sep and variant in ABLATIONS and seed.isdigit():
        return variant, True
    return None


def collect_runs(root, folders=None):
    """Every finished variant run under ``root``: ``<variant>/`` and
    ``<variant>-seedN/``, in `ABLATIONS` order, then by seed.

    Args:
        root: the ablation folder.
        folders: only these run folders (paths), e.g. the ones a command
            configured; default: all.

    Returns:
        list of dicts: variant, seed, folder, errors (%), epochs, examples,
        seconds, cpu (where recorded) and the run's config.
    """
    root = pathlib.Path(root)
    if folders is not None:
        names = [pathlib.Path(f).name for f in folders]
    else:
        names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    machines = _read_machines(root)
    rows = []
    for name in names:
        parsed = _parse_folder(name)
        folder = RunLayout(root / name)
        if parsed is None or not folder.metrics.is_file():
            continue
        variant_run = RunFolder(folder.root)
        m, config = variant_run.metrics, variant_run.config
        train_acc = (m.get("history", {}).get("accuracy") or [float("nan")])[-1]
        top5 = m.get("test_top5")
        seconds = run_seconds(m)
        rows.append({
            "variant": parsed[0], "seed": config.get("seed"), "folder": str(folder.root),
            "train_top1_error": 100 * (1 - train_acc),
            "val_top1_error": 100 * (1 - m["test_accuracy"]),
            "val_top5_error": None if top5 is None else 100 * (1 - top5),
            "epochs": m.get("epochs"), "train_examples": m.get("train_examples"),
            "test_examples": m.get("test_examples"), "seconds": None if seconds is None else round(seconds, 1),
            "cpu": machines.get(name), "config": config, "recipe": m.get("recipe"),
        })
    order = {v: i for i, v in enumerate(ABLATIONS)}
    rows.sort(key=lambda r: (order[r["variant"]], r["seed"] if isinstance(r["seed"], int) else -1))
    return rows


def collect(root):
    """The finished variants under ``root``, one row per variant (mean over
    its seeds, see `summarize`), in `ABLATIONS` order."""
    return summarize(collect_runs(root))


ERRORS = ("train_top1_error", "val_top1_error", "val_top5_error")


def mean_std(values):
    """``(mean, sample standard deviation, n)`` of the values that are not
    None; the deviation (n - 1 in the denominator) is None below two values,
    the mean None without any."""
    import numpy as np

    values = [float(v) for v in values if v is not None]
    if not values:
        return None, None, 0
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return float(np.mean(values)), std, len(values)


def summarize(runs):
    """One row per variant: each error's mean and sample std over its runs.

    Args:
        runs: rows of `collect_runs`.

    Returns:
        list of dicts (`ABLATIONS` order): variant, ``<error>`` (mean),
        ``<error>_std``, ``<error>_values``, seeds, n, seconds (mean per
        run), cpus, epochs, examples, and the first run's config.
    """
    rows = []
    for variant in ABLATIONS:
        mine = [r for r in runs if r["variant"] == variant]
        if not mine:
            continue
        mine, left_out = _one_budget(mine)
        row = {"variant": variant, "left_out": left_out, "seeds": [r["seed"] for r in mine], "n": len(mine),
               "folders": [r["folder"] for r in mine], "config": mine[0]["config"],
               "recipe": mine[0].get("recipe")}
        for key in ERRORS:
            values = [r[key] for r in mine]
            row[key], row[f"{key}_std"], _ = mean_std(values)
            row[f"{key}_values"] = values
        row["seconds"], row["seconds_std"], _ = mean_std([r["seconds"] for r in mine])
        row["cpus"] = sorted({r["cpu"] for r in mine if r["cpu"]})
        for key in ("epochs", "train_examples", "test_examples"):
            row[key] = mine[0][key]
        rows.append(row)
    return rows


def _sentence(note):
    """A note ending in a full stop, so that notes run together in a caption read apart."""
    return note if note.endswith((".", "!", "?")) else note + "."


def _recipe_words(row):
    """The recipe as the variant's run recorded it (``metrics.json``'s
    ``recipe``), else rebuilt from its config the same way (a config from
    before recipes existed means the paper's, `completed`)."""
    if row.get("recipe"):
        return row["recipe"]
    from zfkeras.train import recipes
    from zfkeras.train.config import TrainConfig, completed

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    saved = {k: v for k, v in row["config"].items() if k in fields}
    return recipes.describe(TrainConfig.from_dict(completed(saved)))


def _budget(row):
    """The budget a run was trained with (epochs, training examples)."""
    return row["epochs"] or 0, row["train_examples"] or 0


def _one_budget(runs):
    """The runs of the budget most of them share (ties: the larger budget),
    and the folders of the others."""
    counts = collections.Counter(_budget(r) for r in runs)
    chosen = max(counts, key=lambda b: (counts[b], b))
    return [r for r in runs if _budget(r) == chosen], [r["folder"] for r in runs if _budget(r) != chosen]


def pooled_spread(groups):
    """The seed spread pooled over groups assumed to share it (Table 2's
    variants: one model family, one recipe, one budget).

    Args:
        groups: lists of per-seed values (None entries ignored); groups
            with fewer than two values add nothing.

    Returns:
        ``(s, df)``: the pooled sample standard deviation
        ``sqrt(sum((n_i - 1) s_i^2) / df)`` and its degrees of freedom
        ``df = sum(n_i - 1)``; ``(None, 0)`` when no group has two values.
    """
    import math

    squares, df = 0.0, 0
    for values in groups:
        _, std, n = mean_std(values)
        if std is not None:
            squares += std ** 2 * (n - 1)
            df += n - 1
    return (math.sqrt(squares / df), df) if df else (None, 0)


def separation(values, reference, pooled=None):
    """Whether two sets of per-seed values differ by more than their seed spread.

    The rule, a two-sided t-test at 5%: ``|mean(a) - mean(b)| > t SE`` with
    ``t`` the 97.5% quantile of Student's t. Without ``pooled``, Welch's
    test: ``SE = sqrt(s_a^2 / n_a + s_b^2 / n_b)`` from each side's sample
    variance, with the Welch-Satterthwaite degrees of freedom; it needs two
    values on each side. With ``pooled = (s, df)`` (`pooled_spread`), the
    spread shared by all groups: ``SE = s sqrt(1 / n_a + 1 / n_b)`` with
    ``df`` degrees of freedom; one value on a side is then enough. The t
    quantile, not a fixed 2, because two seeds give one degree of freedom
    a side, where 2 SE would be a test at about 30%, not 5%.

    Returns:
        dict ``difference`` (mean(values) - mean(reference)), ``se``, ``df``,
        ``t`` (the quantile) and ``threshold`` (t x SE), each None where it
        cannot be judged, ``n`` (pair), ``separated`` (bool, None when it
        cannot be judged).
    """
    import math

    a_mean, a_std, a_n = mean_std(values)
    b_mean, b_std, b_n = mean_std(reference)
    difference = None if a_mean is None or b_mean is None else a_mean - b_mean
    result = {"difference": difference, "se": None, "df": None, "t": None, "threshold": None,
              "n": (a_n, b_n), "separated": None}
    if difference is None:
        return result
    if pooled is not None and pooled[0] is not None:
        se, df = pooled[0] * math.sqrt(1 / a_n + 1 / b_n), pooled[1]
    elif a_std is not None and b_std is not None:
        va, vb = a_std ** 2 / a_n, b_std ** 2 / b_n
        se = math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (a_n - 1) + vb ** 2 / (b_n - 1)) if se else None
    else:
        return result
    if not se:  # no spread at all: any difference separates
        return {**result, "se": 0.0, "separated": difference != 0}
    from scipy import stats  # scikit-learn's dependency

    t = float(stats.t.ppf(0.975, df))
    return {**result, "se": se, "df": df, "t": t, "threshold": t * se, "separated": abs(difference) > t * se}


# (variant, the paper's claim, what the paper found, errors compared): each against zf.
CLAIMS = (
    ("remove_fc6_fc7", "Removing fc6-7 costs little", "a small increase in error", ("val_top1_error",)),
    ("remove_conv3_conv4", "Removing conv3-4 costs little", "a small increase in error", ("val_top1_error",)),
    ("remove_conv3_conv4_fc6_fc7", "Removing conv3-4 and fc6-7 together is dramatically worse",
     "a far larger error", ("val_top1_error",)),
    ("conv345_512_1024_512", "Widening conv3-5 helps a little", "a slightly lower error", ("val_top1_error",)),
    ("fc_8192", "Widening fc6-7 does not help (over-fits)",
     "no lower validation error, a lower training error", ("val_top1_error", "train_top1_error")),
)
_ERROR_NAMES = {"train_top1_error": "train top-1", "val_top1_error": "val top-1", "val_top5_error": "val top-5"}


def claim_lines(rows):
    """One line per paper claim: each compared error's difference to zf,
    its standard error and whether it exceeds the seed spread (`separation`)."""
    by_variant = {r["variant"]: r for r in rows}
    spreads = {key: pooled_spread(r[f"{key}_values"] for r in rows) for key in _ERROR_NAMES}
    lines = []
    for variant, claim, paper, errors in CLAIMS:
        head = f"{claim} (paper: {paper}; {variant} vs zf): "
        if variant not in by_variant or "zf" not in by_variant:
            lines.append(head + "not yet trained.")
            continue
        parts = []
        for key in errors:
            test = separation(by_variant[variant][f"{key}_values"], by_variant["zf"][f"{key}_values"],
                              pooled=spreads[key])
            if test["difference"] is None:
                parts.append(f"{_ERROR_NAMES[key]} not measured")
                continue
            text = f"{_ERROR_NAMES[key]} error {test['difference']:+.2f} points"
            n = f"n = {test['n'][0]} and {test['n'][1]} seeds"
            if test["separated"] is None:
                text += f" ({n}; no variant has 2 seeds yet: not judged)"
            else:
                verdict = ("exceeds the seed spread: " + ("higher" if test["difference"] > 0 else "lower")
                           if test["separated"] else "within the seed spread")
                text += f" ({threshold_text(test)}, {n}): {verdict}"
            parts.append(text)
        lines.append(head + "; ".join(parts) + ".")
    return lines


def threshold_text(test, number="{:.2f}", df="{:.3g}"):
    """``SE 0.11, needs > 0.27 = t(97.5%, 4 df) x SE`` for a judged
    `separation`, or ``no seed spread`` when its SE is 0.

    Args:
        test: a `separation` result with ``separated`` not None.
        number, df: formats of SE and the threshold, and of the degrees of freedom.
    """
    if not test["se"]:
        return "no seed spread"
    return (f"SE {number.format(test['se'])}, needs > {number.format(test['threshold'])} = "
            f"t(97.5%, {df.format(test['df'])} df) x SE")


CLAIM_RULE = ("Paper claims against zf: a difference exceeds the seed spread when |mean difference| > t SE "
              "(a two-sided t-test at 5%), SE = s sqrt(1/n1 + 1/n2) with s the sample standard deviation over "
              "the seeds pooled over all variants (one family, recipe and budget: one seed noise), t the 97.5% "
              "quantile of Student's t with the pooled degrees of freedom sum(n_i - 1).")

HEADER = ["variant", "train_top1_error_pct", "train_top1_error_std", "val_top1_error_pct", "val_top1_error_std",
          "val_top5_error_pct", "val_top5_error_std", "seeds", "seed_list", "epochs", "train_examples",
          "test_examples", "train_seconds", "cpu", "model", "dataset",
          "paper_train_top1", "paper_val_top1", "paper_val_top5"]
SHOWN = ["Error %", "Train Top-1", "Val Top-1", "Val Top-5", "seeds", "training time / run",
         "paper (row: train / val top-1 / val top-5)"]


def _pct(value, std=None):
    # two decimals, not the paper's one: at 28 px the errors are near 8% and
    # the variants' differences and seed spreads are tenths of a point
    if value is None:
        return "—"
    return f"{value:.2f}" if std is None else f"{value:.2f} ± {std:.2f}"


def _num(value):
    return "" if value is None else round(float(value), 2)


def _duration(seconds):
    if seconds is None:
        return "—"
    minutes = seconds / 60
    return f"{seconds:.0f} s" if minutes < 1 else f"{minutes:.1f} min"


def write_table2(rows, out_dir, root, command=""):
    """Writes ``table2_ablations.csv/.md`` into ``out_dir``.

    Args:
        rows: `summarize` rows (per variant, over its seeds).

    Returns:
        ``(files, shown_rows, notes)``.
    """
    from zfkeras.analysis.output import machine

    csv_rows, shown = [], []
    for r in rows:
        paper = PAPER_TABLE2[r["variant"]]
        c = r["config"]
        csv_rows.append([r["variant"], _num(r["train_top1_error"]), _num(r["train_top1_error_std"]),
                         _num(r["val_top1_error"]), _num(r["val_top1_error_std"]),
                         _num(r["val_top5_error"]), _num(r["val_top5_error_std"]), r["n"],
                         " ".join(str(s) for s in r["seeds"]), r["epochs"], r["train_examples"],
                         r["test_examples"], _num(r["seconds"]), "; ".join(r["cpus"]), c.get("model"),
                         c.get("dataset"), *paper[1:]])
        shown.append([r["variant"], *(_pct(r[k], r[f"{k}_std"]) for k in ERRORS), r["n"],
                      _duration(r["seconds"]), f"{paper[0]}: {paper[1]} / {paper[2]} / {paper[3]}"])
    c = rows[0]["config"]
    seeds = sorted({s for r in rows for s in r["seeds"] if isinstance(s, int)})
    seeded = any(r["n"] > 1 for r in rows)
    cpus = sorted({cpu for r in rows for cpu in r["cpus"]})
    notes = [
        f"Model family {c.get('model')} on {c.get('dataset')}; every variant trained from scratch with one recipe: "
        f"{c.get('epochs')} epochs, batch {c.get('batch_size')}, {_recipe_words(rows[0])}, "
        f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}, {rows[0]['train_examples']} "
        f"training examples ({'all' if not c.get('max_train_examples') else 'capped by max_train_examples'}).",
        "Widths relative to the builder's defaults (zfkeras.models.ablations): on zfnet_small fc 2048/8192 -> "
        "256/1024 units, conv3-5 512/1024/512 -> 171/341/128 maps.",
        "Train top-1: last epoch's running training accuracy (dropout on). Val: the run's test split "
        f"({rows[0]['test_examples']} images never trained or annealed on). Variant runs in {root} "
        "(<variant>/ at the base run's seed, <variant>-seedN/ at seed N).",
    ]
    if seeded:
        notes.append("Each error: mean ± sample standard deviation (n - 1) over the variant's seeds; "
                     "'seeds' is n (a single value where n = 1).")
    if len({_budget(r) for r in rows}) > 1:
        notes.append("Budgets differ between variants (epochs, training examples): "
                     + ", ".join(f"{r['variant']} {_budget(r)}" for r in rows) + ".")
    notes.append(
        "Training time / run: the mean over the variant's seeds of its median epoch's wall time x its epochs "
        "(metrics.json epoch_seconds; evaluation excluded; the median so that an epoch stretched by a "
        "paused process does not count), trained on "
        + ("; ".join(cpus) if cpus else "a CPU not recorded") + f". Table written on {machine.cpu_model()}.")
    left_out = [f for r in rows for f in r["left_out"]]
    if left_out:
        notes.append("Left out (another budget than the variant's other seeds): " + ", ".join(left_out) + ".")
    if seeded:
        notes.append(CLAIM_RULE)
        notes += claim_lines(rows)
    notes.append("Paper: ImageNet 2012, 70 epochs (orientation only)." + (f" Command: `{command}`" if command else ""))
    files = tables.write_table(out_dir, STEM, HEADER, csv_rows, SHOWN, shown, "Table 2: ablations", notes)
    return files, shown, notes


def report_section(run, out_dir, verbose="auto"):
    """Table 2 when ``RUN_DIR/ablations/`` holds finished variants (all their seeds)."""
    root = run.ablations_dir
    rows = collect(root) if root.is_dir() else []
    if not rows:
        raise SectionUnavailable(
            f"no finished ablation run in {root}; train the Table 2 variants with `zfkeras ablate {run.path}` "
            "(8 runs with this run's recipe; see --variants, --seeds and --epochs), then rerun the report"
        )
    command = f"zfkeras ablate {run.path}"
    seeds = sorted({s for r in rows for s in r["seeds"] if isinstance(s, int)})
    if len(seeds) > 1:
        command += " --seeds " + " ".join(map(str, seeds))
    files, shown, notes = write_table2(rows, str(out_dir), root, command)
    missing = [v for v in ABLATIONS if v not in {r["variant"] for r in rows}]
    claims = claim_lines(rows) if any(r["n"] > 1 for r in rows) else []
    caption = (
        "Paper Table 2: error rates of architecture variants, each trained from scratch. "
        f"Base run: {figures.run_description(run)}. "
        + " ".join(html.escape(_sentence(n.replace("`", ""))) for n in notes if n not in claims)
        + (f" Not yet trained: {html.escape(', '.join(missing))}." if missing else "")
    )
    body = figures.html_table(SHOWN, shown)
    if claims:
        body += "<p>Paper claims, each against zf:</p><ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in claims) + "</ul>"
    body += f'<p><a href="{STEM}.csv">{STEM}.csv</a> · <a href="{STEM}.md">{STEM}.md</a></p>'
    return Section("table2", "Table 2: ablations", caption, body, files)


def print_table(out_dir):
    """Prints the Markdown table written by `write_table2`."""
    print(open(os.path.join(out_dir, f"{STEM}.md")).read())
