"""The report's explorer: any layer, any feature map, its top 9.

``explorer.html`` is plain HTML and JavaScript that works from file:// (no
server, no fetch): the index of every map (activations, image ids, labels)
is a script, ``explorer/data.js``, and the pictures are one sprite PNG per
layer, ``explorer/<layer>.png``, holding every map's tile (3x3 projections
beside 3x3 patches, as in Fig. 2) one under the other. The page shows one
tile by clipping the sprite, scaled up with square pixels.
"""

import html
import json
import re

import numpy as np

from zfkeras.analysis.output import figures

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
    from zfkeras.atomic import atomic_path, write_json_atomic

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
    with atomic_path(out_dir / PAGE) as tmp:
        with open(tmp, "w") as f:
            f.write(_PAGE.replace("{{TITLE}}", html.escape(title)).replace("{{DATA}}", DATA))
    return files + [INDEX, DATA, PAGE]


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>zfkeras explorer: {{TITLE}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
#view{overflow:hidden;border:1px solid #ccc;margin:1em 0;background:#fff}
#sprite{display:block;image-rendering:pixelated;max-width:none}
label{margin-right:1em} table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
.caption{font-size:.9em;color:#333;background:#f6f6f6;padding:.6em .8em;border-left:3px solid #999}
</style></head><body>
<p><a href="index.html">&larr; back to the report</a></p>
<h1>Feature map explorer: {{TITLE}}</h1>
<p><label>Layer <select id="layer"></select></label>
<label>Feature map <select id="map"></select></label>
<button id="prev" type="button">&larr; previous map</button>
<button id="next" type="button">next map &rarr;</button></p>
<h2 id="heading"></h2>
<div id="view"><img id="sprite" alt="top-9 projections and patches"></div>
<table id="top9"><thead><tr><th>rank</th><th>activation</th><th>test image</th><th>label</th></tr></thead>
<tbody></tbody></table>
<p class="caption">For the chosen feature map: the 9 test images whose strongest activation of that map is
largest, each activation projected to pixels by the deconvnet (left 3x3 block) and the image patch under the
unit's receptive field (right 3x3 block), ranked left to right, top to bottom. Projections are
contrast-normalised per panel (0.5 + x / (2 max|x|), zero is grey); pale blue marks the part of a receptive field
cut off by the image border. This is the paper's Fig. 2 for every map of every conv layer; the numbers are in
<a href="explorer/index.json">explorer/index.json</a>.</p>
<script src="{{DATA}}"></script>
<script>
(function () {
  "use strict";
  var data = window.ZF_EXPLORER;
  var layerSel = document.getElementById("layer"), mapSel = document.getElementById("map");
  var img = document.getElementById("sprite"), view = document.getElementById("view");
  var TARGET_HEIGHT = 300;
  data.layers.forEach(function (layer, i) {
    layerSel.add(new Option(layer.name + " (" + layer.maps.length + " maps)", String(i)));
  });
  function fillMaps() {
    var layer = data.layers[+layerSel.value];
    mapSel.innerHTML = "";
    layer.maps.forEach(function (m, c) {
      mapSel.add(new Option("map " + c + " (top " + m.values[0].toFixed(2) + ")", String(c)));
    });
  }
  function show() {
    var layer = data.layers[+layerSel.value], c = +mapSel.value, m = layer.maps[c];
    var scale = Math.max(1, Math.floor(TARGET_HEIGHT / layer.tile_h));
    if (img.getAttribute("src") !== layer.sprite) { img.setAttribute("src", layer.sprite); }
    img.style.width = (layer.tile_w * scale) + "px";
    img.style.height = (layer.tile_h * layer.maps.length * scale) + "px";
    img.style.marginTop = (-c * layer.tile_h * scale) + "px";
    view.style.width = (layer.tile_w * scale) + "px";
    view.style.height = (layer.tile_h * scale) + "px";
    document.getElementById("heading").textContent =
      layer.name + ", feature map " + c + ": projections | image patches";
    var body = document.querySelector("#top9 tbody");
    body.innerHTML = "";
    m.values.forEach(function (v, r) {
      var row = body.insertRow();
      [String(r + 1), v.toFixed(3), "#" + m.image_ids[r], m.labels[r]].forEach(function (t) {
        row.insertCell().textContent = t;
      });
    });
    try { history.replaceState(null, "", "#" + encodeURIComponent(layer.name) + "/" + c); } catch (e) { /* file:// may refuse */ }
  }
  function fromHash() {
    var parts = decodeURIComponent(location.hash.slice(1)).split("/");
    var c = parseInt(parts.pop(), 10), name = parts.join("/");
    var i = data.layers.findIndex(function (l) { return l.name === name; });
    if (i < 0) { i = 0; c = 0; }
    layerSel.value = String(i); fillMaps();
    mapSel.value = String(c >= 0 && c < data.layers[i].maps.length ? c : 0);
  }
  layerSel.addEventListener("change", function () { fillMaps(); mapSel.value = "0"; show(); });
  mapSel.addEventListener("change", show);
  function step(d) {
    var n = data.layers[+layerSel.value].maps.length;
    mapSel.value = String((+mapSel.value + d + n) % n); show();
  }
  document.getElementById("prev").addEventListener("click", function () { step(-1); });
  document.getElementById("next").addEventListener("click", function () { step(1); });
  fromHash(); show();
})();
</script></body></html>
"""
