"""Faithfulness of an explanation map: deletion and insertion (Petsiuk et al.
2018) and the paper's occlusion test generalised.

**Deletion**: the pixels are removed (set to the ``baseline``,
`zfkeras.utils.baselines`: by default the per-channel mean) in the map's order,
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
ends in a softmax, the softmax of its output otherwise (the one output
policy, `zfkeras.graph.output`; ``from_logits`` overrides it).
"""

import dataclasses
import types
import warnings
from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from zfkeras.graph.output import output_policy
from zfkeras.graph.positions import strongest_positions
from zfkeras.methods.explanation import Explanation
from zfkeras.methods.grad_cam import _Forward
from zfkeras.methods.unit import Unit, as_unit
from zfkeras.utils.baselines import DEFAULT_BASELINE, blur, resolve_baseline
from zfkeras.utils.batches import batched
from zfkeras.utils.compat import renamed_arguments
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images, model_input_shape
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import index_array, int_pair, one_of, positive_int

METRICS = ("deletion", "insertion", "occlusion_drop")
DEFAULT_STEPS = 10

# The options each metric reads; any other option given raises.
_METRIC_OPTIONS = {"deletion": {"steps", "targets", "from_logits"},
                   "insertion": {"steps", "targets", "from_logits"},
                   "occlusion_drop": {"unit", "size", "seed"}}

__all__ = ["faithfulness", "occlusion_drop", "Faithfulness", "METRICS", "blur"]


@dataclasses.dataclass(frozen=True, eq=False)
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

    Read-only: the arrays cannot be written, ``details`` cannot be changed.
    """

    metric: str
    scores: np.ndarray
    mean: float
    std: float
    details: Mapping[str, Any]


def _read_only(value):
    if isinstance(value, np.ndarray):
        value = value.copy()
        value.setflags(write=False)
    return value


def _result(metric, scores, details):
    scores = np.asarray(scores, np.float64)
    finite = scores[np.isfinite(scores)]
    mean = float(finite.mean()) if finite.size else float("nan")
    std = float(finite.std()) if finite.size else float("nan")
    details = types.MappingProxyType({k: _read_only(v) for k, v in details.items()})
    return Faithfulness(metric, _read_only(scores), mean, std, details)


def _importance(maps, images):
    maps = np.asarray(maps, np.float32)
    if maps.shape[:3] != images.shape[:3] or maps.ndim not in (3, 4):
        raise InputError(f"maps must be (N, H, W) or (N, H, W, C) like the images {images.shape}; "
                         f"got {maps.shape}")
    return maps.mean(axis=-1) if maps.ndim == 4 else maps  # Xplique's channel rule


def _baseline_images(images, baseline):
    """The image-sized baseline (`zfkeras.utils.baselines`, ``"blur"`` allowed)."""
    return np.broadcast_to(resolve_baseline(baseline, images, allow_blur=True), images.shape).astype(np.float32)


def _maps_of(model, images, explanation, targets, batch_size, verbose):
    """``(maps, targets)`` of an `Explanation`, a registered method's name
    (computed by `zfkeras.explain`) or maps (with the ``targets`` given)."""
    if isinstance(explanation, str):
        from zfkeras.methods.explain import explain

        explanation = explain(model, images, explanation, targets, batch_size=batch_size, verbose=verbose)
    if isinstance(explanation, Explanation):
        given = explanation.targets
        if targets is not None and not isinstance(given, Unit) and not np.array_equal(
                np.broadcast_to(np.asarray(targets), given.shape), given):
            raise InputError(f"targets={targets!r} differ from those the explanation explains "
                             f"({given.tolist()}); leave targets out")
        return explanation.maps, given if targets is None else targets
    if isinstance(explanation, (list, tuple)) or hasattr(explanation, "shape"):
        return explanation, targets
    raise InputTypeError(f"explanation must be a zfkeras.Explanation, a registered method's name or maps "
                         f"(N, H, W[, C]); got {explanation!r} of type {type(explanation).__name__}")


def _probabilities(model, policy, images, batch_size):
    return policy.probabilities(model.predict(images, batch_size=batch_size, verbose=0))


def _causal(model, images, importance, metric, steps, baseline, classes, policy, batch_size, verbose):
    n = len(images)
    pixels = importance[0].size
    order = np.argsort(-importance.reshape(n, -1), axis=1, kind="stable")
    counts = np.linspace(0, pixels, steps + 1, dtype=np.int32)
    filled = _baseline_images(images, baseline)
    start, end = (images, filled) if metric == "deletion" else (filled, images)
    if classes is None:
        classes = _probabilities(model, policy, images, batch_size).argmax(axis=1)
    count = int(model.outputs[0].shape[-1])
    classes = index_array(classes, "targets", n, count, "class index",
                          f"model {model.name!r}, which has {count} classes", broadcast=True)
    flat_start = start.reshape(n, pixels, -1)
    flat_end = end.reshape(n, pixels, -1)
    rows = np.arange(n)[:, None]
    curves = np.empty((n, steps + 1))
    bar = progress_bar(steps + 1, verbose, "step")
    for j, k in enumerate(counts):
        batch = flat_start.copy()
        batch[rows, order[:, :k]] = flat_end[rows, order[:, :k]]
        probabilities = _probabilities(model, policy, batch.reshape(images.shape), batch_size)
        curves[:, j] = probabilities[np.arange(n), classes]
        if bar is not None:
            bar.add(1)
    auc = ((curves[:, :-1] + curves[:, 1:]) * 0.5).mean(axis=1)
    return _result(metric, auc, dict(fractions=counts / pixels, curves=curves, classes=classes))


@renamed_arguments(maps="explanation", classes="targets", fill="baseline")
def faithfulness(model, inputs, explanation, metric="deletion", steps=None, baseline=DEFAULT_BASELINE,
                 targets=None, unit=None, size=None, seed=None, from_logits=None,
                 batch_size=DEFAULT_BATCH_SIZE, verbose="auto"):
    """How faithful an explanation is to ``model`` on ``inputs``.

    Args:
        model: a Keras image classifier (single input and output).
        inputs: ``(N, H, W, C)`` images, preprocessed as the model expects.
        explanation: a `zfkeras.Explanation` (its maps and targets), a
            registered method's name (computed by `zfkeras.explain` for
            ``targets``), or maps ``(N, H, W)`` or ``(N, H, W, C)`` (a
            colour map is averaged over its channels); larger is more
            important.
        metric: ``"deletion"``, ``"insertion"`` (class probability; AUC) or
            ``"occlusion_drop"`` (a unit; `occlusion_drop`, to which
            ``unit``, ``size``, ``seed`` and ``baseline`` go).
        steps: deletion and insertion only: stages from none to all pixels
            (default 10).
        baseline: what a removed pixel becomes (docs/METHODS.md,
            "Baselines"): ``"mean"`` (default), a number, one value per
            channel, or ``"blur"`` (a Gaussian blur of the image).
        targets: deletion and insertion only: the classes, None (the
            explanation's, else each image's predicted class), an int or
            ``(N,)``.
        unit, size, seed: occlusion_drop only (`occlusion_drop`); ``unit``
            defaults to an explanation's unit.
        from_logits: deletion and insertion only: None (detect), True or
            False (`zfkeras.graph.output`).
        batch_size, verbose: as everywhere.

    Returns:
        `Faithfulness`.

    Raises:
        InputError: an unknown metric, an option the metric does not read
            (e.g. ``steps`` with ``"occlusion_drop"``), bad maps or targets.
    """
    one_of(metric, "metric", METRICS)
    given = {name for name, value in (("steps", steps), ("targets", targets), ("unit", unit), ("size", size),
                                      ("seed", seed), ("from_logits", from_logits)) if value is not None}
    extra = sorted(given - _METRIC_OPTIONS[metric])
    if extra:
        raise InputError(f"metric {metric!r} does not use {', '.join(extra)}; it reads "
                         f"{', '.join(sorted(_METRIC_OPTIONS[metric]))} (and baseline, batch_size, verbose)")
    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    if metric == "occlusion_drop":
        if isinstance(explanation, Explanation) and unit is None and isinstance(explanation.targets, Unit):
            unit = explanation.targets
        if unit is None or size is None:
            raise InputError("metric 'occlusion_drop' needs unit=zfkeras.Unit(layer, channel) and size=")
        return occlusion_drop(model, inputs, explanation, unit, size, baseline=baseline,
                              seed=0 if seed is None else seed, batch_size=batch_size, verbose=verbose)
    steps = positive_int(DEFAULT_STEPS if steps is None else steps, "steps")
    images = check_images(inputs, model_input_shape(model), model.name)
    policy = output_policy(model, from_logits)
    maps, classes = _maps_of(model, images, explanation, targets, batch_size, verbose)
    if isinstance(classes, Unit):
        raise InputError(f"metric {metric!r} measures a class probability; the explanation explains {classes}: "
                         "give targets=, or use metric='occlusion_drop'")
    return _causal(model, images, _importance(maps, images), metric, steps, baseline, classes, policy,
                   batch_size, verbose)


def _best_boxes(importance, size):
    """Top-left of the ``size`` square with the largest sum of ``|importance|``."""
    n, h, w = importance.shape
    sh, sw = size
    c = np.zeros((n, h + 1, w + 1))
    c[:, 1:, 1:] = np.abs(importance).cumsum(1).cumsum(2)
    sums = c[:, sh:, sw:] - c[:, :-sh, sw:] - c[:, sh:, :-sw] + c[:, :-sh, :-sw]
    flat = sums.reshape(n, -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, sums.shape[1:]), axis=1)


def _old_order(maps, unit):
    """``(maps, unit)``, accepting the deprecated order ``(unit, maps)``."""
    if isinstance(maps, Unit) or (isinstance(maps, (tuple, list)) and maps and isinstance(maps[0], str)):
        warnings.warn("occlusion_drop(model, inputs, unit, maps, size) is deprecated and will be removed in "
                      "zfkeras 0.4.0; use occlusion_drop(model, inputs, maps, zfkeras.Unit(...), size)",
                      DeprecationWarning, stacklevel=3)
        return unit, maps
    return maps, unit


@renamed_arguments(fill="baseline")
def occlusion_drop(model, inputs, explanation, unit, size, *, baseline=DEFAULT_BASELINE, seed=0,
                   batch_size=DEFAULT_BATCH_SIZE, verbose="auto"):
    """The paper's occlusion test for one unit, against a random square.

    Args:
        model: a Keras convnet.
        inputs: ``(N, H, W, C)`` images.
        explanation: where the unit's picture is: a `zfkeras.Explanation`
            or maps ``(N, H, W)`` / ``(N, H, W, C)`` (e.g. its projection);
            the square with the most ``|map|`` is occluded.
        unit: a `zfkeras.Unit` naming one of the model's feature maps
            (``outer/inner/layer`` inside nested models); its activation is
            read at its position when it gives one, else at each image's
            strongest position of the unoccluded map.
        size: side of the square (int or ``(h, w)``), at most the image's.
        baseline: the occluder's value: ``"mean"`` (default), a number, one
            value per channel or ``"blur"``.
        seed: of the random squares.
        batch_size, verbose: as everywhere (a bar over each pass's batches).

    Returns:
        `Faithfulness` with scores ``map_drop - random_drop``, each drop
        ``(a - a_occluded) / a`` of the unit's activation ``a`` in the
        unoccluded image (NaN where ``a <= 0``).
    """
    explanation, unit = _old_order(explanation, unit)
    unit = as_unit(unit, "occlusion_drop")
    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    images = check_images(inputs, model_input_shape(model), model.name)
    maps, _ = _maps_of(model, images, explanation, unit if isinstance(explanation, str) else None, batch_size,
                       verbose)
    importance = _importance(maps, images)
    size = int_pair(size, "size")
    n, h, w, _ = images.shape
    if size[0] > h or size[1] > w:
        raise InputError(f"size {size} is larger than the images ({h}, {w})")
    forward = _Forward(model)
    step = forward.step(unit.layer)
    channels = index_array(unit.channels(n), "the unit's channel", n, step.shape[-1], "channel",
                           f"layer {unit.layer!r}, which has {step.shape[-1]} channels").astype("int32")

    @tf.function(reduce_retracing=True, autograph=False)
    def unit_maps(x, c):
        return tf.gather(tf.transpose(forward(x)[0][step.output], [0, 3, 1, 2]), c, axis=1, batch_dims=1)

    clean = batched(unit_maps, [images, channels], batch_size, verbose)
    positions = unit.positions(n)
    if positions is None:
        positions = strongest_positions(clean)
    else:
        positions = np.asarray(positions, "int64").reshape(n, 2)
        if (positions[:, 0] >= clean.shape[1]).any() or (positions[:, 1] >= clean.shape[2]).any():
            raise InputError(f"occlusion_drop(): {unit} is outside layer {unit.layer!r}, whose maps are "
                             f"{clean.shape[1]}x{clean.shape[2]}")
    rows = np.arange(n)
    values = clean[rows, positions[:, 0], positions[:, 1]]
    rng = np.random.RandomState(seed)
    corners = {"map": _best_boxes(importance, size),
               "random": np.stack([rng.randint(0, h - size[0] + 1, n), rng.randint(0, w - size[1] + 1, n)], 1)}
    filled = _baseline_images(images, baseline)
    details = dict(positions=positions, values=values)
    drops = {}
    for name, corner in corners.items():
        occluded = images.copy()
        for i, (t, l) in enumerate(corner):
            occluded[i, t:t + size[0], l:l + size[1]] = filled[i, t:t + size[0], l:l + size[1]]
        after = batched(unit_maps, [occluded, channels], batch_size, verbose)[rows, positions[:, 0], positions[:, 1]]
        with np.errstate(divide="ignore", invalid="ignore"):
            drops[name] = np.where(values > 0, (values - after) / np.where(values > 0, values, 1), np.nan)
        details[f"{name}_drop"] = drops[name]
        details[f"{name}_boxes"] = np.concatenate([corner, corner + np.array(size)], axis=1)
    return _result("occlusion_drop", drops["map"] - drops["random"], details)
