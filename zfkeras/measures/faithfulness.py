"""Faithfulness of an explanation map: deletion and insertion (Petsiuk et al.
2018) and the paper's occlusion test generalised.

**Deletion**: the pixels are removed (set to ``fill``) in the map's order,
most important first, in ``steps`` equal stages; the class probability is
measured at each stage (``steps + 1`` points, from the image to all
removed) and the score is the area under that curve (trapezoids, the
x-axis the fraction removed): lower means the map found what the class
needs. **Insertion** starts from the filled image and puts the pixels back
in the same order: higher is better. The counts per stage, the mean over
channels of a colour map and the trapezoids are Xplique's `Deletion` /
`Insertion` (cross-checked in benchmarks/xplique_methods.py); the ordering
of equal map values is the stable row-major one.

**Occlusion drop** (Zeiler & Fergus Sec. 4.2, "occluding the region of the
image where the projection is ... silences the feature"): for one unit,
the activation at its strongest position drops by a fraction when the
``size x size`` square holding most of the map's mass is occluded; the
score is that drop minus the drop for a random square of the same size
(seeded): positive when the map locates what the unit reads.

The class probability is the model's output for the class when the model
ends in a softmax, the softmax of its output otherwise.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from zfkeras.methods.grad_cam import _Forward, _is_softmax, batched
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import index_array, int_pair, one_of, positive_int

METRICS = ("deletion", "insertion", "occlusion_drop")

__all__ = ["faithfulness", "occlusion_drop", "Faithfulness", "METRICS"]


@dataclasses.dataclass
class Faithfulness:
    """Per-image scores of one metric.

    Attributes:
        metric: ``"deletion"``, ``"insertion"`` or ``"occlusion_drop"``.
        scores: float64 ``(N,)``: the area under each image's curve, or its
            occlusion-drop difference (NaN where the unit is not active).
        mean, std: over the images (NaN ignored).
        details: deletion/insertion: ``fractions`` ``(steps + 1,)`` and
            ``curves`` ``(N, steps + 1)``, ``classes``; occlusion_drop:
            ``map_drop``, ``random_drop`` ``(N,)``, ``map_boxes``,
            ``random_boxes`` ``(N, 4)`` (top, left, bottom, right),
            ``positions`` ``(N, 2)``, ``values`` ``(N,)``.
    """

    metric: str
    scores: np.ndarray
    mean: float
    std: float
    details: dict


def _result(metric, scores, details):
    scores = np.asarray(scores, np.float64)
    finite = scores[np.isfinite(scores)]
    mean = float(finite.mean()) if finite.size else float("nan")
    std = float(finite.std()) if finite.size else float("nan")
    return Faithfulness(metric, scores, mean, std, details)


def _importance(maps, images):
    maps = np.asarray(maps, np.float32)
    if maps.shape[:3] != images.shape[:3] or maps.ndim not in (3, 4):
        raise ValueError(f"maps must be (N, H, W) or (N, H, W, C) like the images {images.shape}; "
                         f"got {maps.shape}")
    return maps.mean(axis=-1) if maps.ndim == 4 else maps  # Xplique's channel rule


def _baseline(images, fill):
    if isinstance(fill, str):
        one_of(fill, "fill", ("blur",))
        return blur(images)
    return np.full_like(images, float(fill))


def blur(images, sigma=None):
    """Gaussian blur per channel; ``sigma`` default ``min(H, W) / 45`` (5 px at
    224 px, Petsiuk et al.'s insertion baseline)."""
    sigma = sigma or max(min(images.shape[1:3]) / 45.0, 0.5)
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = (taps / taps.sum()).astype(np.float32)
    c = images.shape[-1]
    x = tf.constant(images, tf.float32)
    pad = [[0, 0], [radius, radius], [radius, radius], [0, 0]]
    x = tf.pad(x, pad, mode="SYMMETRIC" if radius < min(images.shape[1:3]) else "CONSTANT")
    for kernel in (taps.reshape(-1, 1, 1, 1), taps.reshape(1, -1, 1, 1)):
        x = tf.nn.depthwise_conv2d(x, np.tile(kernel, (1, 1, c, 1)), [1, 1, 1, 1], "VALID")
    return x.numpy()


def _ends_in_softmax(model):
    last = model
    while hasattr(last, "layers") and last.layers:
        last = last.layers[-1]
    return _is_softmax(getattr(last, "activation", None)) or type(last).__name__ == "Softmax"


def _probabilities(model, images, batch_size):
    out = model.predict(images, batch_size=batch_size, verbose=0)
    return out if _ends_in_softmax(model) else tf.nn.softmax(out, axis=-1).numpy()


def _causal(model, images, importance, metric, steps, fill, classes, batch_size, verbose):
    n = len(images)
    pixels = importance[0].size
    order = np.argsort(-importance.reshape(n, -1), axis=1, kind="stable")
    counts = np.linspace(0, pixels, steps + 1, dtype=np.int32)
    baseline = _baseline(images, fill)
    start, end = (images, baseline) if metric == "deletion" else (baseline, images)
    if classes is None:
        classes = _probabilities(model, images, batch_size).argmax(axis=1)
    count = int(model.outputs[0].shape[-1])
    classes = index_array(classes, "classes", n, count, "class index",
                          f"model {model.name!r}, which has {count} classes", broadcast=True)
    flat_start = start.reshape(n, pixels, -1)
    flat_end = end.reshape(n, pixels, -1)
    rows = np.arange(n)[:, None]
    curves = np.empty((n, steps + 1))
    bar = progress_bar(steps + 1, verbose, "step")
    for j, k in enumerate(counts):
        batch = flat_start.copy()
        batch[rows, order[:, :k]] = flat_end[rows, order[:, :k]]
        probabilities = _probabilities(model, batch.reshape(images.shape), batch_size)
        curves[:, j] = probabilities[np.arange(n), classes]
        if bar is not None:
            bar.add(1)
    auc = ((curves[:, :-1] + curves[:, 1:]) * 0.5).mean(axis=1)
    return _result(metric, auc, dict(fractions=counts / pixels, curves=curves, classes=classes))


def faithfulness(model, inputs, maps, metric="deletion", steps=10, fill=0.0, classes=None, unit=None,
                 size=None, seed=0, batch_size=DEFAULT_BATCH_SIZE, verbose="auto"):
    """How faithful explanation ``maps`` are to ``model`` on ``inputs``.

    Args:
        model: a Keras image classifier (single input and output).
        inputs: ``(N, H, W, C)`` images, preprocessed as the model expects.
        maps: ``(N, H, W)`` or ``(N, H, W, C)`` importance (a colour map is
            averaged over its channels); larger is more important.
        metric: ``"deletion"``, ``"insertion"`` (class probability; AUC) or
            ``"occlusion_drop"`` (a unit; see `occlusion_drop`).
        steps: stages from none to all pixels (deletion, insertion).
        fill: what a removed pixel becomes: a number, or ``"blur"`` (a
            Gaussian blur of the image, `blur`).
        classes: None (each image's predicted class), an int or ``(N,)``.
        unit, size, seed: for ``"occlusion_drop"``.
        batch_size, verbose: as everywhere.

    Returns:
        `Faithfulness`.
    """
    one_of(metric, "metric", METRICS)
    if metric == "occlusion_drop":
        if unit is None or size is None:
            raise ValueError("metric 'occlusion_drop' needs unit=(layer, channel) and size=")
        return occlusion_drop(model, inputs, unit, maps, size, fill=fill, seed=seed, batch_size=batch_size)
    batch_size = positive_int(batch_size, "batch_size")
    steps = positive_int(steps, "steps")
    check_verbose(verbose)
    images = check_images(inputs, tuple(model.inputs[0].shape[1:]), model.name)
    return _causal(model, images, _importance(maps, images), metric, steps, fill, classes, batch_size,
                   verbose)


def _best_boxes(importance, size):
    """Top-left of the ``size`` square with the largest sum of ``|importance|``."""
    n, h, w = importance.shape
    sh, sw = size
    c = np.zeros((n, h + 1, w + 1))
    c[:, 1:, 1:] = np.abs(importance).cumsum(1).cumsum(2)
    sums = c[:, sh:, sw:] - c[:, :-sh, sw:] - c[:, sh:, :-sw] + c[:, :-sh, :-sw]
    flat = sums.reshape(n, -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, sums.shape[1:]), axis=1)


def occlusion_drop(model, inputs, unit, maps, size, fill=0.0, seed=0, batch_size=DEFAULT_BATCH_SIZE):
    """The paper's occlusion test for one unit, against a random square.

    Args:
        model: a Keras convnet; ``unit`` ``(layer, channel)`` names one of its
            feature maps (``outer/inner/layer`` inside nested models).
        inputs: ``(N, H, W, C)`` images.
        maps: ``(N, H, W)`` or ``(N, H, W, C)``: where the unit's picture is
            (e.g. its projection); the square with the most ``|map|`` is occluded.
        size: side of the square (int or ``(h, w)``), at most the image's.
        fill: the occluder's value, or ``"blur"``.
        seed: of the random squares.

    Returns:
        `Faithfulness` with scores ``map_drop - random_drop``, each drop
        ``(a - a_occluded) / a`` of the unit's activation ``a`` at its
        strongest position in the unoccluded image (NaN where ``a <= 0``).
    """
    batch_size = positive_int(batch_size, "batch_size")
    images = check_images(inputs, tuple(model.inputs[0].shape[1:]), model.name)
    importance = _importance(maps, images)
    size = int_pair(size, "size")
    n, h, w, _ = images.shape
    if size[0] > h or size[1] > w:
        raise ValueError(f"size {size} is larger than the images ({h}, {w})")
    forward = _Forward(model)
    layer, channel = unit
    target = forward.step(layer).output
    index_array(channel, "unit channel", 1, forward.step(layer).shape[-1], "channel",
                f"layer {layer!r}", broadcast=True)

    @tf.function(reduce_retracing=True, autograph=False)
    def unit_maps(x):
        return forward(x)[0][target][..., channel]

    clean = batched(unit_maps, [images], batch_size, 0)
    flat = clean.reshape(n, -1).argmax(axis=1)
    positions = np.stack(np.unravel_index(flat, clean.shape[1:]), axis=1)
    values = clean.reshape(n, -1)[np.arange(n), flat]
    rng = np.random.RandomState(seed)
    corners = {"map": _best_boxes(importance, size),
               "random": np.stack([rng.randint(0, h - size[0] + 1, n), rng.randint(0, w - size[1] + 1, n)], 1)}
    baseline = _baseline(images, fill)
    details = dict(positions=positions, values=values)
    drops = {}
    for name, corner in corners.items():
        occluded = images.copy()
        for i, (t, l) in enumerate(corner):
            occluded[i, t:t + size[0], l:l + size[1]] = baseline[i, t:t + size[0], l:l + size[1]]
        after = batched(unit_maps, [occluded], batch_size, 0)[np.arange(n), positions[:, 0], positions[:, 1]]
        with np.errstate(divide="ignore", invalid="ignore"):
            drops[name] = np.where(values > 0, (values - after) / np.where(values > 0, values, 1), np.nan)
        details[f"{name}_drop"] = drops[name]
        details[f"{name}_boxes"] = np.concatenate([corner, corner + np.array(size)], axis=1)
    return _result("occlusion_drop", drops["map"] - drops["random"], details)
