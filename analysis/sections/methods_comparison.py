"""The deconvnet beside its successors, and which picture is faithful.

Figure: the Fig. 2 units (the same maps the Fig. 2 section draws: mined
over the same test images with the same seed, `fig2_top9.choose_maps`),
``units_per_layer`` per conv layer, each on its top image: the image patch,
its projection by the deconvnet, guided backpropagation and the gradient
(`Deconvnet.project(method=...)`), and the unit's Grad-CAM at its own layer
-- plus, for ``table_images`` test images, Grad-CAM of the predicted class.

Table, over ``table_images`` test images (mean and std across images):
deletion and insertion AUC (`zfkeras.faithfulness`, ``steps`` stages, fill
0 = the training mean after preprocessing) of the predicted class's map by
each method (`zfkeras.methods.grad_cam.class_projection`: |map| summed over channels;
Grad-CAM at the last conv layer), and the occlusion drop
(`zfkeras.measures.faithfulness.occlusion_drop`) of the top layer's chosen units with
each method's projection of them, the square half the layer's receptive
field.
"""

import html

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable
from zfkeras.analysis.sections import fig2_top9
from zfkeras.utils.display import projection_to_image, to_rgb
from zfkeras.methods.unit import Unit

INPUTS = TRAINED_MODEL
FIGURE = "methods_comparison.png"
NUMBERS = "methods_comparison.csv"
METHODS = ("deconvnet", "guided_backprop", "gradient")
COLUMNS = ("patch",) + METHODS + ("grad_cam",)
CSV_HEADER = ["method", "metric", "mean", "std", "images"]


def class_maps(model, images, last_conv, batch_size=64):
    """Pixel importance ``(N, H, W)`` of each image's predicted class, per method."""
    from zfkeras.methods.grad_cam import class_projection
    from zfkeras import grad_cam

    maps = {m: np.abs(class_projection(model, images, method=m, batch_size=batch_size, verbose=0)).sum(-1)
            for m in METHODS}
    maps["grad_cam"] = grad_cam(model, images, last_conv, batch_size=batch_size, verbose=0)
    return maps


def scores(model, deconv, images, layer, units, steps, size):
    """Rows ``(method, metric, mean, std, images)`` of the table."""
    from zfkeras import faithfulness, grad_cam
    from zfkeras.measures.faithfulness import occlusion_drop

    rows = []
    for method, maps in class_maps(model, images, layer).items():
        for metric in ("deletion", "insertion"):
            result = faithfulness(model, images, maps, metric, steps=steps, verbose=0)
            rows.append([method, f"{metric} AUC", result.mean, result.std, len(images)])
    for method in METHODS + ("grad_cam",):
        drops = []
        for channel in units:
            if method == "grad_cam":
                maps = grad_cam(model, images, layer, unit=Unit(layer, int(channel)), verbose=0)
            else:
                maps = np.abs(deconv.project(images, Unit(layer, int(channel)), method=method, verbose=0)).sum(-1)
            drops.append(occlusion_drop(model, images, maps, Unit(layer, int(channel)), size).scores)
        drops = np.concatenate(drops)
        drops = drops[np.isfinite(drops)]
        rows.append([method, "occlusion drop", float(drops.mean()) if drops.size else float("nan"),
                     float(drops.std()) if drops.size else float("nan"), int(drops.size)])
    return rows


def unit_panels(model, deconv, images, raw, layer, top, channels):
    """One row per unit: patch, three projections, Grad-CAM, cut to the unit's field."""
    from zfkeras import grad_cam

    rows = []
    size = fig2_top9.full_field_size(deconv, layer)
    for c in channels:
        image, position = int(top.image_ids[c, 0]), top.positions[c, 0]
        box = deconv.receptive_field(layer, position)
        t, l, b, r = box
        x = images[image:image + 1]
        panels = [to_rgb(raw[image, t:b, l:r] / 255.0)]
        for method in METHODS:
            projected = deconv.project(x, Unit(layer, int(c), tuple(position)), method=method, verbose=0)
            panels.append(projection_to_image(projected[0, t:b, l:r]))
        cam = grad_cam(model, x, layer, unit=Unit(layer, int(c), tuple(int(v) for v in position)), verbose=0)[0]
        panels.append(to_rgb((cam / max(cam.max(), 1e-12))[t:b, l:r, None]))
        rows.append([figures.place(p, box, size) for p in panels])
    return rows


def plot(rows_by_layer, class_cams, raw, path):
    plt = figures.pyplot()
    n_rows = sum(len(rows) for rows in rows_by_layer.values()) + 1
    fig, axes = plt.subplots(n_rows, len(COLUMNS), figsize=(1.6 * len(COLUMNS), 1.6 * n_rows), squeeze=False)
    i = 0
    for layer, rows in rows_by_layer.items():
        for row in rows:
            for j, panel in enumerate(row):
                axes[i, j].imshow(np.nan_to_num(panel, nan=0.85), interpolation="nearest")
            axes[i, 0].set_ylabel(layer, fontsize=8)
            i += 1
    for j, name in enumerate(COLUMNS):
        axes[0, j].set_title(name.replace("_", " "), fontsize=8)
    for j in range(len(COLUMNS)):  # last row: Grad-CAM of the predicted class on a few images
        k = min(j, len(class_cams) - 1)
        axes[i, j].imshow(to_rgb(raw[k] / 255.0), interpolation="nearest")
        axes[i, j].imshow(class_cams[k], alpha=0.5, cmap="jet", interpolation="bilinear")
    axes[i, 0].set_ylabel("Grad-CAM\n(class)", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    figures.save_png(fig, path, dpi=110)


def report_section(run, out_dir, progress=True, *, test_images=10000, table_images=100, units_per_layer=1,
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
        top.update(top_activations(model, images, missing, k=fig2_top9.K, verbose=1 if progress else 0))
    chosen = {layer: fig2_top9.choose_maps(top[layer], units_per_layer, seed + i)[:units_per_layer]
              for i, layer in enumerate(layers)}
    rows_by_layer = {layer: unit_panels(model, deconv, images, raw, layer, top[layer], chosen[layer])
                     for layer in layers}
    table = images[:table_images]
    last = layers[-1]
    field = fig2_top9.full_field_size(deconv, last)
    size = tuple(max(1, min(f, s) // 2) for f, s in zip(field, images.shape[1:3]))
    rows = scores(model, deconv, table, last, chosen[last], steps, size)
    from zfkeras import grad_cam

    plot(rows_by_layer, grad_cam(model, table[:len(COLUMNS)], last, verbose=0), raw[:len(COLUMNS)],
         out_dir / FIGURE)
    tables.write_csv(out_dir / NUMBERS, CSV_HEADER, rows)
    caption = (
        "The paper's deconvnet beside guided backpropagation (Springenberg et al. 2015), the gradient "
        "(Simonyan et al. 2014) and Grad-CAM (Selvaraju et al. 2017), all on this run's model. Figure rows: "
        f"the Fig. 2 maps ({units_per_layer} per conv layer, Fig. 2's draw with seed {seed}) on their top image "
        "(over the same test images), cut to the unit's receptive field: the patch, the projection by each "
        "backward rule of the same engine (same switches, same weights), and the unit's Grad-CAM at its own "
        "layer; last row: Grad-CAM of the predicted class at "
        f"{html.escape(last)}. Table: over {len(table)} test images, mean and std across images of the "
        f"deletion and insertion AUC ({steps} stages, removed pixels set to 0, i.e. the training mean; lower "
        "deletion and higher insertion are better) of the predicted class's map (the projection of its logit "
        "by each rule, |map| summed over channels; Grad-CAM at the last conv layer), and the occlusion drop "
        f"for the chosen {html.escape(last)} units: the relative drop of the unit's activation when the "
        f"{size[0]}x{size[1]} square with most of the map is occluded, minus the drop for a random square "
        "(images where the unit is silent are left out). docs/METHODS.md has the definitions. "
        f"Numbers: <a href=\"{NUMBERS}\">{NUMBERS}</a>. {machine.measured_on()}"
    )
    body = (figures.img_html(FIGURE, "deconvnet, guided backprop, gradient and Grad-CAM side by side")
            + figures.html_table(CSV_HEADER, rows))
    return Section("methods", "Deconvnet, guided backprop, gradient, Grad-CAM: pictures and faithfulness",
                   caption, body, [FIGURE, NUMBERS])
