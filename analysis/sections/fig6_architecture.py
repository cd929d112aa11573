"""Fig. 6 of the paper, with numbers: architecture selection.

The paper compares layer-1 filters and layer-2 projections of its 7x7/2
first layer against the 11x11/4 baseline, and of training with against
without feature-scale clipping. At Fashion-MNIST's 28 pixels the small
models stand in: zfnet_small's 5x5/1 first layer (the "ZF" choice: small
kernel, small stride) against a 9x9/2 first layer (the "baseline": kernel
scaled by 11/7 and a larger stride, the rest unchanged), and zfnet_small
with against without clipping. All three are trained by the same code
(`zfkeras.train.runner.run`) with the same short budget on the same data,
into ``report/fig6_runs/<variant>/`` (reused on a rerun): the quick arms,
one epoch each by default.

Converged arms: ``zfkeras ablate RUN_DIR --fig6 --seeds 0 1`` trains the
three at the main run's recipe, epochs and training set, per seed, into
``<ablation folder>/fig6/<arm>/`` (``<arm>-seedN/`` at a seed N other than
the run's; `converged_arm_configs`). The ZF arm is Table 2's ``zf`` run
(``<ablation folder>/zf/``, ``zf-seedN/``) when that is the same run. When
the three arms have finished runs (`converged_runs`) the report shows them,
every number as mean ± sample std over the seeds, instead of training the
quick arms.
"""

import dataclasses
import html
import pathlib
import shutil

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.protocol import filter_measures as fm
from zfkeras.analysis.report.section import Section, SectionUnavailable
from zfkeras.runs import layout
from zfkeras.utils.display import projection_to_image, to_rgb
from zfkeras.runs.folder import RunFolder
from zfkeras.methods.unit import Unit

# The base run's recipe and test split, and the converged arms zfkeras ablate
# --fig6 trains under ablations/; the quick variants it trains are report
# output (fig6_runs/), not inputs.
INPUTS = (layout.CONFIG, layout.SPLITS, layout.ABLATIONS)
BASELINE_CONV1 = (9, 2, 4)  # (kernel, stride, padding): the paper's 11x11/4 scaled to 28 px
FIGURE = "fig6_architecture.png"
NUMBERS = "fig6_architecture.csv"
RUNS = "fig6_runs"
ARMS = "fig6"  # the converged arms, inside the ablation folder
SEEDED = "fig6_seeded"  # mean ± std over the converged arms' seeds (.csv, .md)
CLIP = 0.1  # the clipped arms' filter RMS


@dataclasses.dataclass(frozen=True)
class Variant:
    """One model of the comparison."""

    key: str
    label: str
    conv1: tuple  # (kernel, stride, padding) of the first layer
    clip: bool


def variants(baseline_conv1=BASELINE_CONV1):
    """The three trained variants: ZF (clipped), baseline (clipped), ZF unclipped."""
    kernel, stride, pad = baseline_conv1
    return (
        Variant("zf_5x5s1", "ZF-small: conv1 5x5/1, clipping", (5, 1, 2), True),
        Variant(f"baseline_{kernel}x{kernel}s{stride}", f"baseline: conv1 {kernel}x{kernel}/{stride}, clipping",
                (kernel, stride, pad), True),
        Variant("zf_5x5s1_noclip", "ZF-small: conv1 5x5/1, no clipping", (5, 1, 2), False),
    )


def train_variant(run, variant, out_dir, *, train_examples, epochs, validation_size, verbose="auto"):
    """Trains (or reuses) one variant with `runner.run` on that budget; returns its folder."""
    from zfkeras.train import runner
    from zfkeras.train.config import TrainConfig, completed

    base = completed(run.config)  # a run from before recipes keeps the paper's
    folder = out_dir / RUNS / variant.key
    config = TrainConfig.from_dict({
        **{k: v for k, v in base.items() if k in ("dataset", "data_dir", "tfds_name", "manual_dir", "seed",
                                                    "batch_size", "recipe", "learning_rate", "warmup_epochs",
                                                    "label_smoothing", "momentum", "nesterov", "weight_decay",
                                                    "dropout")},
        "model": "zfnet_small", "ablation": "zf", "devices": 0,
        "max_train_examples": train_examples, "epochs": epochs,
        "validation_size": validation_size, "evolution_sample": 8, "evolution_maps": 1,
        "evolution_epochs": [epochs], "filter_rms_clip": 0.1 if variant.clip else 0.0,
        "run_dir": str(folder),
        # zfnet_small pads conv1 by kernel // 2, as the variants' third number says
        "conv1": [] if variant.conv1 == (5, 1, 2) else list(variant.conv1[:2]),
    })
    if verbose:
        print(f"[report] fig6: training {variant.label} ({train_examples} images, "
              f"{epochs} epoch) into {folder}", flush=True)
    runner.run(config, verbose=2 if verbose else 0, ten_crop=False)  # single-crop accuracy is compared
    # A finished run needs no checkpoints (a rerun sees metrics.json and
    # stops); dropping them keeps the report folder small enough to share.
    finished = RunFolder(folder)
    if finished.is_complete:
        shutil.rmtree(finished.layout.checkpoints, ignore_errors=True)
    return folder


def check_converged_base(config):
    """Refuses a base run the converged comparison is not defined for.

    Raises:
        InputError: not zfnet_small on Fashion-MNIST.
    """
    from zfkeras.utils.errors import InputError

    if config.model != "zfnet_small" or config.dataset != "fashion_mnist":
        raise InputError(f"Fig. 6's arms compare zfnet_small's conv1 on 28-pixel Fashion-MNIST; the run trains "
                         f"{config.model!r} on {config.dataset!r}")


def _arm_conv1(variant):
    return () if variant.conv1 == (5, 1, 2) else tuple(variant.conv1[:2])


def _zf_arm(variant):
    return _arm_conv1(variant) == () and variant.clip


def converged_arm_configs(base, root, seeds=None, baseline_conv1=BASELINE_CONV1, **overrides):
    """The three arms at the base run's budget, per seed (seed-major).

    Each arm is Table 2's ``zf`` configuration (`table2_ablations.seeded_configs`:
    the base run's data, recipe and epochs, ``overrides`` applied) with
    only conv1 and the clipping changed, in ``root/fig6/<arm>/`` or
    ``<arm>-seedN/``. The ZF arm is Table 2's own ``zf`` run folder when
    that folder is empty or holds this same configuration (trained once
    for both).

    Args:
        base: the base run's `zfkeras.train.config.TrainConfig` (zfnet_small,
            Fashion-MNIST).
        root: the ablation folder.
        seeds: as `seeded_configs` (default: the base run's seed).
        **overrides: TrainConfig fields for every arm (``epochs``, ...).

    Returns:
        dict ``(arm key, seed)`` -> validated TrainConfig.
    """
    from zfkeras.analysis.sections import table2_ablations as t2
    from zfkeras.train.config import config_differences, read_json

    check_converged_base(base)
    root = pathlib.Path(root)
    configs = {}
    for (_, seed), zf in t2.seeded_configs(base, root, ["zf"], seeds, **overrides).items():
        for variant in variants(tuple(baseline_conv1)):
            folder = root / ARMS / t2.run_folder_name(variant.key, seed, base.seed)
            arm = dataclasses.replace(zf, conv1=_arm_conv1(variant), filter_rms_clip=CLIP if variant.clip else 0.0,
                                      run_dir=str(folder)).validate()
            if _zf_arm(variant) and {**arm.to_dict(), "run_dir": None} == {**zf.to_dict(), "run_dir": None}:
                saved = layout.RunLayout(zf.run_dir).config
                try:
                    same = not saved.is_file() or not config_differences(read_json(saved), zf.to_dict())
                except (OSError, ValueError):
                    same = False  # unreadable: the runner reports it where Table 2 trains zf
                if same:
                    arm = zf  # Table 2's zf run is this arm: trained once for both
            configs[(variant.key, seed)] = arm
    return configs


# Fields that do not change what an arm is trained on: the run's place, its
# seed, the two compared settings and the evolution record.
_NOT_BUDGET = ("run_dir", "seed", "conv1", "filter_rms_clip", "evolution_sample", "evolution_maps",
               "evolution_epochs")


def _budget_key(config):
    import json

    from zfkeras.train.config import RESUMABLE_DIFFERENCES, completed

    full = completed(config)
    return json.dumps({k: v for k, v in full.items() if k not in _NOT_BUDGET + RESUMABLE_DIFFERENCES},
                      sort_keys=True, default=str)


def _arm_of(name, keys):
    """The arm key of a folder name ``<arm>`` or ``<arm>-seedN``, else None."""
    from zfkeras.analysis.sections import table2_ablations as t2

    if name in keys:
        return name
    key, sep, seed = name.rpartition(t2.SEED_SUFFIX)
    return key if sep and key in keys and seed.isdigit() else None


def converged_runs(root, baseline_conv1=BASELINE_CONV1):
    """The finished converged arms under the ablation folder ``root``.

    Reads ``root/fig6/<arm>[-seedN]/`` and, for the ZF arm, Table 2's
    ``root/zf[-seedN]/`` runs that are that arm (zfnet_small, default
    conv1, clipping 0.1). Only runs of one budget are compared: of the
    budgets (the configuration but for seed, conv1, clipping and the
    evolution record) for which all three arms have finished runs, the one
    with the most epochs, then the most runs.

    Returns:
        dict arm key -> list of `RunFolder` (by seed), the three arms in
        `variants` order; None when no budget has all three.
    """
    root = pathlib.Path(root)
    keys = [v.key for v in variants(tuple(baseline_conv1))]
    found = []  # (arm key, RunFolder)
    if (root / ARMS).is_dir():
        for folder in sorted((root / ARMS).iterdir()):
            key = _arm_of(folder.name, keys)
            if key is not None and RunFolder(folder).is_complete:
                found.append((key, RunFolder(folder)))
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if _arm_of(folder.name, ["zf"]) is None or not RunFolder(folder).is_complete:
                continue
            c = RunFolder(folder).config
            if (c.get("model"), c.get("ablation", "zf"), list(c.get("conv1") or []), c.get("filter_rms_clip")) == \
                    ("zfnet_small", "zf", [], CLIP):
                found.append((keys[0], RunFolder(folder)))
    groups = {}
    for key, folder in found:
        groups.setdefault(_budget_key(folder.config), []).append((key, folder))
    complete = [g for g in groups.values() if {k for k, _ in g} == set(keys)]
    if not complete:
        return None

    def size(group):
        return int(group[0][1].config.get("epochs") or 0), len(group)

    chosen = max(complete, key=size)
    return {key: sorted((f for k, f in chosen if k == key), key=lambda f: f.config.get("seed", 0))
            for key in keys}


def measure(model, images, stride, count):
    """Filters, layer-2 projections and their numbers for one trained model.

    Returns:
        dict with ``kernel``, ``projections`` (count, H, W, C) and the
        numbers of `filter_measures` (see its definitions).
    """
    from zfkeras import Deconvnet
    from zfkeras.methods.top_activations import top_activations

    kernel = np.asarray(model.get_layer("conv1").kernel)
    deconv = Deconvnet(model, unpooling="max_pool_grad")
    top = top_activations(model, images, ["conv1", "conv2"], k=1, verbose=0)
    never_active = {l: int((np.asarray(top[l].values)[:, 0] <= 0).sum()) for l in ("conv1", "conv2")}
    strongest = np.argsort(-np.asarray(top["conv2"].values)[:, 0], kind="stable")[:count]
    ids = np.asarray(top["conv2"].image_ids)[strongest, 0]
    positions = np.asarray(top["conv2"].positions)[strongest, 0]
    projections = deconv.project(images[ids], Unit("conv2", strongest, positions))
    dead = fm.dead_filters(kernel)
    shares = fm.band_shares(kernel)[~dead] if (~dead).any() else np.zeros((1, 3))
    return {
        "kernel": kernel, "projections": projections, "maps": strongest,
        "filters": kernel.shape[-1], "dead_filters": int(dead.sum()),
        "conv1_never_active": never_active["conv1"], "conv2_never_active": never_active["conv2"],
        "dominance": fm.dominance(kernel), "median_rms": float(np.median(fm.filter_rms(kernel))),
        "low": float(shares[:, 0].mean()), "mid": float(shares[:, 1].mean()), "high": float(shares[:, 2].mean()),
        "aliasing": float(np.mean([fm.aliasing(p, stride) for p in projections])),
        "high_frequency": float(np.mean([fm.high_frequency_share(p) for p in projections])),
    }


NUMBER_COLUMNS = [
    ("dead_filters", "dead conv1 filters"), ("conv1_never_active", "conv1 maps never active"),
    ("conv2_never_active", "conv2 maps never active"), ("dominance", "max/median filter RMS"),
    ("low", "energy low"), ("mid", "energy mid"), ("high", "energy high"),
    ("aliasing", "L2 aliasing"), ("high_frequency", "L2 energy > 1/4"), ("test_accuracy", "test accuracy"),
]


def plot_fig6(results, labels, path):
    """Two rows (conv1 filters, conv2 projections), one column per variant."""
    plt = figures.pyplot()
    # 4x8 filters above 4x4 projections: rows sized to their content.
    fig, axes = plt.subplots(2, len(results), figsize=(4.2 * len(results), 7.3), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 2]})
    for column, (result, label) in enumerate(zip(results, labels)):
        kernel = result["kernel"]
        filters = np.moveaxis(kernel, -1, 0)  # (out, kh, kw, in)
        if filters.shape[-1] not in (1, 3):
            filters = filters[..., :1]
        # One scale for the whole layer, so that magnitudes compare across filters.
        peak = float(np.abs(filters).max()) or 1.0
        panels = np.stack([to_rgb(0.5 + f / (2 * peak)) for f in filters])
        axes[0, column].imshow(figures.montage(panels, columns=8, gap=1), interpolation="nearest")
        axes[0, column].set_title(f"{label}\nconv1 filters (one scale per layer)", fontsize=9)
        panels = np.stack([projection_to_image(p) for p in result["projections"]])
        axes[1, column].imshow(figures.montage(panels, columns=4, gap=1), interpolation="nearest")
        axes[1, column].set_title("conv2: strongest activations projected", fontsize=9)
        for ax in axes[:, column]:
            ax.axis("off")
    fig.tight_layout()
    figures.save_png(fig, path, dpi=110)


def measure_runs(folders, variant, raw, projections):
    """`measure` for each trained run of one arm, with its test accuracy,
    seed and folder."""
    results = []
    for folder in folders:
        trained = folder if isinstance(folder, RunFolder) else RunFolder(folder)
        result = measure(trained.load_model(), trained.preprocess(raw), variant.conv1[1], projections)
        result["test_accuracy"] = float(trained.metrics["test_accuracy"])
        result["seed"] = trained.config.get("seed")
        result["epochs"] = trained.metrics.get("epochs")
        result["train_examples"] = trained.metrics.get("train_examples")
        result["folder"] = str(trained.path)
        results.append(result)
    return results


_COUNTS = {"dead_filters", "conv1_never_active", "conv2_never_active"}


def _mean_std_text(values, key=None):
    """``mean ± std`` in the number's own form: counts as they are, test
    accuracy in percent with two decimals (seeds differ by tenths of a
    point), ratios and shares with three decimals."""
    from zfkeras.analysis.sections import table2_ablations as t2

    mean, std, _ = t2.mean_std(values)
    if mean is None:
        return "—"
    if key == "test_accuracy":
        mean, std, form = 100 * mean, None if std is None else 100 * std, "{:.2f}%"
    elif key in _COUNTS:
        form = "{:.3g}"
    else:
        form = "{:.3f}"
    return form.format(mean) if std is None else f"{form.format(mean)} ± {form.format(std)}"


# (number, arm compared with the ZF arm, what the paper shows)
COMPARISONS = (
    ("aliasing", 1, "the coarse first layer's layer-2 features alias"),
    ("high_frequency", 1, "the coarse first layer's layer-2 features alias"),
    ("dominance", 2, "without clipping a few filters dominate"),
)


def comparison_lines(arm_variants, results):
    """The paper's two comparisons on the numbers: each arm's mean against
    the ZF arm's, and whether the difference exceeds the seed spread
    (`table2_ablations.separation`)."""
    from zfkeras.analysis.sections import table2_ablations as t2

    zf = arm_variants[0]
    lines = []
    for key, other, paper in COMPARISONS:
        variant = arm_variants[other]
        test = t2.separation([r[key] for r in results[variant.key]], [r[key] for r in results[zf.key]])
        title = dict(NUMBER_COLUMNS)[key]
        text = f"{title}, {variant.key} - {zf.key} (paper: {paper}): {test['difference']:+.3g}"
        n = f"n = {test['n'][0]} and {test['n'][1]} seeds"
        if test["separated"] is None:
            text += f" ({n}; needs at least 2 seeds of both to judge)"
        else:
            rule = t2.threshold_text(test, number="{:.2g}", df="{:.2g}")
            text += f" ({rule}, {n}): " + ("exceeds the seed spread" if test["separated"]
                                           else "within the seed spread")
        lines.append(text + ".")
    return lines


def write_seeded(out_dir, arm_variants, results, notes=()):
    """``fig6_seeded.csv/.md``: per arm, every number's mean and sample std
    over its seeds, n and the seeds.

    Returns:
        ``(files, md_header, shown_rows)``: the file names, the formatted header and rows.
    """
    from zfkeras.analysis.sections import table2_ablations as t2

    header = ["variant", "description", "seeds", "seed_list"]
    for key, _ in NUMBER_COLUMNS:
        header += [f"{key}_mean", f"{key}_std"]
    rows, shown = [], []
    for variant in arm_variants:
        mine = results[variant.key]
        row = [variant.key, variant.label, len(mine), " ".join(str(r["seed"]) for r in mine)]
        for key, _ in NUMBER_COLUMNS:
            mean, std, _ = t2.mean_std([r[key] for r in mine])
            row += [mean, "" if std is None else std]
        rows.append(row)
        shown.append([variant.label, len(mine)] + [_mean_std_text([r[key] for r in mine], key) for key, _ in NUMBER_COLUMNS])
    md_header = ["model", "seeds"] + [t for _, t in NUMBER_COLUMNS]
    files = tables.write_table(str(out_dir), SEEDED, header, rows, md_header, shown,
                               "Fig. 6: converged arms, mean ± sample std over seeds", notes)
    return files, md_header, shown


def converged_numbers(run, arms, out_dir, *, sample=1000, projections=16, baseline_conv1=BASELINE_CONV1,
                      notes=()):
    """Measures every finished converged arm run and writes ``fig6_seeded``.

    Args:
        run: the base `RunFolder` (its test split is measured).
        arms: dict arm key -> run folders (`converged_runs`).

    Returns:
        ``(arm variants, results by arm key, files, md header, shown rows, comparison lines)``.
    """
    arm_variants = variants(tuple(baseline_conv1))
    raw, _ = run.load_split("test", max_examples=sample, seed=0)
    results = {v.key: measure_runs(arms[v.key], v, raw, projections) for v in arm_variants}
    lines = comparison_lines(arm_variants, results)
    files, md_header, shown = write_seeded(out_dir, arm_variants, results, [*notes, *lines])
    return arm_variants, results, files, md_header, shown, lines


def _definitions(sample, projections):
    return (
        "Top row: all conv1 filters, one grey scale per model (zero is grey). Bottom row: the "
        f"{projections} conv2 maps with the strongest activations over {sample} test "
        "images, each projected from its strongest activation, contrast-normalised per panel. "
        f"<b>Definitions.</b> Dead filter: RMS below {fm.DEAD_FRACTION:.0%} of the layer's median filter RMS. "
        "Maps never active: maps whose activation is never positive on the sample. Dominance: largest filter "
        f"RMS / median. Energy low/mid/high: each filter's power spectrum (FFT padded to {fm.FFT_SIZE}x"
        f"{fm.FFT_SIZE}, summed over input channels), share with radial frequency below 1/8, 1/8 to 1/4, above "
        "1/4 cycles/pixel, averaged over live filters. L2 aliasing: share of a conv2 projection's energy (mean "
        "removed) above the Nyquist frequency of the conv1 output grid, 1/(2 stride) cycles/pixel along y or x "
        "(0 by definition for stride 1), averaged over the projections; L2 energy &gt; 1/4: the same above a "
        "fixed 1/4 cycles/pixel, comparable across strides. "
    )


def _intro(kernel, stride):
    return (
        "Reproduces the paper's <b>Fig. 6</b> (architecture selection: (b, c) layer-1 filters of the 11x11/4 "
        "baseline vs the 7x7/2 model, (d, e) their layer-2 features; clipping) with numbers beside the "
        f"pictures. At 28 px the small models stand in: conv1 5x5 stride 1 (zfnet_small, the small-kernel, "
        f"small-stride choice) vs conv1 {kernel}x{kernel} stride {stride} (the baseline: kernel scaled by 11/7, "
        "larger stride; every other layer identical), and zfnet_small with vs without feature-scale clipping "
        "(filter RMS 0.1). "
    )


def _converged_section(run, out_dir, arms, sample, projections, baseline_conv1):
    arm_variants, results, seeded_files, md_header, shown, lines = converged_numbers(
        run, arms, out_dir, sample=sample, projections=projections, baseline_conv1=baseline_conv1)
    header = ["variant", "description", "conv1_kernel", "conv1_stride", "clipping", "seed", "epochs",
              "train_examples", "folder"] + [k for k, _ in NUMBER_COLUMNS]
    rows = [[v.key, v.label, v.conv1[0], v.conv1[1], v.clip, r["seed"], r["epochs"], r["train_examples"],
             r["folder"]] + [r[k] for k, _ in NUMBER_COLUMNS] for v in arm_variants for r in results[v.key]]
    tables.write_csv(out_dir / NUMBERS, header, rows)
    firsts = [results[v.key][0] for v in arm_variants]
    plot_fig6(firsts, [f"{v.label} (seed {r['seed']})" for v, r in zip(arm_variants, firsts)], out_dir / FIGURE)
    config = arms[arm_variants[0].key][0].config
    seeds = sorted({r["seed"] for v in arm_variants for r in results[v.key]}, key=str)
    kernel, stride, _ = baseline_conv1
    caption = (
        _intro(kernel, stride)
        + "<b>Shown: the converged arms</b>, trained by <code>zfkeras ablate RUN_DIR --fig6</code> (the code of "
        f"<code>zfkeras train</code>) with the main run's recipe and budget: {firsts[0]['train_examples']} "
        f"training images, {config.get('epochs')} epochs, seeds {', '.join(map(str, seeds))}; the ZF arm "
        "is Table 2's zf run where it is the same run. Every number is the mean ± sample standard deviation "
        "(n - 1) over the arm's seeds (a single value where an arm has one); the pictures are each arm's "
        f"seed {firsts[0]['seed']}. " + " ".join(html.escape(line) for line in lines) + " "
        + _definitions(sample, projections)
        + f"Per run: <a href=\"{NUMBERS}\">{NUMBERS}</a>; over seeds: <a href=\"{SEEDED}.csv\">{SEEDED}.csv</a>. "
        + machine.measured_on()
    )
    body = figures.img_html(FIGURE, "Fig. 6: conv1 filters and conv2 projections per variant") + \
        figures.html_table(md_header, shown)
    return Section("fig6", "Fig. 6: architecture selection, with numbers", caption, body,
                   [FIGURE, NUMBERS, *seeded_files])


def report_section(run, out_dir, verbose="auto", *, train_examples=8192, epochs=1, validation_size=1000,
                   sample=1000, projections=16, baseline_conv1=BASELINE_CONV1):
    """The Fig. 6 section (see `zfkeras.analysis.report.section`).

    Shows the converged arms of ``zfkeras ablate RUN_DIR --fig6`` when all
    three have finished runs (`converged_runs`), else trains and shows the
    quick arms.

    Args:
        train_examples, epochs, validation_size: the budget every quick arm is trained with.
        sample: test images the numbers are measured on.
        projections: conv2 maps projected per variant.
        baseline_conv1: (kernel, stride, padding) of the baseline's conv1.
    """
    if (run.config or {}).get("dataset") != "fashion_mnist" or tuple(run.input_shape)[:2] != (28, 28):
        raise SectionUnavailable("Fig. 6's scaled comparison is defined for 28-pixel Fashion-MNIST runs; "
                                 f"this run uses {run.config.get('dataset')!r}")
    try:
        import zfkeras.methods.top_activations  # noqa: F401
    except ImportError as e:
        raise SectionUnavailable(f"top-k mining is not available ({e})") from None
    arms = converged_runs(run.ablations_dir, tuple(baseline_conv1))
    if arms:
        return _converged_section(run, out_dir, arms, sample, projections, tuple(baseline_conv1))
    raw, _ = run.load_split("test", max_examples=sample, seed=0)
    results, labels, rows = [], [], []
    for variant in variants(tuple(baseline_conv1)):
        folder = train_variant(run, variant, out_dir, train_examples=train_examples, epochs=epochs,
                               validation_size=validation_size, verbose=verbose)
        trained = RunFolder(folder)
        result = measure(trained.load_model(), trained.preprocess(raw), variant.conv1[1], projections)
        result["test_accuracy"] = float(trained.metrics["test_accuracy"])
        results.append(result)
        labels.append(variant.label)
        rows.append([variant.key, variant.label, variant.conv1[0], variant.conv1[1], variant.clip]
                    + [result[key] for key, _ in NUMBER_COLUMNS])
    header = ["variant", "description", "conv1_kernel", "conv1_stride", "clipping"] + [k for k, _ in NUMBER_COLUMNS]
    tables.write_csv(out_dir / NUMBERS, header, rows)
    plot_fig6(results, labels, out_dir / FIGURE)
    table = figures.html_table(["model"] + [t for _, t in NUMBER_COLUMNS],
                               [[label] + [r[k] for k, _ in NUMBER_COLUMNS] for r, label in zip(results, labels)])
    kernel, stride, _ = baseline_conv1
    caption = (
        _intro(kernel, stride)
        + f"<b>Shown: the quick arms, {epochs} epoch{'s' if epochs != 1 else ''} each</b>: all three trained by "
        "<code>zfkeras.train.runner.run</code> (the code of "
        f"<code>zfkeras train</code>) with the same budget: {train_examples} Fashion-MNIST training "
        f"images, {epochs} epoch{'s' if epochs != 1 else ''}, seed {run.config.get('seed', 0)}, the run's "
        f"recipe otherwise (folders in <code>{RUNS}/</code>); far shorter than the main run, so compare them "
        "with each other. For the arms at the main run's budget with seeds, run "
        "<code>zfkeras ablate RUN_DIR --fig6 --seeds 0 1</code> and rerun the report. "
        + _definitions(sample, projections)
        + f"Numbers: <a href=\"{NUMBERS}\">{NUMBERS}</a>. {machine.measured_on()}"
    )
    body = figures.img_html(FIGURE, "Fig. 6: conv1 filters and conv2 projections per variant") + table
    return Section("fig6", "Fig. 6: architecture selection, with numbers", caption, body,
                   [FIGURE, NUMBERS])
