"""What each unit wants: feature visualisation of Fig. 2's maps and of every class.

The maps are those the Fig. 2 section draws (`fig2_top9.choose_maps` over
the top 9 mined from the same test images with the same seed, read from
``RUN_DIR/mined/`` by `fig2_top9.stored_top` where ``zfkeras mine`` stored
them). For each, in Fig. 2's layout, the deconvnet projections of its top 9
and their image patches (`zfkeras.plot.top_k_panels`, Fig. 2's panels),
beside the image optimised for it (`zfkeras.feature_visualization`, by
default Lucid's Fourier method at its 512 steps; MaCo with its magnitude
spectrum from ``spectrum_images`` of the run's training images on request;
pixels valid for the run's preprocessing); then a row with one
visualisation per class (the class's score before the softmax). Every
objective is optimised in one batch call.

A map's objective is, by default (``objective="map"``), the map's mean, as
in docs/FEATURE_VISUALIZATION.md's yardstick, and its image is shown whole;
``objective="neuron"`` optimises the neuron of Fig. 2's top 1 instead (the
map at the position of its strongest test activation, so that the
yardstick's denominator is Fig. 2's top-1 activation itself), shown cut to
that neuron's receptive field as the patches are. The map's mean reached
more at the same cost (zfnet_small on Fashion-MNIST, docs/REPORT.md).

Why Lucid's method by default: on the default run's Fig. 2 maps (30) and
classes, at about a minute of the 2-core CPU, ``"fourier"`` with 512 steps
drove every map to at least its strongest test activation and every class
image is classified as its class, while MaCo at 24 steps and 8 crops (the
same minute) reached a median of 0.03-0.94 per layer (docs/REPORT.md).

Yardstick (docs/FEATURE_VISUALIZATION.md): *activation reached* = the
objective's value on its image / its largest value over the test images
(the same objective both sides: for a neuron, Fig. 2's top-1 activation;
else `zfkeras.methods.feature_visualization.objective_values`). The caption gives its median and the share >= 1
per layer for the shown maps, and for the classes the share of images the
model itself classifies as their class. *Transferability* (the share an
independently trained model classifies as intended) needs a second run of
the same data: ``second_run`` names its folder; without one the caption
points to docs/BENCHMARKS.md. The CSV holds every objective's numbers.
"""

import html
import inspect

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.report.section import Section, SectionUnavailable
from zfkeras.analysis.sections import fig2_top9
from zfkeras.plot import canvas
from zfkeras.utils.display import to_rgb

INPUTS = fig2_top9.INPUTS
FIGURE = "feature_visualization.png"
NUMBERS = "feature_visualization.csv"
CSV_HEADER = ["objective", "layer", "channel", "y", "x", "value", "strongest_test_value", "activation_reached",
              "classified_as", "second_run_classified_as"]
CLASS_LAYER = "class"  # the CSV's layer of a class objective
OBJECTIVES = ("neuron", "map")
TITLE = "What each unit wants: feature visualisation"


def last_conv_layer(model):
    """The name of ``model``'s last ``Conv2D`` layer (top level; ``zfkeras visualize``'s default layer)."""
    from zfkeras.utils.errors import InputError

    names = [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]
    if not names:
        raise InputError(f"model {model.name!r} has no Conv2D layer; name a layer")
    return names[-1]


def _fig2_default(name):
    """Fig. 2 section's default of parameter ``name`` (the maps shown here are Fig. 2's)."""
    return inspect.signature(fig2_top9.report_section).parameters[name].default


def mined_maps(run, model, test_images, maps_per_layer, seed, verbose):
    """Fig. 2's mining and draw of the shown maps.

    Returns:
        ``(deconv, layers, raw test images, their model inputs, top dict
        layer -> TopActivations, chosen dict layer -> map indices, layers
        whose top 9 came from mined/)``.
    """
    from zfkeras import Deconvnet, top_activations

    deconv = Deconvnet(model, unpooling="max_pool_grad")  # as Fig. 2's section
    layers = fig2_top9.conv_layers(model, deconv)
    raw, _ = run.load_split("test", max_examples=test_images, seed=seed)
    images = run.preprocess(raw)
    top = fig2_top9.stored_top(run, layers, fig2_top9.K, test_images, seed, len(raw))
    reused = list(top)
    missing = [layer for layer in layers if layer not in top]
    if missing:
        top.update(top_activations(model, images, missing, k=fig2_top9.K, verbose=verbose))
    # Fig. 2's draw: seed + layer index
    chosen = {layer: fig2_top9.choose_maps(top[layer], maps_per_layer, seed + i) for i, layer in enumerate(layers)}
    return deconv, layers, raw, images, top, chosen, reused


def map_objectives(top, chosen, objective):
    """``[(layer, channel, position or None, Unit)]`` of the shown maps, layer by layer."""
    from zfkeras import Unit

    out = []
    for layer, channels in chosen.items():
        for c in channels:
            c = int(c)
            if objective == "neuron":
                y, x = (int(v) for v in np.asarray(top[layer].positions)[c, 0])
                out.append((layer, c, (y, x), Unit(layer, c, position=(y, x))))
            else:
                out.append((layer, c, None, Unit(layer, c)))
    return out


def strongest_test_values(model, top, maps, classes, images):
    """Each objective's largest value over the test ``images``: for a neuron of
    Fig. 2's top 1, its top-1 activation (the mined maximum over images and
    positions, reached at that neuron); else `objective_values`'s maximum."""
    from zfkeras.methods.feature_visualization import objective_values

    known = [float(np.asarray(top[layer].values)[c, 0]) if position is not None else None
             for layer, c, position, _ in maps] + [None] * len(classes)
    objectives = [m[3] for m in maps] + list(classes)
    todo = [k for k, value in enumerate(known) if value is None]
    if todo:
        found = objective_values(model, [objectives[k] for k in todo], images).max(axis=1)
        for k, value in zip(todo, found):
            known[k] = float(value)
    return np.asarray(known, np.float64)


def activation_reached(values, strongest):
    """``values / strongest`` where the strongest test value is positive, else NaN."""
    values, strongest = np.asarray(values, np.float64), np.asarray(strongest, np.float64)
    return np.where(strongest > 0, values / np.where(strongest > 0, strongest, 1.0), np.nan)


def classified(run, model, pixels, batch_size=64):
    """The class ``model`` (of run ``run``) gives each uint8 image ``pixels``."""
    return np.asarray(model.predict(run.preprocess(pixels), batch_size=batch_size, verbose=0)).argmax(axis=-1)


def load_second_run(path, run, model):
    """``(RunFolder, model)`` of the second run, checked to be of the same data."""
    from zfkeras.runs.folder import RunFolder
    from zfkeras.utils.errors import InputError
    from zfkeras.utils.validation import quote

    second = RunFolder(path)
    if not second.model_path.is_file():
        raise InputError(f"second_run {quote(str(path))} has no trained model (model.keras) yet")
    if list(second.class_names) != list(run.class_names):
        raise InputError(f"second_run {quote(str(path))} has classes {quote(list(second.class_names))}, this run "
                         f"{quote(list(run.class_names))}: transferability needs a run of the same data")
    other = second.load_model()
    if tuple(other.inputs[0].shape[1:]) != tuple(model.inputs[0].shape[1:]):
        raise InputError(f"second_run {quote(str(path))} takes inputs of shape {tuple(other.inputs[0].shape[1:])}, "
                         f"this run {tuple(model.inputs[0].shape[1:])}: transferability needs the same image size")
    return second, other


def fit(image, height, width):
    """``image`` ``(h, w, 3)`` resampled to ``(height, width)`` by nearest neighbour."""
    rows = np.minimum((np.arange(height) + 0.5) * image.shape[0] / height, image.shape[0] - 1).astype(int)
    cols = np.minimum((np.arange(width) + 0.5) * image.shape[1] / width, image.shape[1] - 1).astype(int)
    return image[rows][:, cols]


def optimised_panel(deconv, layer, position, pixels, size):
    """A map's optimised image as shown: cut to the neuron's receptive field and
    placed as Fig. 2's patches are (NaN where the border cut it), or whole."""
    picture = to_rgb(np.asarray(pixels, np.float32) / 255.0)
    if position is None:
        return picture
    t, l, b, r = (int(v) for v in deconv.receptive_field(layer, position))
    return figures.place(picture[t:b, l:r], (t, l, b, r), size)


def _ratio(value):
    """An activation reached as a label: two decimals, or n/a (never active on the test images)."""
    return f"{value:.2f}" if np.isfinite(value) else "n/a"


def _strip(tiles, gap_width):
    h = tiles[0].shape[0]
    gap = np.ones((h, gap_width, 3), np.float32)
    return np.concatenate([piece for t in tiles for piece in (t, gap)][:-1], axis=1)


def _label(ax, label):
    ax.set_yticks([])
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=11)
    ax.tick_params(length=0, pad=2)
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot(panels, chosen, optimised, map_labels, class_images, class_labels, path, width=12.0):
    """Fig. 2's layout plus the optimised images: one row per layer, per map
    its 3x3 projections | 3x3 patches | optimised image; a last row of classes.

    Args:
        panels: dict layer -> `zfkeras.plot.TopKPanels` of the chosen maps.
        chosen: dict layer -> map indices (the row's order).
        optimised: dict layer -> list of ``(h, w, 3)`` optimised panels (NaN: uncovered).
        map_labels: dict layer -> one tick label per map.
        class_images: ``(K, H, W, 3)`` in [0, 1]; class_labels: one label each.
    """
    from zfkeras.plot import top_k_plot

    strips, labels, ticks, names = [], [], [], []
    for layer in chosen:
        tiles = []
        for i in range(len(chosen[layer])):
            base = top_k_plot.tile(panels[layer].projections[i], panels[layer].patches[i])
            block = base.shape[0]
            picture = fit(np.where(np.isnan(optimised[layer][i]), np.asarray(figures.UNCOVERED, np.float32),
                                   optimised[layer][i]), block, block)
            tiles.append(np.concatenate([base, np.ones((block, 3, 3), np.float32), picture], axis=1))
        w = tiles[0].shape[1]
        gap = max(2, w // 8)
        strips.append(_strip(tiles, gap))
        ticks.append([(w + gap) * i + w / 2 for i in range(len(tiles))])
        names.append(map_labels[layer])
        labels.append(layer)
    side = class_images.shape[1]
    strips.append(_strip(list(class_images), max(2, side // 4)))
    ticks.append([(side + max(2, side // 4)) * i + side / 2 for i in range(len(class_images))])
    names.append(class_labels)
    labels.append("classes")
    heights = [width * s.shape[0] / s.shape[1] + 0.45 for s in strips]
    figure, axes = canvas.new_figure((width + 0.8, sum(heights)), len(strips), 1,
                                     gridspec_kw={"height_ratios": heights})
    for ax, strip, tick, name, label in zip(axes[:, 0], strips, ticks, names, labels):
        ax.imshow(strip, interpolation="nearest")
        ax.set_xticks(tick)
        ax.set_xticklabels(name, fontsize=7)
        _label(ax, label)
    figure.tight_layout(h_pad=0.4)
    figures.save_png(figure, path, dpi=120)


def summary_rows(layers, layer_of, reached):
    """Per layer (then ``classes``): ``[layer, objectives, median reached, share >= 1]`` of the finite ratios."""
    rows = []
    for layer in list(layers) + [CLASS_LAYER]:
        mine = reached[np.asarray([l == layer for l in layer_of], bool)]
        finite = mine[np.isfinite(mine)]
        rows.append([layer, int(mine.size), float(np.median(finite)) if finite.size else float("nan"),
                     float((finite >= 1).mean()) if finite.size else float("nan")])
    return rows


def _summary_text(rows):
    parts = []
    for layer, count, median, share in rows:
        name = "classes" if layer == CLASS_LAYER else html.escape(layer)
        if np.isnan(median):
            parts.append(f"{name}: none active on the test images")
        else:
            parts.append(f"{name}: median {median:.2f}, {share:.0%} of {count} >= 1")
    return "; ".join(parts)


def report_section(run, out_dir, verbose="auto", *, test_images=_fig2_default("test_images"),
                   maps_per_layer=_fig2_default("maps_per_layer"), seed=_fig2_default("seed"), objective="map",
                   method="fourier", steps=512, crops=8, spectrum_images=2000, second_run=None):
    """The "what each unit wants" section of the run report.

    Args:
        test_images, maps_per_layer, seed: as Fig. 2's section (its defaults):
            the same maps, mined from the same test images; ``seed`` also
            seeds MaCo and the training-image draw.
        objective: ``"map"`` (the map's mean) or ``"neuron"`` (each map at
            its top-1 position, the yardstick's denominator Fig. 2's top-1
            activation).
        method: ``"fourier"`` (Lucid's) or ``"maco"`` (`zfkeras.feature_visualization`).
        steps: optimisation steps (the library's defaults: 512 Lucid, 256 MaCo).
        crops: MaCo's random crops per image and step (the library's 32;
            fewer here for the report's time, docs/REPORT.md).
        spectrum_images: training images MaCo's magnitude spectrum is averaged over.
        second_run: None, or the folder of another run of the same data
            (e.g. another seed): its model classifies the class
            visualisations (transferability).
    """
    from zfkeras import feature_visualization
    from zfkeras.plot import top_k_panels
    from zfkeras.utils.validation import one_of

    one_of(objective, "objective", OBJECTIVES)
    one_of(method, "method", ("fourier", "maco"))
    if not run.model_path.is_file():
        raise SectionUnavailable("no trained model (model.keras) in the run folder yet")
    try:
        model = run.load_model()
    except ValueError as e:
        raise SectionUnavailable(str(e)) from None
    second = load_second_run(second_run, run, model) if second_run is not None else None
    deconv, layers, raw, images, top, chosen, reused = mined_maps(run, model, test_images, maps_per_layer, seed,
                                                                  verbose)
    maps = map_objectives(top, chosen, objective)
    class_names = [str(c) for c in run.class_names]
    classes = list(range(int(model.outputs[0].shape[-1])))
    objectives = [m[3] for m in maps] + classes
    train, _ = run.load_split("train", max_examples=spectrum_images, seed=seed)
    result = feature_visualization(model, objectives, inputs=run.preprocess(train), preprocess=run.preprocess,
                                   method=method, steps=steps, crops=crops, seed=seed, verbose=verbose)
    strongest = strongest_test_values(model, top, maps, classes, images)
    reached = activation_reached(result.values, strongest)
    class_pixels = result.pixels[len(maps):]
    predicted = classified(run, model, class_pixels)
    transferred = classified(*second, class_pixels) if second is not None else None

    layer_of = [m[0] for m in maps] + [CLASS_LAYER] * len(classes)
    rows = []
    for k, (layer, c, position, _) in enumerate(maps):
        y, x = position if position is not None else ("", "")
        rows.append([f"{layer} map {c}", layer, c, y, x, float(result.values[k]), float(strongest[k]),
                     float(reached[k]), "", ""])
    for j, c in enumerate(classes):
        k = len(maps) + j
        rows.append([f"class {c} ({class_names[c]})", CLASS_LAYER, c, "", "", float(result.values[k]),
                     float(strongest[k]), float(reached[k]), int(predicted[j]),
                     int(transferred[j]) if transferred is not None else ""])
    tables.write_csv(out_dir / NUMBERS, CSV_HEADER, rows)

    size = {layer: fig2_top9.full_field_size(deconv, layer) for layer in layers}
    panels = {layer: top_k_panels(deconv, layer, top[layer], chosen[layer], images, raw) for layer in layers}
    optimised = {layer: [] for layer in layers}
    map_labels = {layer: [] for layer in layers}
    for k, (layer, c, position, _) in enumerate(maps):
        optimised[layer].append(optimised_panel(deconv, layer, position, result.pixels[k], size[layer]))
        map_labels[layer].append(f"map {c}\n{_ratio(reached[k])}")
    class_labels = [f"{class_names[c]}\n{_ratio(reached[len(maps) + j])}"
                    + ("" if predicted[j] == c else f"\nseen as {class_names[int(predicted[j])]}")
                    for j, c in enumerate(classes)]
    plot(panels, chosen, optimised, map_labels, to_rgb(class_pixels.astype(np.float32) / 255.0), class_labels,
         out_dir / FIGURE)

    summary = summary_rows(layers, layer_of, reached)
    right = int((predicted == np.asarray(classes)).sum())
    if transferred is not None:
        moved = int((transferred == np.asarray(classes)).sum())
        transfer = (f"Transferability: the run <code>{html.escape(str(second_run))}</code> (trained separately on "
                    f"the same data) classifies {moved} of {len(classes)} ({moved / len(classes):.0%}) class images "
                    "as their class.")
    else:
        transfer = ("Transferability (the share of class images that an independently trained model of the same "
                    "data classifies as their class) needs a second run: it is measured in docs/BENCHMARKS.md "
                    "(<code>benchmarks/feature_visualization_yardstick.py</code>); for this report pass the "
                    "section's <code>second_run</code> parameter.")
    optimiser = (
        f"MaCo (Fel et al. 2023; <code>zfkeras.feature_visualization</code>: {steps} Nadam steps of the Fourier "
        f"phase, {crops} random crops per image and step; the magnitude the average spectrum of {len(train)} of "
        "the run's training images" if method == "maco" else
        "Lucid's Fourier method (Olah et al. 2017; <code>zfkeras.feature_visualization(method=\"fourier\")</code>: "
        f"{steps} Adam steps of 1/f-scaled Fourier coefficients under random jitter, scale and rotation")
    what = ("the neuron of Fig. 2's top 1 (the map at the position of its strongest test activation), shown cut "
            "to its receptive field like the patches" if objective == "neuron" else "the map's mean, shown whole")
    caption = (
        "What each unit wants: the <b>Fig. 2</b> maps (the same maps, drawn with seed "
        f"{seed} + layer index among those that fire on at least 9 of the same {len(raw)} test images; "
        f"{maps_per_layer} per conv layer), each as a 3x3 block of its top-9 activations projected by the deconvnet, "
        f"the 3x3 block of their image patches, and the image that maximises it, optimised by {optimiser}; "
        "pixels kept valid for the run's preprocessing; every objective in one batch). A map's objective is "
        f"{what}. Last row: one image per class, maximising the class's score before the softmax. "
        "Under each map and class: its activation reached = the objective on its image / its largest value over the "
        f"{len(raw)} test images: {_summary_text(summary)}. The model classifies {right} of {len(classes)} "
        f"({right / len(classes):.0%}) class images as their class. {transfer} "
        f"Numbers of every objective: <a href=\"{NUMBERS}\">{NUMBERS}</a>. "
        f"Model: {figures.run_description(run)}. Made by <code>zfkeras report {html.escape(str(run.path))}</code>. "
        f"{fig2_top9._reuse_note(reused, layers)}{machine.measured_on()}"
    )
    table = figures.html_table(["layer", "objectives", "median activation reached", "share >= 1"],
                               [[("classes" if r[0] == CLASS_LAYER else r[0]), *r[1:]] for r in summary])
    body = figures.img_html(FIGURE, "Fig. 2's maps and the images that maximise them; one image per class") + table
    return Section("feature_visualization", TITLE, caption, body, [FIGURE, NUMBERS])
