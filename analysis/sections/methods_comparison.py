"""Every registered explanation method side by side, and which is faithful.

The methods are those of the registry (`zfkeras.methods.registry`): a
method registered there appears in the figure (if it explains units) and in
the table with no edit here. Each runs through `zfkeras.explain`.

Figure: the Fig. 2 units (the same maps the Fig. 2 section draws: mined
over the same test images with the same seed, `fig2_top9.choose_maps`),
``units_per_layer`` per conv layer, each on its top image: the image patch
and the unit's explanation by every method that explains units
(``registered_methods(units=True)``: the deconvnet, guided backpropagation
and the gradient through the same engine, Grad-CAM and guided Grad-CAM at
the unit's own layer), cut to the unit's receptive field -- plus, for a few
test images, Grad-CAM of the predicted class.

Table, over ``table_images`` test images (mean and std across images):
deletion and insertion AUC (`zfkeras.faithfulness`, ``steps`` stages, fill
0 = the training mean after preprocessing) of the predicted class's map
(`Explanation.maps`) by every registered method, occlusion included
(methods with a ``layer`` option at the last conv layer), and the occlusion
drop (`zfkeras.measures.faithfulness.occlusion_drop`) of the top layer's
chosen units with each unit method's map of them, the square half the
layer's receptive field.
"""

import html

import numpy as np

from zfkeras.analysis.output import figures, machine, ranking, tables
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable
from zfkeras.analysis.sections import fig2_top9
from zfkeras.plot import explanation_image
from zfkeras.methods.registry import registered_methods
from zfkeras.methods.unit import Unit
from zfkeras.plot import canvas
from zfkeras.utils.display import to_rgb

INPUTS = TRAINED_MODEL
FIGURE = "methods_comparison.png"
NUMBERS = "methods_comparison.csv"
CSV_HEADER = ["method", "metric", "mean", "std", "images"]
# every score behind the table: one row per method, metric and image (and unit, for the occlusion drop)
SCORES = "methods_scores.csv"
SCORES_HEADER = ["method", "metric", "unit", "image", "score"]
# the methods ranked per metric, each neighbour pair's paired difference
RANKING = "methods_ranking.csv"
RANKING_HEADER = ["metric", "rank", "method", "mean", "images", "next method", "difference", "standard error",
                  "pairs", "separated"]
# metric -> whether higher is better
DIRECTIONS = {"deletion AUC": False, "insertion AUC": True, "occlusion drop": True}
# the figure's last row: this method's map of the predicted class on a few images
CLASS_ROW_METHOD = "grad_cam"


def unit_methods():
    """Names of the registered methods that explain units (the figure's columns)."""
    return tuple(m.name for m in registered_methods(units=True))


def class_methods():
    """Names of every registered method (the table's class rows)."""
    return tuple(m.name for m in registered_methods())


def columns():
    """The figure's columns: the patch, then each unit method."""
    return ("patch",) + unit_methods()


def cache_extra():
    """What the report's cache key adds for this section: the registered
    methods (a method registered or replaced recomputes the section)."""
    return [[m.name, f"{getattr(m.function, '__module__', '')}.{getattr(m.function, '__qualname__', '')}",
             m.units, sorted((k, repr(v)) for k, v in m.options.items())] for m in registered_methods()]


def method_options(name, layer):
    """The options the section passes to method ``name``: ``layer`` (the
    last conv layer) where the method has a ``layer`` option, else none."""
    from zfkeras.methods.registry import get_method

    return {"layer": layer} if "layer" in get_method(name).options else {}


def class_maps(model, images, last_conv, batch_size=64):
    """Pixel importance ``(N, H, W)`` of each image's predicted class, per registered method."""
    from zfkeras import explain

    return {name: explain(model, images, name, batch_size=batch_size, verbose=0,
                          **method_options(name, last_conv)).maps
            for name in class_methods()}


def scores(model, images, layer, units, steps, size, maps=None):
    """Rows ``(method, metric, mean, std, images)`` of the table, and the
    per-image scores behind them.

    Args:
        maps: `class_maps` of ``images`` when already computed.

    Returns:
        ``(rows, per_image)``: ``per_image[metric][method]`` is a float64
        array over the images (the occlusion drop: over units then images,
        ``len(units) * N``, NaN where the unit is silent), the same items for
        every method of a metric, so methods compare image by image.
    """
    from zfkeras import Unit, explain, faithfulness
    from zfkeras.measures.faithfulness import occlusion_drop

    rows, per_image = [], {metric: {} for metric in DIRECTIONS}
    maps = class_maps(model, images, layer) if maps is None else maps
    for method, method_maps in maps.items():
        for metric in ("deletion", "insertion"):
            # faithfulness takes the maps (an Explanation too, once it accepts one)
            result = faithfulness(model, images, method_maps, metric, steps=steps, verbose=0)
            rows.append([method, f"{metric} AUC", result.mean, result.std, len(images)])
            per_image[f"{metric} AUC"][method] = np.asarray(result.scores, np.float64)
    for method in unit_methods():
        drops = []
        for channel in units:
            unit_maps = explain(model, images, method, Unit(layer, int(channel)), verbose=0).maps
            drops.append(occlusion_drop(model, images, unit_maps, Unit(layer, int(channel)), size).scores)
        drops = np.concatenate(drops) if drops else np.zeros(0)
        per_image["occlusion drop"][method] = np.asarray(drops, np.float64)
        drops = drops[np.isfinite(drops)]
        rows.append([method, "occlusion drop", float(drops.mean()) if drops.size else float("nan"),
                     float(drops.std()) if drops.size else float("nan"), int(drops.size)])
    return rows, per_image


def score_rows(per_image, images):
    """`SCORES_HEADER` rows of ``per_image`` (`scores`) over ``images`` images."""
    rows = []
    for metric, by_method in per_image.items():
        for method, values in by_method.items():
            for i, value in enumerate(values):
                unit = "" if metric != "occlusion drop" else i // images
                rows.append([method, metric, unit, i % images, float(value)])
    return rows


def rankings(per_image, factor=ranking.FACTOR):
    """``{metric: [Ranked, ...]}``: the methods ranked by each metric
    (`zfkeras.analysis.output.ranking.rank_methods`), metrics with no method left out."""
    return {metric: ranking.rank_methods(by_method, DIRECTIONS[metric], factor)
            for metric, by_method in per_image.items() if by_method}


def ranking_rows(ranked_by_metric):
    """`RANKING_HEADER` rows."""
    return [[metric, r.rank, r.method, r.mean, r.images, r.next_method or "", r.difference, r.standard_error,
             r.pairs, "yes" if r.separated else "no"]
            for metric, ranked in ranked_by_metric.items() for r in ranked]


def ranking_caption(ranked_by_metric, factor=ranking.FACTOR):
    """The caption's ranking sentences, one per metric, from the numbers."""
    return " ".join(ranking.ranking_sentence(metric, ranked, DIRECTIONS[metric], factor)
                    for metric, ranked in ranked_by_metric.items())


def panel_image(explanation, box, signed):
    """One method's explanation of one unit, cut to ``box``, as an RGB image
    (`zfkeras.plot.explanation_image`: per-channel attributions as every
    projection zfkeras draws; a signed map alone in the diverging colour map
    centred on zero; an unsigned one from 0 (black) to its maximum (white)),
    normalised over the box."""
    return explanation_image(explanation, 0, signed=signed, box=box)


def unit_panels(model, deconv, images, raw, layer, top, channels):
    """One row per unit: patch, then each unit method's picture, cut to the unit's field."""
    from zfkeras import Unit, explain

    signed = {m.name: m.signed for m in registered_methods(units=True)}
    rows = []
    size = fig2_top9.full_field_size(deconv, layer)
    for c in channels:
        image, position = int(top.image_ids[c, 0]), top.positions[c, 0]
        box = deconv.receptive_field(layer, position)
        t, l, b, r = box
        x = images[image:image + 1]
        unit = Unit(layer, int(c), tuple(int(v) for v in position))
        panels = [to_rgb(raw[image, t:b, l:r] / 255.0)]
        for method in unit_methods():
            panels.append(panel_image(explain(model, x, method, unit, verbose=0), box, signed[method]))
        rows.append([figures.place(p, box, size) for p in panels])
    return rows


def plot(rows_by_layer, class_cams, raw, path):
    """The figure: one row per unit (`columns()`), then a row of class maps
    by `CLASS_ROW_METHOD` over the images (left out when ``class_cams`` is None)."""
    names = columns()
    unit_rows = [row for rows in rows_by_layer.values() for row in rows]
    labels = [layer for layer, rows in rows_by_layer.items() for _ in rows]
    n_rows = len(unit_rows) + (class_cams is not None)
    figure, axes = canvas.new_figure((1.6 * len(names), 1.6 * n_rows), n_rows, len(names))
    canvas.image_grid(unit_rows, row_labels=labels, column_titles=[n.replace("_", " ") for n in names],
                      figure_axes=(figure, axes[:len(unit_rows)]))
    if class_cams is not None:
        i = len(unit_rows)
        for j in range(len(names)):  # last row: the class map of the predicted class on a few images
            k = min(j, len(class_cams) - 1)
            axes[i, j].imshow(to_rgb(raw[k] / 255.0), interpolation="nearest")
            axes[i, j].imshow(class_cams[k], alpha=0.5, cmap="jet", interpolation="bilinear")
            canvas.clear_ticks(axes[i, j])
        axes[i, 0].set_ylabel(CLASS_ROW_METHOD.replace("_", " ") + "\n(class)", fontsize=8)
        figure.tight_layout()
    figures.save_png(figure, path, dpi=110)


def _described(names):
    from zfkeras.methods.registry import get_method

    return "; ".join(f"<i>{html.escape(n)}</i>: {html.escape(get_method(n).summary)}" for n in names)


def report_section(run, out_dir, verbose="auto", *, test_images=10000, table_images=100, units_per_layer=1,
                   steps=10, seed=0):
    """The methods-comparison section.

    Args:
        test_images: images mined for the Fig. 2 units (as Fig. 2's section).
        table_images: test images scored in the table.
        units_per_layer: Fig. 2 maps per conv layer in the figure and the
            occlusion-drop score (the first of Fig. 2's draw).
        steps: deletion/insertion stages.
        seed: the image draw and the maps, as Fig. 2's.
    """
    from zfkeras import Deconvnet, top_activations

    try:
        model = run.load_model()
    except ValueError as e:
        raise SectionUnavailable(str(e)) from None
    deconv = Deconvnet(model)
    layers = fig2_top9.conv_layers(model, deconv)
    raw, _ = run.load_split("test", max_examples=test_images, seed=seed)
    images = run.preprocess(raw)
    top = fig2_top9.stored_top(run, layers, fig2_top9.K, test_images, seed, len(raw))
    missing = [layer for layer in layers if layer not in top]
    if missing:
        top.update(top_activations(model, images, missing, k=fig2_top9.K, verbose=verbose))
    chosen = {layer: fig2_top9.choose_maps(top[layer], units_per_layer, seed + i)[:units_per_layer]
              for i, layer in enumerate(layers)}
    rows_by_layer = {layer: unit_panels(model, deconv, images, raw, layer, top[layer], chosen[layer])
                     for layer in layers}
    table = images[:table_images]
    last = layers[-1]
    field = fig2_top9.full_field_size(deconv, last)
    size = tuple(max(1, min(f, s) // 2) for f, s in zip(field, images.shape[1:3]))
    maps = class_maps(model, table, last)
    rows, per_image = scores(model, table, last, chosen[last], steps, size, maps)
    ranked = rankings(per_image)
    shown = len(columns())
    class_cams = maps[CLASS_ROW_METHOD][:shown] if CLASS_ROW_METHOD in maps else None
    plot(rows_by_layer, class_cams, raw[:shown], out_dir / FIGURE)
    tables.write_csv(out_dir / NUMBERS, CSV_HEADER, rows)
    tables.write_csv(out_dir / SCORES, SCORES_HEADER, score_rows(per_image, len(table)))
    tables.write_csv(out_dir / RANKING, RANKING_HEADER, ranking_rows(ranked))
    with_layer = [n for n in class_methods() if method_options(n, last)]
    caption = (
        "The paper's deconvnet beside every other explanation method registered with zfkeras "
        f"(zfkeras.methods.registry; each run by zfkeras.explain), on this run's model: {_described(class_methods())}. "
        f"Figure rows: the Fig. 2 maps ({units_per_layer} per conv layer, Fig. 2's draw with seed {seed}) on their "
        "top image (over the same test images), cut to the unit's receptive field: the patch, then the unit's "
        f"explanation by each method that explains units ({html.escape(', '.join(unit_methods()))}; the backward "
        "rules through the same engine: same switches, same weights; the class activation maps at the unit's own "
        "layer)"
        + (f"; last row: {html.escape(CLASS_ROW_METHOD)} of the predicted class at {html.escape(last)}"
           if class_cams is not None else "")
        + f". Table: over {len(table)} test images, mean and std across images of the deletion and insertion AUC "
        f"({steps} stages, removed pixels set to 0, i.e. the training mean; lower deletion and higher insertion "
        "are better) of each method's map of the predicted class (zfkeras.explain's maps: per-channel "
        "attributions reduced by each method's channel rule"
        + (f"; {html.escape(', '.join(with_layer))} at {html.escape(last)}" if with_layer else "")
        + ", occlusion with its default square), and, for the methods that explain units, the occlusion drop "
        f"for the chosen {html.escape(last)} units: the relative drop of the unit's activation when the "
        f"{size[0]}x{size[1]} square with most of the map is occluded, minus the drop for a random square "
        "(images where the unit is silent are left out). docs/METHODS.md has the definitions. "
        "Ranking (second table; best first, equal means in registry order): two neighbours are told apart "
        f"when the mean of their per-image difference (paired over the images both scored) exceeds "
        f"{ranking.FACTOR:g} standard errors of it (std of the differences / sqrt(images)). "
        + ranking_caption(ranked) + " "
        f"Numbers: <a href=\"{NUMBERS}\">{NUMBERS}</a>, ranking <a href=\"{RANKING}\">{RANKING}</a>, "
        f"every per-image score <a href=\"{SCORES}\">{SCORES}</a>. {machine.measured_on()}"
    )
    shown_ranking = [[metric, r.rank, r.method, r.mean, r.next_method or "",
                      "" if r.next_method is None else f"{r.difference:.3g} \u00b1 {r.standard_error:.2g}",
                      "" if r.next_method is None else ("yes" if r.separated else "no")]
                     for metric, ranked_ in ranked.items() for r in ranked_]
    body = (figures.img_html(FIGURE, ", ".join(unit_methods()) + " side by side")
            + figures.html_table(CSV_HEADER, rows)
            + figures.html_table(["metric", "rank", "method", "mean", "next", "difference to next \u00b1 SE",
                                  f"> {ranking.FACTOR:g} SE"], shown_ranking))
    return Section("methods", "The explanation methods side by side: pictures and faithfulness",
                   caption, body, [FIGURE, NUMBERS, RANKING, SCORES])
