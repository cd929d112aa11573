"""Feature visualisation of the run's last conv layer and classes (MaCo).

Figure: for the ``maps`` maps of the last conv layer that the test images
drive hardest, and for every class (its pre-softmax score), the image MaCo
optimises (`zfkeras.feature_visualization`, its magnitude spectrum from
``spectrum_images`` of the run's own training images, its pixels valid for
the run's preprocessing), and the same image faded where MaCo's
transparency map is low (what the objective did not care about).

Table: each objective's value on its image, its largest value over
``test_images`` test images, and their ratio, the activation reached
(docs/FEATURE_VISUALIZATION.md).
"""

import html

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable

INPUTS = TRAINED_MODEL
FIGURE = "feature_visualization.png"
NUMBERS = "feature_visualization.csv"
CSV_HEADER = ["objective", "value", "strongest_test_value", "activation_reached"]


def last_conv_layer(model):
    """The name of ``model``'s last ``Conv2D`` layer (top level)."""
    from zfkeras.utils.errors import InputError

    names = [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]
    if not names:
        raise InputError(f"model {model.name!r} has no Conv2D layer; name a layer")
    return names[-1]


def compute(run, maps, classes, steps, spectrum_images, test_images, seed):
    """``(result, names, strongest)``: the `FeatureVisualization`, one label per
    objective and each objective's largest value over the test images."""
    from zfkeras import Unit, feature_visualization
    from zfkeras.methods.feature_visualization import objective_values

    model = run.load_model()
    layer = last_conv_layer(model)
    train, _ = run.load_split("train", max_examples=spectrum_images, seed=seed)
    test, _ = run.load_split("test", max_examples=test_images, seed=seed)
    test = run.preprocess(test)
    channels = int(model.get_layer(layer).output.shape[-1])
    every_map = [Unit(layer, c) for c in range(channels)]
    strongest_maps = objective_values(model, every_map, test).max(axis=1)
    chosen = np.argsort(-strongest_maps, kind="stable")[:maps]
    class_list = list(range(int(model.outputs[0].shape[-1]))) if classes else []
    objectives = [every_map[c] for c in chosen] + class_list
    result = feature_visualization(model, objectives, inputs=run.preprocess(train), preprocess=run.preprocess,
                                   steps=steps, seed=seed, verbose=0)
    class_names = run.class_names
    names = [f"{layer} map {int(c)}" for c in chosen] + [f"class {k} ({class_names[k]})" for k in class_list]
    strongest = np.concatenate([strongest_maps[chosen],
                                objective_values(model, class_list, test).max(axis=1) if class_list else []])
    return result, names, strongest


def panels(result):
    """Two rows per objective block: the images, and the images faded to white by transparency."""
    pixels = result.pixels.astype("float32") / 255.0
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    alpha = result.transparency[..., None]
    return pixels, pixels * alpha + (1.0 - alpha)


def report_section(run, out_dir, progress=True, *, maps=16, classes=True, steps=256, spectrum_images=2000,
                   test_images=1000, seed=0):
    """The feature visualisation section of the run report.

    Args:
        maps: maps of the last conv layer shown (those the test images drive hardest).
        classes: also every class.
        steps: MaCo's steps.
        spectrum_images: training images the magnitude spectrum is averaged over.
        test_images: test images the activation reached is measured against.
        seed: the images' seed and the draws'.
    """
    if not run.model_path.is_file():
        raise SectionUnavailable("no trained model (model.keras) in the run folder yet")
    result, names, strongest = compute(run, maps, classes, steps, spectrum_images, test_images, seed)
    images, faded = panels(result)
    columns = min(len(images), 8)
    rows_of = lambda x: [x[i:i + columns] for i in range(0, len(x), columns)]
    blocks = []
    for top, bottom in zip(rows_of(images), rows_of(faded)):
        pad = columns - len(top)
        if pad:
            blank = np.ones((pad,) + top.shape[1:], np.float32)
            top, bottom = np.concatenate([top, blank]), np.concatenate([bottom, blank])
        blocks.extend([top, bottom])
    figures.save_image_array(figures.montage(np.concatenate(blocks), columns, gap=2),
                             out_dir / FIGURE)
    reached = np.where(strongest > 0, result.values / np.where(strongest > 0, strongest, 1), np.nan)
    rows = [[name, float(v), float(s), float(r)] for name, v, s, r in zip(names, result.values, strongest, reached)]
    tables.write_csv(out_dir / NUMBERS, CSV_HEADER, rows)
    table = figures.html_table(["objective", "value", "strongest test value", "activation reached"], rows)
    finite = reached[np.isfinite(reached)]
    summary = (f"median activation reached {np.median(finite):.2f} ({(finite >= 1).sum()} of {finite.size} "
               "objectives at or above the test images' strongest)") if finite.size else "no objective active"
    caption = (
        "Feature visualisation by optimisation (MaCo, Fel et al. 2023; <code>zfkeras.feature_visualization</code>): "
        f"for the {len(names)} objectives listed, "
        f"the image that maximises each ({steps} Nadam steps of the Fourier phase; the magnitude is the average "
        f"spectrum of {spectrum_images} of the run's training images; pixels kept valid for the run's "
        "preprocessing). Each block shows the images, in reading order, then the same images faded to white "
        "where MaCo's transparency map (the accumulated gradient magnitude) is low. Maps: the last conv layer's "
        "ones that the test images drive hardest; classes: their score before the softmax. Activation reached "
        f"= value on the image / largest value over {test_images} test images: {html.escape(summary)}. "
        f"Model: {figures.run_description(run)}. Command: <code>zfkeras report {html.escape(str(run.path))}</code>. "
        + machine.measured_on()
    )
    body = figures.img_html(FIGURE, "feature visualisations") + table
    return Section("feature_visualization", "Feature visualisation (MaCo)", caption, body, [FIGURE, NUMBERS])
