"""One source's model, loaded once, and what the explorer computes with it.

A `Session` holds the model, its `zfkeras.Deconvnet` (unpooling
``"max_pool_grad"``: for the layers and receptive fields; the pictures of a
unit come from `zfkeras.explain` by the registered method chosen), the raw
images top 9 are mined over, and small caches; one lock
serialises the model calls of concurrent requests. Each method returns
plain JSON-able dicts whose pictures are PNG data URIs (`pictures`).
"""

import threading
from collections import OrderedDict

import numpy as np

from zfkeras.explore import pictures
from zfkeras.explore.params import BadRequest
from zfkeras.methods.unit import Unit

K = 9
THUMB_MAPS = 8          # maps per layer in an image's grid
GRID_LAYERS = 8         # layers in that grid (evenly spread, the last included)
TOP_CLASSES = 5
MAX_OCCLUSION_POSITIONS = 1024
_CACHE_SIZE = 256             # drawn units kept per session ...
_CACHE_BYTES = 32 << 20       # ... and at most this much of their pictures (a 224 px unit: ~2 MB)
_SUB_MODELS = 16              # layer-output models kept per session


def projection_methods():
    """The methods that explain a unit (the unit views' menu): the registry's
    ``method_names(units=True)``, read at each call so a method registered
    later is offered too."""
    from zfkeras.methods.registry import method_names

    return method_names(units=True)


def explanation_methods():
    """Every registered method (the menu of an image's class explanation)."""
    from zfkeras.methods.registry import method_names

    return method_names()


class _Cache(OrderedDict):
    """Least recently put first out, past ``size`` entries or ``max_bytes`` of their strings."""

    def __init__(self, size=_CACHE_SIZE, max_bytes=_CACHE_BYTES):
        super().__init__()
        self.size, self.max_bytes, self.bytes = size, max_bytes, 0
        self._lock = threading.Lock()

    def put(self, key, value):
        with self._lock:
            return self._put(key, value)

    def _put(self, key, value):
        if key in self:
            self.bytes -= _size(self.pop(key))
        self[key] = value
        self.bytes += _size(value)
        while len(self) > self.size or (self.bytes > self.max_bytes and len(self) > 1):
            self.bytes -= _size(self.popitem(last=False)[1])
        return value


def _size(value):
    """Bytes of the strings in a JSON-able value (its pictures' data URIs, mostly)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value)
    return 8


def _spread(names, count):
    """At most ``count`` of ``names``, evenly spaced, the last one included."""
    if len(names) <= count:
        return list(names)
    picks = np.unique(np.round(np.linspace(len(names) - 1, 0, count)).astype(int))
    return [names[i] for i in sorted(picks)]


class Session:
    """A loaded source (see `zfkeras.explore.sources`)."""

    def __init__(self, source):
        import keras

        from zfkeras import Deconvnet
        from zfkeras.graph.addressing import qualified_layer
        from zfkeras.graph.output import output_policy

        self.source = source
        self.lock = threading.RLock()
        self.model = source.load_model()
        self.deconv = Deconvnet(self.model, unpooling="max_pool_grad")
        self.layers, self.conv_layers = {}, []
        conv_types = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
        for name in self.deconv.layer_names:
            layer = qualified_layer(self.model, name)  # "outer/inner" inside nested models
            if isinstance(layer, keras.layers.InputLayer):
                continue
            self.layers[name] = tuple(int(d) for d in self.deconv.layer_output_shape(name))
            if isinstance(layer, conv_types):
                self.conv_layers.append(name)
        if not self.layers:
            raise BadRequest(f"{source.id}: the model has no feature-map layer the deconvnet can project")
        self.occlusion_layer = (self.conv_layers or list(self.layers))[-1]
        self.output = output_policy(self.model)  # the library's one logits-or-probabilities decision
        self.from_logits = self.output.from_logits
        self.class_names = source.class_names
        self._raw = self._labels = self._evolution = self._spectrum = None
        self._visualization_model, self.visualization_lock = None, threading.RLock()
        self._units, self._sub_models = _Cache(), _Cache(_SUB_MODELS, float("inf"))

    @property
    def methods(self):
        """The unit methods offered (`projection_methods`)."""
        return projection_methods()

    @property
    def explanation_methods(self):
        """The class-explanation methods offered (`explanation_methods`)."""
        return explanation_methods()

    # -- data ---------------------------------------------------------------

    def test_raw(self):
        """``(raw uint8 images, labels or None)`` mined over (loaded once)."""
        with self.lock:
            if self._raw is None:
                self._raw, self._labels = self.source.test_images()
            return self._raw, self._labels

    def spectrum(self):
        """``(raw uint8 images, what they are)`` whose spectrum MaCo keeps (`source.spectrum_images`, loaded once)."""
        with self.lock:
            if self._spectrum is None:
                self._spectrum = self.source.spectrum_images()
            return self._spectrum

    def visualization_model(self):
        """A second copy of the model, for feature visualisation alone (loaded once).

        Why: an optimisation holds its model for seconds per batch; on its
        own copy (guarded by ``visualization_lock``), it never makes the
        top 9, projections or occlusion wait for the session's ``lock``.
        """
        with self.visualization_lock:
            if self._visualization_model is None:
                self._visualization_model = self.source.load_model()
            return self._visualization_model

    def label_name(self, label):
        label = int(label)
        return self.class_names[label] if 0 <= label < len(self.class_names) else f"class {label}"

    def info(self):
        from zfkeras.methods.registry import registered_methods

        raw, _ = self.test_raw()
        evolution = self.evolution()
        return {
            "run": self.source.id, "title": self.source.title, "kind": self.source.kind,
            "input_shape": list(self.source.input_shape), "test_images": int(len(raw)),
            "layers": [{"name": n, "shape": list(s), "conv": n in self.conv_layers} for n, s in self.layers.items()],
            "default_layer": self.occlusion_layer, "occlusion_layer": self.occlusion_layer,
            "methods": list(self.methods), "explanation_methods": list(self.explanation_methods),
            "method_summaries": {m.name: m.summary for m in registered_methods()},
            "class_names": self.class_names,
            "evolution": {layer: [int(c) for c in records[0]["channels"]] for layer, records in evolution.items()
                          if layer in self.layers and records},
        }

    def evolution(self):
        with self.lock:
            if self._evolution is None:
                self._evolution = self.source.evolution()
            return self._evolution

    # -- units --------------------------------------------------------------

    def check_channel(self, layer, channel):
        count = self.layers[layer][2]
        if not 0 <= channel < count:
            raise BadRequest(f"map {channel} does not exist: layer {layer!r} has maps 0..{count - 1}")

    def unit(self, layer, channel, top, method):
        """Top-k panels (projection and patch, cut to the receptive field) of one map."""
        self.check_channel(layer, channel)
        key = (layer, channel, method)
        cached = self._units.get(key)
        if cached is not None:
            return cached
        raw, labels = self.test_raw()
        ids = np.asarray(top.image_ids[channel], np.int64)
        positions = np.asarray(top.positions[channel], np.int64)
        values = np.asarray(top.values[channel], np.float32)
        with self.lock:
            projected, map_only = self._project(self.source.preprocess(raw[ids]), layer, channel, positions, method)
            boxes = np.asarray(self.deconv.receptive_field(layer, positions)).reshape(-1, 4)
        panels = []
        for i, (image_id, (t, l, b, r)) in enumerate(zip(ids, boxes)):
            panels.append({
                "image": int(image_id), "value": round(float(values[i]), 4),
                "position": [int(v) for v in positions[i]], "box": [int(t), int(l), int(b), int(r)],
                "label": None if labels is None else self.label_name(labels[image_id]),
                "projection": self._unit_uri(projected[i], (t, l, b, r), method, map_only),
                "patch": pictures.raw_uri(raw[image_id, t:b, l:r]),
            })
        return self._units.put(key, {"layer": layer, "map": channel, "method": method, "panels": panels,
                                     "evolution": self.unit_evolution(layer, channel)})

    def unit_evolution(self, layer, channel):
        """Fig. 4 for one map: its recorded projection at every recorded epoch, or why there is none."""
        records = self.evolution().get(layer) or []
        recorded = sorted({int(c) for r in records for c in r["channels"]})
        epochs = []
        for record in records:
            where = np.flatnonzero(np.asarray(record["channels"]) == channel)
            if where.size:
                i = int(where[0])
                epochs.append({"epoch": int(record["epoch"]), "value": round(float(record["values"][i]), 4),
                               "image": pictures.projection_uri(record["projections"][i])})
        return {"epochs": epochs, "recorded_maps": recorded}

    def _project(self, images, layer, channel, position, method):
        """``((N, H, W, C) pictures, map_only)`` of one unit per image
        (``position[i]`` in image ``i``) by the registered ``method``, through
        `zfkeras.explain`: its per-channel attributions, or else its map
        (``map_only``, C = 1). A backward rule
        explains the batch in one call; another method (Grad-CAM explains
        one unit for every image) one image at a time."""
        from zfkeras import Unit, explain
        from zfkeras.methods.registry import get_method

        spec = get_method(method)
        positions = [tuple(int(v) for v in at) for at in np.asarray(position).reshape(-1, 2)]
        if spec.backward_rule is not None:
            groups = [(images, Unit(layer, int(channel), positions))]
        else:
            groups = [(image[None], Unit(layer, int(channel), at)) for image, at in zip(images, positions)]
        pictures_, map_only = [], False
        for x, unit in groups:
            found = explain(self.model, x, spec.name, unit, verbose=0)
            map_only = found.attributions is None
            pictures_.append(found.maps[..., None] if map_only else found.attributions)
        return np.concatenate(pictures_), map_only

    @staticmethod
    def _unit_uri(picture, box, method, map_only):
        """One image's `_project` picture, cut to ``box`` (None: whole), as a
        PNG: attributions and signed maps as projections are drawn
        (`pictures.projection_uri`), an unsigned map alone (Grad-CAM) from 0
        (black) to its maximum over the whole image (white), as the report
        draws it."""
        from zfkeras.methods.registry import get_method

        t, l, b, r = box if box is not None else (0, 0, picture.shape[0], picture.shape[1])
        spec = get_method(method)
        if map_only and not spec.signed:
            return pictures.activation_uri(picture[t:b, l:r, 0], peak=float(picture.max()))
        return pictures.projection_uri(picture[t:b, l:r])

    # -- one image ----------------------------------------------------------

    def _sub_model(self, names):
        names = tuple(names)
        model = self._sub_models.get(names)
        if model is None:
            from zfkeras.graph.addressing import layer_output_model

            model = self._sub_models.put(names, layer_output_model(self.model, list(names)))
        return model

    def _probabilities(self, x):
        return self.output.probabilities(np.asarray(self.model(x, training=False)))[0].astype(np.float64)

    def analyze(self, raw):
        """Top classes and, per layer, the maps that respond most to one raw image."""
        x = self.source.preprocess(raw[None])
        names = _spread(self.conv_layers or list(self.layers), GRID_LAYERS)
        with self.lock:
            probabilities = self._probabilities(x)
            outputs = self._sub_model(names)(x, training=False)
        outputs = [np.asarray(o)[0] for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
        order = np.argsort(-probabilities)[:TOP_CLASSES]
        grid = []
        for name, maps in zip(names, outputs):
            peaks = maps.reshape(-1, maps.shape[-1]).max(axis=0)
            strongest = np.argsort(-peaks, kind="stable")[:THUMB_MAPS]
            grid.append({"layer": name, "maps": [
                {"map": int(c), "value": round(float(peaks[c]), 4), "thumb": pictures.activation_uri(maps[..., c])}
                for c in strongest]})
        return {"image": pictures.raw_uri(raw), "layers": grid,
                "top": [{"label": self.label_name(c), "class": int(c), "p": round(float(probabilities[c]), 5)}
                        for c in order]}

    def project_image(self, raw, layer, channel, position, method):
        """One unit of one image projected (at ``position`` or its strongest), with its activation map."""
        self.check_channel(layer, channel)
        height, width, _ = self.layers[layer]
        if position is not None and not (0 <= position[0] < height and 0 <= position[1] < width):
            raise BadRequest(f"position {tuple(position)} is outside layer {layer!r}'s {height}x{width} maps")
        x = self.source.preprocess(raw[None])
        with self.lock:
            maps = np.asarray(self._sub_model([layer])(x, training=False))[0, ..., channel]
            if position is None:
                position = tuple(int(v) for v in np.unravel_index(int(np.argmax(maps)), maps.shape))
            projected, map_only = self._project(x, layer, channel, np.asarray([position]), method)
            projected = projected[0]
            box = self.deconv.receptive_field(layer, position)
        return {"layer": layer, "map": channel, "method": method, "position": list(position),
                "value": round(float(maps[position]), 4), "box": list(box), "map_shape": [height, width],
                "projection": self._unit_uri(projected, None, method, map_only), "activation": pictures.activation_uri(maps)}

    def explain_image(self, raw, method, target=None):
        """One raw image's explanation of a class (``target``, default the
        predicted one) by the registered ``method``, as a picture: a signed
        map on a diverging scale symmetric about 0 (blue negative, red
        positive), an unsigned one from 0 (black) to its maximum (white)."""
        from zfkeras import explain
        from zfkeras.methods.registry import get_method

        spec = get_method(method)
        x = self.source.preprocess(raw[None])
        with self.lock:
            found = explain(self.model, x, spec.name, targets=target, verbose=0)
        target = int(found.targets[0])
        return {"method": spec.name, "summary": spec.summary, "signed": spec.signed, "class": target,
                "label": self.label_name(target), "channel_rule": found.channel_rule,
                "range": [round(float(found.maps.min()), 6), round(float(found.maps.max()), 6)],
                "map": pictures.map_uri(found.maps[0], spec.signed)}

    def occlude(self, raw, size, stride, method="auto"):
        """Fig. 7's three maps for one raw image, by `zfkeras.occlusion`'s ``method``
        (``"incremental"`` where the model has no incremental path: its InputError, a 400)."""
        from zfkeras import occlusion

        height, width, _ = self.source.input_shape
        if size > min(height, width):
            raise BadRequest(f"size {size} is larger than the image ({height}x{width})")
        positions = ((height - size) // stride + 1) * ((width - size) // stride + 1)
        if positions > MAX_OCCLUSION_POSITIONS:
            raise BadRequest(f"size {size} and stride {stride} give {positions} square positions; "
                             f"at most {MAX_OCCLUSION_POSITIONS}: take a larger stride")
        x = self.source.preprocess(raw[None])
        with self.lock:
            result = occlusion(self.model, x, size, stride, layer=self.occlusion_layer,
                               from_logits=self.from_logits, verbose=0, method=method)
        predicted = result.predicted_label[0]
        shown = [int(c) for c in np.unique(predicted)]
        palette = pictures.label_colors(len(shown))
        colours = np.zeros(max(shown) + 1, np.int64)
        colours[shown] = np.arange(len(shown))
        activity = result.layer_activity[0]
        return {
            "size": size, "stride": stride, "method": result.method, "grid": list(predicted.shape),
            "computed": int(result.computed[0].sum()),
            "true_label": self.label_name(result.true_label[0]),
            "unoccluded_probability": round(float(result.unoccluded_probability[0]), 5),
            "probability": pictures.colormap_uri(result.class_probability[0], 0.0, 1.0),
            "probability_range": [round(float(result.class_probability[0].min()), 4),
                                  round(float(result.class_probability[0].max()), 4)],
            "label": pictures.label_map_uri(colours[predicted], palette),
            "legend": [{"label": self.label_name(c), "color": palette[i]} for i, c in enumerate(shown)],
            "activity": pictures.colormap_uri(activity, float(activity.min()), float(activity.max()), "viridis"),
            "layer": self.occlusion_layer, "channel": int(result.strongest_channel[0]),
        }
