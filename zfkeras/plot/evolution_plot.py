"""Feature evolution during training (the paper's Fig. 4).

From the records of the trainer's `FeatureEvolution` callback
(`zfkeras.runs.RunFolder.evolution`): per followed layer a block whose
rows are feature maps and whose columns are the recorded epochs; each panel
is the deconvnet projection of the map's strongest activation over the
trainer's fixed sample of images, shown by `projection_to_image`.
"""

import numpy as np

from zfkeras.plot import canvas, layout
from zfkeras.utils.display import projection_to_image
from zfkeras.utils.errors import InputError


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
        InputError: no records, a record lacks projections or its channels change.
    """
    if not isinstance(evolution, dict) or not evolution:
        raise InputError(f"evolution must be a non-empty dict layer -> records, got {evolution!r:.80}")
    epochs = sorted({int(r["epoch"]) for records in evolution.values() for r in records})
    grids = {}
    for layer, records in evolution.items():
        if not records:
            continue
        channels = np.asarray(records[0]["channels"]).astype(int)
        first = np.asarray(records[0]["projections"])
        if first.ndim != 4 or first.shape[0] != len(channels):
            raise InputError(f"evolution record of {layer!r} has projections of shape {first.shape}, "
                             f"expected ({len(channels)}, H, W, C)")
        panels = np.full((len(channels), len(epochs)) + first.shape[1:3] + (3,), np.nan, np.float32)
        rows = []
        for record in records:
            if not np.array_equal(np.asarray(record["channels"]).astype(int), channels):
                raise InputError(f"evolution of {layer!r} follows different maps at epoch {record['epoch']}")
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
        raise InputError("evolution holds no records")
    return epochs, grids


def evolution(evolution, *, ax=None):
    """Draws the Fig. 4 grid: one block per layer, side by side.

    Args:
        evolution: the trainer's records, dict layer -> list of records
            (`zfkeras.runs.RunFolder.evolution`; see `evolution_grid`).
        ax: a sequence of one axes per layer to draw into, or None.

    Returns:
        the `matplotlib.figure.Figure`.
    """
    epochs, grids = evolution_grid(evolution)
    layers = list(grids)
    if ax is None:
        maps = max(len(g["channels"]) for g in grids.values())
        width = (0.6 * len(epochs) + 1.0) * len(layers)
        figure, axes = canvas.new_figure((width, 0.6 * maps + 1.2), 1, len(layers))
        axes = axes[0]
    else:
        axes = np.asarray(ax, dtype=object).reshape(-1)
        if axes.size != len(layers):
            raise InputError(f"ax must hold one axes per layer ({len(layers)}), got {axes.size}")
        figure = axes[0].figure
    for a, layer in zip(axes, layers):
        grid = grids[layer]
        m, e, h, w, _ = grid["panels"].shape
        image = layout.montage(grid["panels"].reshape((m * e, h, w, 3)), columns=e, gap=1, fill=1.0)
        a.imshow(image, interpolation="nearest")
        a.set_title(layer)
        a.set_xticks([(w + 1) * k + w / 2 for k in range(e)])
        a.set_xticklabels([str(x) for x in epochs], fontsize=7)
        a.set_yticks([(h + 1) * k + h / 2 for k in range(m)])
        a.set_yticklabels([f"map {c}" for c in grid["channels"]], fontsize=7)
        a.set_xlabel("epoch", fontsize=8)
        a.tick_params(length=0)
        for spine in a.spines.values():
            spine.set_visible(False)
    figure.tight_layout()
    return figure
