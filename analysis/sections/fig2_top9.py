"""Fig. 2 of the paper: each feature map's top 9 activations, seen two ways.

For every feature map of the chosen conv layers, the 9 test images whose
strongest activation of that map is largest (`zfkeras.methods.top_activations.top_activations`)
give 9 panels twice: the deconvnet projection of that one activation, and
the image patch under the unit's receptive field
(`Deconvnet.receptive_field`). Both are cut to the same receptive-field box.

`top9_panels` computes the panels of every map (the explorer shows them
all); `plot_fig2` draws the paper's layout for a few maps per layer, one
`zfkeras.plot.top_k` row per layer. The
top 9 of a layer are read from ``RUN_DIR/mined/`` (`zfkeras.runs.mined`,
written by ``zfkeras mine``) instead of mined again when they were mined
from the same images (split, number, seed) with at least ``k`` entries and
the run's current ``model.keras``; ``mined/`` is an input of the section.
"""

import dataclasses
import html

import numpy as np

from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.report.section import TRAINED_MODEL, Section, SectionUnavailable
from zfkeras.plot import canvas, top_k, top_k_plot
from zfkeras.utils.display import projection_to_image, to_rgb
from zfkeras.runs import layout
from zfkeras.methods.unit import Unit

K = 9
INPUTS = TRAINED_MODEL + (layout.MINED,)
FIGURE = "fig2_top9.png"
NUMBERS = "fig2_top9.csv"
CSV_HEADER = ["layer", "channel", "rank", "activation", "image_id", "label", "y", "x",
              "rf_top", "rf_left", "rf_bottom", "rf_right"]


@dataclasses.dataclass
class LayerTop9:
    """Top-9 panels of every feature map of one layer.

    Attributes:
        layer: layer name.
        values, image_ids, positions, boxes: ``(C, 9)``, ``(C, 9)``,
            ``(C, 9, 2)`` and ``(C, 9, 4)`` receptive-field boxes.
        projections, patches: ``(C, 9, h, w, 3)`` panels in [0, 1], NaN
            where the field was cut by the image border.
    """

    layer: str
    values: np.ndarray
    image_ids: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    projections: np.ndarray
    patches: np.ndarray

    def tile(self, channel, gap=1):
        """One map's tile: 3x3 projections, a gap, 3x3 patches, ``(h, w, 3)``."""
        return top_k_plot.tile(self.projections[channel], self.patches[channel], gap)


def find_layer(model, name):
    """A layer by name, following ``outer/inner/layer`` into nested models."""
    layer = model
    for part in name.split("/"):
        layer = layer.get_layer(part)
    return layer


def conv_layers(model, deconv):
    """Names of the Conv2D layers the deconvnet can project from, in order."""
    import keras

    names = []
    for name in deconv.layer_names:
        try:
            if isinstance(find_layer(model, name), keras.layers.Conv2D):
                names.append(name)
        except ValueError:
            continue
    return names


def full_field_size(deconv, layer):
    """``(h, w)`` of the layer's largest (unclipped) receptive field."""
    h, w, _ = deconv.layer_output_shape(layer)
    grid = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), -1).reshape(-1, 2)
    boxes = np.asarray(deconv.receptive_field(layer, grid)).reshape(-1, 4)
    return int((boxes[:, 2] - boxes[:, 0]).max()), int((boxes[:, 3] - boxes[:, 1]).max())


def top9_panels(deconv, model, images, raw_images, layers, k=K, chunk=256, verbose="auto", top=None):
    """Mines and draws the top-k panels of every map of `layers`.

    Args:
        deconv: `zfkeras.Deconvnet` of `model`.
        model: the Keras model.
        images: ``(N, H, W, C)`` preprocessed images (model input).
        raw_images: the same images as uint8 pixels (shown as patches).
        layers: layer names.
        k: activations per map (9 in the paper).
        chunk: projections computed per deconvnet call (bounds memory).
        verbose: progress bars over the mining and the projections: 0, 1 or
            "auto" (Keras' ``verbose``).
        top: dict layer -> `zfkeras.methods.top_activations.TopActivations` already known
            for these images (e.g. stored by ``zfkeras mine``); only the
            other layers are mined.

    Returns:
        dict layer -> `LayerTop9`.
    """
    from zfkeras.methods.top_activations import top_activations
    from zfkeras.utils.progress import progress_bar

    if len(images) < k:
        raise ValueError(f"need at least k={k} images to mine the top {k}, got {len(images)}")
    top = dict(top or {})
    missing = [layer for layer in layers if layer not in top]
    if missing:
        top.update(top_activations(model, images, missing, k=k, verbose=verbose))
    total = sum(np.asarray(top[l].image_ids).size for l in layers)
    bar = progress_bar(total, verbose, "projection")
    raw = np.asarray(raw_images, np.float32) / 255.0
    result = {}
    for layer in layers:
        values = np.asarray(top[layer].values, np.float32)
        ids = np.asarray(top[layer].image_ids, np.int64)
        positions = np.asarray(top[layer].positions, np.int64)
        channels_n, kk = ids.shape
        boxes = np.asarray(deconv.receptive_field(layer, positions.reshape(-1, 2))).reshape(channels_n, kk, 4)
        size = full_field_size(deconv, layer)
        flat_ids, flat_pos = ids.reshape(-1), positions.reshape(-1, 2)
        flat_ch, flat_box = np.repeat(np.arange(channels_n), kk), boxes.reshape(-1, 4)
        proj_panels = np.empty((channels_n * kk, size[0], size[1], 3), np.float32)
        patch_panels = np.empty_like(proj_panels)
        for start in range(0, len(flat_ids), chunk):
            stop = min(start + chunk, len(flat_ids))
            projected = deconv.project(images[flat_ids[start:stop]], Unit(layer, flat_ch[start:stop], flat_pos[start:stop]))
            for i in range(start, stop):
                t, l, b, r = flat_box[i]
                proj = projection_to_image(projected[i - start, t:b, l:r])
                patch = to_rgb(raw[flat_ids[i], t:b, l:r])
                proj_panels[i] = figures.place(proj, flat_box[i], size)
                patch_panels[i] = figures.place(patch, flat_box[i], size)
            if bar is not None:
                bar.add(stop - start)
        shape = (channels_n, kk) + proj_panels.shape[1:]
        result[layer] = LayerTop9(layer, values, ids, positions, boxes,
                                  proj_panels.reshape(shape), patch_panels.reshape(shape))
    return result


def choose_maps(top9, count, seed=0):
    """The maps shown in the figure: `count` random maps among the live ones.

    A map is live when its 9th-strongest activation is positive (it fires
    on at least 9 images). Drawn with `numpy.random.RandomState(seed)`,
    returned sorted.
    """
    live = np.flatnonzero(top9.values[:, -1] > 0)
    pool = live if len(live) >= count else np.arange(len(top9.values))
    chosen = np.random.RandomState(seed).choice(pool, min(count, len(pool)), replace=False)
    return np.sort(chosen)


def plot_fig2(panels, chosen, path, width=12.0):
    """Draws the paper's layout: one row of map tiles per layer (`zfkeras.plot.top_k` each)."""
    layers = list(chosen)
    # Row heights follow each row's aspect, so every row fills the width.
    heights = []
    for layer in layers:
        h, w, _ = panels[layer].tile(chosen[layer][0]).shape
        count = len(chosen[layer])
        heights.append(width * h / (count * w + (count - 1) * max(2, w // 8)) + 0.35)
    figure, axes = canvas.new_figure((width + 0.8, sum(heights)), len(layers), 1,
                                     gridspec_kw={"height_ratios": heights})
    for ax, layer in zip(axes[:, 0], layers):
        top_k(panels[layer], chosen[layer], layer=layer, ax=ax)
    figure.tight_layout(h_pad=0.4)
    figures.save_png(figure, path, dpi=120)


def csv_rows(panels, labels):
    """One CSV row per (layer, map, rank)."""
    rows = []
    for layer, top in panels.items():
        for c in range(top.values.shape[0]):
            for rank in range(top.values.shape[1]):
                image = int(top.image_ids[c, rank])
                rows.append([layer, c, rank + 1, float(top.values[c, rank]), image, int(labels[image]),
                             *map(int, top.positions[c, rank]), *map(int, top.boxes[c, rank])])
    return rows


def compute(run, verbose="auto", test_images=10000, k=K, seed=0):
    """Loads the run's model and `test_images` test images (drawn with `seed`) and mines every conv layer.

    Returns:
        (panels dict layer -> LayerTop9, raw_images, labels, layers, the
        layers whose top k were read from ``RUN_DIR/mined/``).
    """
    from zfkeras import Deconvnet

    try:
        model = run.load_model()
    except ValueError as e:
        raise SectionUnavailable(str(e)) from None
    try:
        import zfkeras.methods.top_activations  # noqa: F401
    except ImportError as e:
        raise SectionUnavailable(f"top-k mining is not available ({e})") from None
    # Same projections as the switch unpooling (tested), faster on CPU.
    deconv = Deconvnet(model, unpooling="max_pool_grad")
    layers = conv_layers(model, deconv)
    raw, labels = run.load_split("test", max_examples=test_images, seed=seed)
    images = run.preprocess(raw)
    stored = stored_top(run, layers, k, test_images, seed, len(raw))
    panels = top9_panels(deconv, model, images, raw, layers, k=k, verbose=verbose, top=stored)
    return panels, raw, labels, layers, list(stored)


def stored_top(run, layers, k, test_images, seed, num_images):
    """The layers' top ``k`` stored by ``zfkeras mine`` for these images and this model (dict; may be empty)."""
    from zfkeras.runs import mined

    found = {layer: mined.load_top_activations(run, layer, k=k, split="test", max_images=test_images, seed=seed,
                                               num_images=num_images) for layer in layers}
    return {layer: top for layer, top in found.items() if top is not None}


def report_section(run, out_dir, verbose="auto", *, test_images=10000, k=K, maps_per_layer=6, seed=0):
    """The Fig. 2 section and the explorer page (see `zfkeras.analysis.report.section`).

    Args:
        test_images: test images mined (a seeded draw of the run's test split).
        k: activations per map (9 in the paper).
        maps_per_layer: maps per layer the figure shows (the explorer shows all).
        seed: seed of the image draw and of the maps shown.
    """
    from zfkeras.analysis.report import explorer

    panels, raw, labels, layers, reused = compute(run, verbose=verbose, test_images=test_images, k=k, seed=seed)
    # One draw per layer (seed + layer index), so equal-sized layers do not show the same map numbers.
    chosen = {layer: choose_maps(panels[layer], maps_per_layer, seed + i)
              for i, layer in enumerate(layers)}
    plot_fig2(panels, chosen, out_dir / FIGURE)
    tables.write_csv(out_dir / NUMBERS, CSV_HEADER, csv_rows(panels, labels))
    class_names = _class_names(run)
    explorer_files = explorer.write_explorer(out_dir, panels, labels, class_names, title=str(run.path.name))
    model_name = (run.config or {}).get("model", "model")
    caption = (
        "Reproduces the paper's <b>Fig. 2</b> (visualisation of features in a fully trained model). "
        f"Rows are layers ({', '.join(html.escape(l) for l in layers)}); for {maps_per_layer} "
        f"feature maps per layer, drawn at random (seed {seed} + layer index) among those that fire on at least "
        "9 images, a 3x3 block of the top-9 activations projected to pixels by the deconvnet (left) beside the "
        "3x3 block of the matching image patches (right). The top 9 are the 9 images whose strongest activation "
        f"of the map is largest, over {len(raw)} images of the run's test split (images never used for training "
        "or annealing; the paper uses the ImageNet validation set), each projected alone from that one activation "
        "at its position. Every panel is cut to the unit's receptive field; fields cut by the image border are "
        "placed against their uncut side and the cut-off part is pale blue. Projections are contrast-normalised per panel "
        "as 0.5 + x / (2 max|x|) (zero is grey); grey inputs are shown grey. "
        f"Model: {figures.run_description(run)}; {html.escape(str(model_name))}'s {len(layers)} conv layers. "
        f"Made by <code>zfkeras report {html.escape(str(run.path))}</code>. Every map of every layer: "
        f"<a href=\"{explorer.PAGE}\">the explorer</a>; activations, image ids, positions and receptive fields of "
        f"all maps: <a href=\"{NUMBERS}\">{NUMBERS}</a>. {_reuse_note(reused, layers)}{machine.measured_on()}"
    )
    body = (figures.img_html(FIGURE, "Fig. 2: top-9 projections and patches per layer")
            + f'<p><a href="{explorer.PAGE}">Open the explorer</a>: any layer, any feature map.</p>')
    return Section("fig2", "Fig. 2: top-9 activations, projected and as image patches", caption, body,
                   [FIGURE, NUMBERS] + explorer_files)


def _reuse_note(reused, layers):
    """The caption's sentence on where the top 9 come from."""
    if not reused:
        return "The top 9 were mined for this report (<code>zfkeras mine</code> stores them for reuse). "
    which = "every layer" if len(reused) == len(layers) else ", ".join(html.escape(l) for l in reused)
    return (f"The top 9 of {which} were reused from <code>{layout.MINED}/</code> (written by <code>zfkeras "
            "mine</code> from the same images and the same model.keras), not mined again. ")


def _class_names(run):
    try:
        return [str(c) for c in run.class_names]
    except (ValueError, OSError):
        return []
