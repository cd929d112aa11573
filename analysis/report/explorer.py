"""The report's explorer: any layer, any feature map, its top 9.

``explorer.html`` is plain HTML and JavaScript that works from file:// (no
server, no fetch): the index of every map (activations, image ids, labels)
is a script, ``explorer/data.js``, and the pictures are one sprite PNG per
layer, ``explorer/<layer>.png``, holding every map's tile (3x3 projections
beside 3x3 patches, as in Fig. 2) one under the other. The page shows one
tile by clipping the sprite, scaled up with square pixels. The page is the
template ``templates/explorer.html`` (`pages`).
"""

import json
import re

import numpy as np

from zfkeras.analysis.output import figures
from zfkeras.analysis.report.pages import render

PAGE = "explorer.html"
FOLDER = "explorer"
DATA = f"{FOLDER}/data.js"
INDEX = f"{FOLDER}/index.json"


def sprite_name(layer):
    """File name of a layer's sprite (nested-model slashes made safe)."""
    return f"{FOLDER}/{re.sub(r'[^A-Za-z0-9_.-]+', '_', layer)}.png"


def explorer_index(panels, labels, class_names):
    """The JSON-able index of every map: what data.js holds.

    Args:
        panels: dict layer -> `fig2_top9.LayerTop9`.
        labels: label of every mined image (indexed by image id).
        class_names: label names (may be empty).

    Returns:
        dict with ``layers``: list of {name, sprite, tile_h, tile_w, maps:
        [{values, image_ids, labels}]}.
    """
    def label_name(label):
        return class_names[label] if 0 <= label < len(class_names) else str(label)

    layers = []
    for layer, top in panels.items():
        tile = top.tile(0)
        maps = []
        for c in range(top.values.shape[0]):
            ids = [int(i) for i in top.image_ids[c]]
            maps.append({
                "values": [round(float(v), 4) for v in top.values[c]],
                "image_ids": ids,
                "labels": [label_name(int(labels[i])) for i in ids],
            })
        layers.append({"name": layer, "sprite": sprite_name(layer), "tile_h": int(tile.shape[0]),
                       "tile_w": int(tile.shape[1]), "maps": maps})
    return {"layers": layers}


def write_explorer(out_dir, panels, labels, class_names, title=""):
    """Writes explorer.html, its data script and one sprite per layer.

    Args:
        out_dir: the report folder (pathlib.Path).
        panels: dict layer -> `fig2_top9.LayerTop9` (every map).
        labels: labels of the mined images, by image id.
        class_names: label names.
        title: shown in the page heading (the run's name).

    Returns:
        list of the files written, relative to `out_dir`.
    """
    from zfkeras.utils.atomic import atomic_path, write_json_atomic

    (out_dir / FOLDER).mkdir(parents=True, exist_ok=True)
    files = []
    for layer, top in panels.items():
        tiles = [top.tile(c) for c in range(top.values.shape[0])]
        figures.save_image_array(np.concatenate(tiles, axis=0), out_dir / sprite_name(layer))
        files.append(sprite_name(layer))
    index = explorer_index(panels, labels, class_names)
    write_json_atomic(out_dir / INDEX, index)
    with atomic_path(out_dir / DATA) as tmp:
        with open(tmp, "w") as f:
            f.write("window.ZF_EXPLORER = " + json.dumps(index, separators=(",", ":")) + ";\n")
    page = render("explorer.html", title=title, data_script=DATA, index_file=INDEX)
    with atomic_path(out_dir / PAGE) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(page)
    return files + [INDEX, DATA, PAGE]

