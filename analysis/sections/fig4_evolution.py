"""Fig. 4 of the paper: how features evolve during training.

Drawn from the run's ``evolution/*.npz`` files (written by the trainer's
`FeatureEvolution` callback; read through `RunFolder.evolution`): for each
followed layer a block whose rows are feature maps and whose columns are
the recorded epochs; each panel is the deconvnet projection of that map's
strongest activation over the trainer's fixed sample of training images.
"""

import html

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.report.section import Section, SectionUnavailable
from zfkeras.runs import layout
from zfkeras.utils.display import projection_to_image

# The trainer's evolution records; config.json for the caption (sample size, seed).
INPUTS = (layout.CONFIG, layout.EVOLUTION)
FIGURE = "fig4_evolution.png"
NUMBERS = "fig4_evolution.csv"


def evolution_grid(evolution):
    """Arranges evolution records as per-layer ``(maps, epochs)`` grids.

    Args:
        evolution: dict layer -> list of records (dicts with ``epoch``,
            ``projections`` (M, H, W, C), ``channels`` (M,), ``image_ids``
            (M,) and optionally ``positions`` (M, 2) and ``values`` (M,)).

    Returns:
        (epochs, grids): the sorted recorded epochs, and dict layer ->
        dict with ``channels`` (M,), ``panels`` (M, E, H, W, 3) in [0, 1]
        (NaN where an epoch was not recorded for that layer) and ``rows``
        (CSV rows: layer, channel, epoch, image_id, y, x, value).

    Raises:
        ValueError: a record lacks projections or its channels change.
    """
    if not isinstance(evolution, dict) or not evolution:
        raise ValueError(f"evolution must be a non-empty dict layer -> records, got {evolution!r:.80}")
    epochs = sorted({int(r["epoch"]) for records in evolution.values() for r in records})
    grids = {}
    for layer, records in evolution.items():
        if not records:
            continue
        channels = np.asarray(records[0]["channels"]).astype(int)
        first = np.asarray(records[0]["projections"])
        if first.ndim != 4 or first.shape[0] != len(channels):
            raise ValueError(f"evolution record of {layer!r} has projections of shape {first.shape}, "
                             f"expected ({len(channels)}, H, W, C)")
        panels = np.full((len(channels), len(epochs)) + first.shape[1:3] + (3,), np.nan, np.float32)
        rows = []
        for record in records:
            if not np.array_equal(np.asarray(record["channels"]).astype(int), channels):
                raise ValueError(f"evolution of {layer!r} follows different maps at epoch {record['epoch']}")
            column = epochs.index(int(record["epoch"]))
            for m, projection in enumerate(np.asarray(record["projections"])):
                panels[m, column] = projection_to_image(projection)
                position = record.get("positions")
                value = record.get("values")
                rows.append([
                    layer, int(channels[m]), int(record["epoch"]), int(np.asarray(record["image_ids"])[m]),
                    "" if position is None else int(np.asarray(position)[m][0]),
                    "" if position is None else int(np.asarray(position)[m][1]),
                    "" if value is None else float(np.asarray(value)[m]),
                ])
        grids[layer] = {"channels": channels, "panels": panels, "rows": rows}
    if not grids:
        raise ValueError("evolution holds no records")
    return epochs, grids


def plot_evolution(epochs, grids, path):
    """Draws the Fig. 4 grid (one block per layer, side by side) into `path`."""
    plt = figures.pyplot()
    layers = list(grids)
    maps = max(len(g["channels"]) for g in grids.values())
    width = (0.6 * len(epochs) + 1.0) * len(layers)
    fig, axes = plt.subplots(1, len(layers), figsize=(width, 0.6 * maps + 1.2), squeeze=False)
    for ax, layer in zip(axes[0], layers):
        grid = grids[layer]
        m, e, h, w, _ = grid["panels"].shape
        image = figures.montage(grid["panels"].reshape((m * e, h, w, 3)), columns=e, gap=1, fill=1.0)
        ax.imshow(image, interpolation="nearest")
        ax.set_title(layer)
        ax.set_xticks([(w + 1) * k + w / 2 for k in range(e)])
        ax.set_xticklabels([str(x) for x in epochs], fontsize=7)
        ax.set_yticks([(h + 1) * k + h / 2 for k in range(m)])
        ax.set_yticklabels([f"map {c}" for c in grid["channels"]], fontsize=7)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.tight_layout()
    figures.save_png(fig, path, dpi=110)


def report_section(run, out_dir, verbose="auto"):
    """The Fig. 4 section of the report (see `zfkeras.analysis.report.section`); no parameters."""
    try:
        evolution = run.evolution()
    except (ValueError, OSError) as e:
        raise SectionUnavailable(f"cannot read the run's evolution files: {e}") from None
    if not evolution or not any(evolution.values()):
        raise SectionUnavailable(
            f"run folder {run.path} has no evolution/*.npz files (the trainer writes them at the "
            "recorded epochs); train the run with 'zfkeras train' to record them"
        )
    try:
        epochs, grids = evolution_grid(evolution)
    except (ValueError, KeyError, TypeError) as e:
        raise SectionUnavailable(f"the run's evolution files cannot be drawn: {e}") from None
    plot_evolution(epochs, grids, out_dir / FIGURE)
    rows = [row for g in grids.values() for row in g["rows"]]
    tables.write_csv(out_dir / NUMBERS, ["layer", "channel", "epoch", "image_id", "y", "x", "activation"], rows)
    config = getattr(run, "config", {}) or {}
    sample = config.get("evolution_sample", "?")
    maps = max(len(g["channels"]) for g in grids.values())
    caption = (
        f"Reproduces the paper's <b>Fig. 4</b> (evolution of a randomly chosen subset of model features "
        f"through training). Each block is one layer ({', '.join(html.escape(l) for l in grids)}); its rows "
        f"are {maps} feature maps drawn at random once (seed {html.escape(str(config.get('seed', 0)))}) and "
        f"its columns the recorded epochs ({', '.join(map(str, epochs))}). Each panel is the deconvnet "
        f"projection to pixels of the map's strongest activation over a fixed sample of {sample} training "
        "images (the paper searches all training images), recorded by the trainer's FeatureEvolution "
        "callback at the end of that epoch. Panels are contrast-normalised one by one: "
        "0.5 + x / (2 max|x|), so zero is grey. "
        f"Model: {figures.run_description(run)}; made by <code>zfkeras train</code> (the evolution files) "
        f"and <code>zfkeras report</code> (this drawing). Image ids, positions and activations: "
        f"<a href=\"{NUMBERS}\">{NUMBERS}</a>. {machine.measured_on()}"
    )
    body = figures.img_html(FIGURE, "Fig. 4: feature evolution grid")
    return Section("fig4", "Fig. 4: feature evolution during training", caption, body, [FIGURE, NUMBERS])
