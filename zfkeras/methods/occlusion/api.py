"""Occlusion sensitivity (Zeiler & Fergus 2014, Sec. 4.2, Fig. 7)."""

import dataclasses
from typing import Optional

import numpy as np

from zfkeras.utils.compat import progress_to_verbose, renamed_arguments
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images, model_input_shape
from zfkeras.utils.errors import InputError
from zfkeras.methods.occlusion import approximate, checks
from zfkeras.methods.occlusion.full import FullInference
from zfkeras.methods.occlusion.geometry import square_corners
from zfkeras.keras_objects.precision import float32_model
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import one_of, positive_int

# "auto" takes the incremental path when its estimated arithmetic is at most
# this share of full re-inference (below that its gathers cost more than
# they save; measured in docs/BENCHMARKS.md).
_AUTO_MAX_COST = 0.7

METHODS = ("auto", "full", "incremental", "approximate")

# Traced engines are kept on the model (outside Keras' attribute tracking),
# so that calling `occlusion` again (another image, the same square) does
# not trace the graphs again, and they go away with the model.
_ENGINES_ATTRIBUTE = "_zfkeras_occlusion_engines"


@dataclasses.dataclass
class OcclusionResult:
    """What the network does while a square hides part of each image.

    Maps are ``(N, rows, cols)``: entry ``[n, i, j]`` is for image ``n``
    with the square's top-left corner at ``corners[i, j]``.

    Attributes:
        class_probability: p(``true_label[n]``) with the square in place.
        predicted_label: the most probable class with the square in place.
        layer_activity: total activation of the ``strongest_channel`` map of
            ``layer`` (None when no layer was given).
        strongest_channel: ``(N,)`` the map of ``layer`` with the largest
            activation on the unoccluded image (None without a layer).
        corners: ``(rows, cols, 2)`` top-left ``(row, col)`` of the square.
        true_label: ``(N,)`` the class of ``class_probability``.
        unoccluded_probability: ``(N,)`` p(``true_label``) without a square.
        fill: ``(C,)`` the value the square was filled with.
        size: side of the square.
        stride: step between corners.
        method: ``"full"``, ``"incremental"`` or ``"approximate"``, the
            path that computed it.
        computed: ``(N, rows, cols)`` True where the network ran (all True
            unless ``method="approximate"``; elsewhere interpolated).
        approximation: None, or (``method="approximate"``) what it did:
            ``tau`` (the projective-field threshold, None when the model
            ran whole), ``drill_down`` (share of positions computed after
            the coarse pass), ``coarse_stride`` (pixels), ``engine``
            (``"incremental"`` or ``"full"``), ``positions_computed``
            (per image) and ``positions`` (per image, in all).
    """

    class_probability: np.ndarray
    predicted_label: np.ndarray
    layer_activity: Optional[np.ndarray]
    strongest_channel: Optional[np.ndarray]
    corners: np.ndarray
    true_label: np.ndarray = None
    unoccluded_probability: np.ndarray = None
    fill: np.ndarray = None
    size: int = None
    stride: int = None
    method: str = None
    computed: np.ndarray = None
    approximation: Optional[dict] = None


@renamed_arguments(images="inputs", progress=("verbose", progress_to_verbose))
def occlusion(model, inputs, size, stride, fill=None, labels=None, layer=None,
              batch_size=DEFAULT_BATCH_SIZE, from_logits=False, method="auto", verbose="auto",
              tau=None, drill_down=None, coarse_stride=None):
    """Slides a square over images and records the network's response.

    The square (side ``size``, value ``fill``) is placed with its top-left
    corner at ``(i * stride, j * stride)`` for every ``i, j`` that keeps it
    inside the image; each occluded image goes through the model.

    Args:
        model: a Keras classifier taking ``(N, H, W, C)`` images and giving
            probabilities ``(N, classes)`` (or logits with ``from_logits``).
        inputs: ``(N, H, W, C)`` image array, preprocessed as the model
            expects (all of them are needed at once for the default fill,
            so no `tf.data.Dataset` here).
        size: side of the square, in pixels.
        stride: step between square positions, in pixels.
        fill: value inside the square: a number or one value per channel.
            Default: the per-channel mean of ``inputs`` (over all the images
            and pixels given), i.e. a "grey" square in the model's input
            space.
        labels: ``(N,)`` class of each image whose probability is mapped;
            default: the class the model predicts for the unoccluded image.
        layer: name of a feature-map layer (one `zfkeras.Deconvnet` accepts)
            to record ``layer_activity`` from, or None.
        batch_size: occluded copies (or square positions) per model call.
        from_logits: the model outputs logits; softmax is applied.
        method: ``"full"`` runs every occluded copy through the whole model;
            ``"incremental"`` recomputes only the window of each layer that
            the square can change (exact; chains and graphs of the layers
            docs/OCCLUSION.md lists); ``"auto"`` takes the incremental path
            when the model allows it and it saves work; ``"approximate"``
            thresholds every layer's recomputed window at ``tau`` of its
            map and drills down adaptively (docs/OCCLUSION.md: defaults,
            measured error; `zfkeras.methods.occlusion.tune_approximate`
            chooses the three settings for a model and its images).
        verbose: 0 (silent), 1 (a progress bar over square positions) or
            "auto" (a bar over more than 20 model calls' worth of positions).
        tau: ``method="approximate"`` only: each layer recomputes at most
            ``ceil(tau * side)`` rows and columns of its map (default 0.7;
            1.0: exact windows).
        drill_down: ``method="approximate"`` only: the share of positions
            computed at the requested stride after the coarse pass, where
            the probability dropped most (default 0.5; 1.0: all).
        coarse_stride: ``method="approximate"`` only: the stride of the
            coarse pass in pixels, a multiple of ``stride`` (default
            ``2 * stride``; ``stride``: no drill-down).

    Returns:
        An `OcclusionResult`.

    Raises:
        ValueError: bad shapes or values (each names the problem).
    """
    size = positive_int(size, "size")
    stride = positive_int(stride, "stride")
    batch_size = positive_int(batch_size, "batch_size")
    method = one_of(method, "method", METHODS)
    approx = _approximation_options(method, stride, tau, drill_down, coarse_stride)
    check_verbose(verbose)
    model = float32_model(model)  # a mixed-precision model: its float32 copy
    images = check_images(inputs, model_input_shape(model), model.name)
    image_size = images.shape[1:3]
    checks.check_square(size, image_size)
    fill = checks.check_fill(fill, images)
    if layer is not None:
        checks.check_layer(model, layer)

    engines = getattr(model, _ENGINES_ATTRIBUTE, None)
    if engines is None:
        engines = {}
        object.__setattr__(model, _ENGINES_ATTRIBUTE, engines)
    full = engines.get(("full", layer))
    if full is None:
        full = engines[("full", layer)] = FullInference(model, layer)
    raw, maxima = full.unoccluded(images, batch_size)
    probabilities = checks.class_probabilities(raw, from_logits, model.name)
    if labels is None:
        true_label = probabilities.argmax(axis=1)
    else:
        true_label = checks.check_labels(labels, len(images), probabilities.shape[1])
    strongest = None if maxima is None else maxima.argmax(axis=1)

    corners = square_corners(image_size, size, stride)
    flat_corners = corners.reshape(-1, 2)
    key = ("incremental", images.shape[1:], size, stride, layer, approx and approx["tau"])
    if key not in engines:
        engines[key] = _incremental_engine(model, images.shape[1:], size, flat_corners, layer,
                                           approx and approx["tau"])
    engine = _choose_engine(method, model, engines[key], full)

    n, count = len(images), len(flat_corners)
    class_probability = np.empty((n, count), "float32")
    predicted = np.empty((n, count), "int64")
    activity = None if layer is None else np.empty((n, count), "float32")
    computed = np.ones((n, count), bool)
    progbar = progress_bar(n * count, verbose, "position", auto_minimum=20 * batch_size)
    for index in range(n):
        channel = None if strongest is None else int(strongest[index])

        def compute(positions, index=index, channel=channel):
            if engine is full:
                out, act = full.run(images[index], flat_corners[positions], size, fill, batch_size,
                                    channel, progbar)
            else:
                out, act = engine.run(images[index], fill, batch_size, channel, progbar, positions)
            probs = checks.class_probabilities(out, from_logits, model.name)
            return probs[:, true_label[index]], probs.argmax(axis=1), act

        if approx is None:
            class_probability[index], predicted[index], act = compute(np.arange(count))
        else:
            maps = approximate.drill_down(compute, corners.shape[:2], probabilities[index, true_label[index]],
                                          approx["factor"], approx["drill_down"])
            class_probability[index], predicted[index], act, mask = (
                None if m is None else m.reshape(-1) for m in maps)
            computed[index] = mask
        if activity is not None:
            activity[index] = act

    grid = (n,) + corners.shape[:2]
    return OcclusionResult(
        class_probability=class_probability.reshape(grid),
        predicted_label=predicted.reshape(grid),
        layer_activity=None if activity is None else activity.reshape(grid),
        strongest_channel=strongest,
        corners=corners,
        true_label=true_label,
        unoccluded_probability=probabilities[np.arange(n), true_label],
        fill=fill,
        size=size,
        stride=stride,
        method=method if approx else ("full" if engine is full else "incremental"),
        computed=computed.reshape(grid),
        approximation=None if approx is None else {
            "tau": None if engine is full else approx["tau"], "drill_down": approx["drill_down"],
            "coarse_stride": approx["factor"] * stride, "engine": "full" if engine is full else "incremental",
            "positions_computed": computed.sum(axis=1).tolist(), "positions": count},
    )


def _approximation_options(method, stride, tau, drill_down, coarse_stride):
    """The approximate path's settings (None for the other methods)."""
    given = {k: v for k, v in (("tau", tau), ("drill_down", drill_down), ("coarse_stride", coarse_stride))
             if v is not None}
    if method != "approximate":
        if given:
            raise InputError(f"{', '.join(given)} only apply to method='approximate', not method={method!r}")
        return None
    tau = approximate.DEFAULT_TAU if tau is None else _fraction(tau, "tau")
    drill = approximate.DEFAULT_DRILL_DOWN if drill_down is None else _fraction(drill_down, "drill_down")
    coarse = approximate.DEFAULT_COARSE_FACTOR * stride if coarse_stride is None else positive_int(
        coarse_stride, "coarse_stride")
    if coarse % stride:
        raise InputError(f"coarse_stride must be a multiple of stride={stride}, got {coarse}")
    return {"tau": None if tau == 1.0 else tau, "drill_down": drill, "factor": coarse // stride}


def _fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value <= 1:
        raise InputError(f"{name} must be a number in (0, 1], got {value!r}")
    return float(value)


def _incremental_engine(model, image_shape, size, corners, layer, tau=None):
    """``(engine or None, why not)`` for the incremental path."""
    from zfkeras.methods.occlusion.incremental import IncrementalOcclusion

    return IncrementalOcclusion.plan(model, image_shape, size, corners, layer, tau=tau)


def _choose_engine(method, model, planned, full):
    """The plain `FullInference` or the incremental engine, as ``method`` asks."""
    if method == "full":
        return full
    engine, why_not = planned
    if method == "approximate":
        return full if engine is None else engine
    if method == "incremental":
        if engine is None:
            # the caller's choice of method, not our failure: InputError (a ValueError)
            raise InputError(f"method='incremental' cannot run on model {model.name!r}: {why_not}; use method='full'")
        return engine
    if engine is None or engine.cost_ratio > _AUTO_MAX_COST:
        return full
    return engine
