"""Fig. 6 of the paper, with numbers: architecture selection.

The paper compares layer-1 filters and layer-2 projections of its 7x7/2
first layer against the 11x11/4 baseline, and of training with against
without feature-scale clipping. At Fashion-MNIST's 28 pixels the small
models stand in: zfnet_small's 5x5/1 first layer (the "ZF" choice: small
kernel, small stride) against a 9x9/2 first layer (the "baseline": kernel
scaled by 11/7 and a larger stride, the rest unchanged), and zfnet_small
with against without clipping. All three are trained by the same code
(`zfkeras.train.runner.run`) with the same short budget on the same data,
into ``report/fig6_runs/<variant>/`` (reused on a rerun).
"""

import dataclasses
import shutil

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.protocol import filter_measures as fm
from zfkeras.analysis.report.section import Section, SectionUnavailable
from zfkeras.runs import layout
from zfkeras.utils.display import projection_to_image, to_rgb
from zfkeras.runs.folder import RunFolder
from zfkeras.methods.unit import Unit

# The base run's recipe and test split; the variants it trains are report
# output (fig6_runs/), not inputs.
INPUTS = (layout.CONFIG, layout.SPLITS)
BASELINE_CONV1 = (9, 2, 4)  # (kernel, stride, padding): the paper's 11x11/4 scaled to 28 px
FIGURE = "fig6_architecture.png"
NUMBERS = "fig6_architecture.csv"
RUNS = "fig6_runs"


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
                                                    "label_smoothing", "momentum", "dropout")},
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


def report_section(run, out_dir, verbose="auto", *, train_examples=8192, epochs=1, validation_size=1000,
                   sample=1000, projections=16, baseline_conv1=BASELINE_CONV1):
    """The Fig. 6 section (see `zfkeras.analysis.report.section`).

    Args:
        train_examples, epochs, validation_size: the budget every variant is trained with.
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
        "Reproduces the paper's <b>Fig. 6</b> (architecture selection: (b, c) layer-1 filters of the 11x11/4 "
        "baseline vs the 7x7/2 model, (d, e) their layer-2 features; clipping) with numbers beside the "
        f"pictures. At 28 px the small models stand in: conv1 5x5 stride 1 (zfnet_small, the small-kernel, "
        f"small-stride choice) vs conv1 {kernel}x{kernel} stride {stride} (the baseline: kernel scaled by 11/7, "
        "larger stride; every other layer identical), and zfnet_small with vs without feature-scale clipping "
        "(filter RMS 0.1). All three trained by <code>zfkeras.train.runner.run</code> (the code of "
        f"<code>zfkeras train</code>) with the same budget: {train_examples} Fashion-MNIST training "
        f"images, {epochs} epoch, seed {run.config.get('seed', 0)}, the run's recipe otherwise "
        f"(folders in <code>{RUNS}/</code>); far shorter than the main run, so compare them with each other. "
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
        f"fixed 1/4 cycles/pixel, comparable across strides. Numbers: <a href=\"{NUMBERS}\">{NUMBERS}</a>. "
        f"{machine.measured_on()}"
    )
    body = figures.img_html(FIGURE, "Fig. 6: conv1 filters and conv2 projections per variant") + table
    return Section("fig6", "Fig. 6: architecture selection, with numbers", caption, body,
                   [FIGURE, NUMBERS])
