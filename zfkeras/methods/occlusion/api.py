"""Occlusion sensitivity (Zeiler & Fergus 2014, Sec. 4.2, Fig. 7)."""

import dataclasses
from typing import Optional, Tuple

import numpy as np

from zfkeras.graph.output import output_policy
from zfkeras.keras_objects.precision import float32_model
from zfkeras.methods.occlusion import approximate, checks
from zfkeras.methods.occlusion.full import FullInference
from zfkeras.methods.occlusion.geometry import square_corners
from zfkeras.methods.unit import Unit
from zfkeras.utils.baselines import DEFAULT_BASELINE, resolve_baseline
from zfkeras.utils.compat import renamed_arguments
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images, model_input_shape
from zfkeras.utils.model_cache import model_cache
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import float_in_range, index_array, one_of, positive_int
from zfkeras.plot.inline import ShowsItself

# "auto" takes the incremental path when its estimated arithmetic is at most
# this share of full re-inference (below that its gathers cost more than
# they save; measured in docs/BENCHMARKS.md).
_AUTO_MAX_COST = 0.7

METHODS = ("auto", "full", "incremental", "approximate")



@dataclasses.dataclass(frozen=True, repr=False)
class OcclusionResult(ShowsItself):
    """What the network does while a square hides part of each image.

    Maps are ``(N, rows, cols)``: entry ``[n, i, j]`` is for image ``n``
    with the square's top-left corner at ``corners[i, j]``; `image_maps`
    gives them at the image size.

    Attributes:
        class_probability: p(``true_label[n]``) with the square in place.
        predicted_label: the most probable class with the square in place.
        corners: ``(rows, cols, 2)`` top-left ``(row, col)`` of the square.
        true_label: ``(N,)`` the class of ``class_probability`` (the
            ``targets`` given, or each image's predicted class).
        unoccluded_probability: ``(N,)`` p(``true_label``) without a square.
        baseline: ``(C,)`` the value the square was filled with.
        size: side of the square.
        stride: step between corners.
        image_size: ``(H, W)`` of the images.
        method: ``"full"``, ``"incremental"`` or ``"approximate"``, the
            path that computed it.
        computed: ``(N, rows, cols)`` True where the network ran (all True
            unless ``method="approximate"``; elsewhere interpolated).
        layer_activity: only with ``layer`` or ``unit``, else None: the
            total activation of the recorded channel (``strongest_channel``)
            of the layer, ``(N, rows, cols)``.
        strongest_channel: only with ``layer`` or ``unit``, else None:
            ``(N,)`` the channel recorded: the unit's, or the layer's map
            with the largest activation on the unoccluded image.
        approximation: only with ``method="approximate"``, else None: what
            it did: ``tau`` (the projective-field threshold, None when the
            model ran whole), ``drill_down`` (share of positions computed
            after the coarse pass), ``coarse_stride`` (pixels), ``engine``
            (``"incremental"`` or ``"full"``), ``positions_computed`` (per
            image) and ``positions`` (per image, in all).
    """

    class_probability: np.ndarray
    predicted_label: np.ndarray
    corners: np.ndarray
    true_label: np.ndarray
    unoccluded_probability: np.ndarray
    baseline: np.ndarray
    size: int
    stride: int
    image_size: Tuple[int, int]
    method: str
    computed: np.ndarray
    layer_activity: Optional[np.ndarray] = None
    strongest_channel: Optional[np.ndarray] = None
    approximation: Optional[dict] = None

    @property
    def fill(self):
        """Deprecated name of ``baseline``."""
        import warnings

        warnings.warn("OcclusionResult.fill is deprecated and will be removed in zfkeras 0.4.0; use .baseline",
                      DeprecationWarning, stacklevel=2)
        return self.baseline

    def probability_drop(self):
        """``(N, rows, cols)``: p(class) without the square minus with it."""
        return self.unoccluded_probability[:, None, None] - self.class_probability

    def image_maps(self):
        """The maps at the image size: float32 ``(N, H, W)``, each pixel's mean
        `probability_drop` over the squares that cover it (0 where none does,
        when the stride leaves a margin). What `zfkeras.explain(...,
        "occlusion")` returns."""
        return image_maps(self.probability_drop(), self.corners, self.size, self.image_size)


def image_maps(grid, corners, size, image_size):
    """A map over square positions as a map over pixels.

    Args:
        grid: ``(N, rows, cols)`` one value per square position.
        corners: ``(rows, cols, 2)`` the squares' top-left corners.
        size: the squares' side.
        image_size: ``(H, W)``.

    Returns:
        float32 ``(N, H, W)``: each pixel's mean over the squares covering it
        (0 where none does). Computed by summed-area differences: each square
        adds its value to a difference image at its four corners.
    """
    grid = np.asarray(grid, "float64")
    n = grid.shape[0]
    h, w = image_size
    flat = corners.reshape(-1, 2)
    values = grid.reshape(n, -1)
    total = np.zeros((n, h + 1, w + 1))
    count = np.zeros((h + 1, w + 1))
    top, left = flat[:, 0], flat[:, 1]
    bottom, right = top + size, left + size
    for sign, rows, cols in ((1, top, left), (-1, top, right), (-1, bottom, left), (1, bottom, right)):
        np.add.at(total, (slice(None), rows, cols), sign * values)
        np.add.at(count, (rows, cols), sign)
    total = total.cumsum(axis=1).cumsum(axis=2)[:, :h, :w]
    count = count.cumsum(axis=0).cumsum(axis=1)[:h, :w]
    return (total / np.maximum(count, 1)).astype("float32")


@renamed_arguments(labels="targets", fill=("baseline", lambda value: DEFAULT_BASELINE if value is None else value))
def occlusion(model, inputs, size, stride, baseline=DEFAULT_BASELINE, targets=None, layer=None, unit=None,
              batch_size=DEFAULT_BATCH_SIZE, from_logits=None, method="auto", verbose="auto",
              tau=None, drill_down=None, coarse_stride=None):
    """Slides a square over images and records the network's response.

    The square (side ``size``, value ``baseline``) is placed with its
    top-left corner at ``(i * stride, j * stride)`` for every ``i, j`` that
    keeps it inside the image; each occluded image goes through the model.

    Args:
        model: a Keras classifier taking ``(N, H, W, C)`` images and giving
            ``(N, classes)`` probabilities or logits (`zfkeras.graph.output`).
        inputs: ``(N, H, W, C)`` image array, preprocessed as the model
            expects (all of them are needed at once for the default
            baseline, so no `tf.data.Dataset` here).
        size: side of the square, in pixels.
        stride: step between square positions, in pixels.
        baseline: value inside the square: ``"mean"`` (default: the
            per-channel mean of ``inputs``, a "grey" square in the model's
            input space, Fig. 7), a number, or one value per channel
            (docs/METHODS.md, "Baselines").
        targets: the class of each image whose probability is mapped: an
            int or ``(N,)``; default: the class the model predicts for the
            unoccluded image.
        layer: name of a feature-map layer (one `zfkeras.Deconvnet` accepts)
            whose strongest map (on each unoccluded image) is recorded in
            ``layer_activity``, or None.
        unit: instead of ``layer``, a `zfkeras.Unit` (layer, channel: one,
            or one per image) fixing the recorded map; its total activation
            is recorded, so a position is refused.
        batch_size: occluded copies (or square positions) per model call.
        from_logits: None (detect: logits unless the model ends in a
            softmax), True (the model outputs logits; softmax is applied) or
            False (probabilities, checked).
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
        InputError: bad shapes or values (each names the problem).
    """
    size = positive_int(size, "size")
    stride = positive_int(stride, "stride")
    batch_size = positive_int(batch_size, "batch_size")
    method = one_of(method, "method", METHODS)
    approx = _approximation_options(method, stride, tau, drill_down, coarse_stride)
    check_verbose(verbose)
    model = float32_model(model)  # a mixed-precision model: its float32 copy
    policy = output_policy(model, from_logits)
    images = check_images(inputs, model_input_shape(model), model.name)
    checks.check_square(size, images.shape[1:3])
    fill = resolve_baseline(baseline, images)
    layer, unit = _recorded_layer(model, layer, unit, targets)

    full = _full_engine(model, layer)
    probabilities, true_label, channels = _unoccluded(full, images, policy, targets, unit, batch_size)
    corners = square_corners(images.shape[1:3], size, stride)
    engine = _engine(method, model, images.shape[1:], size, corners.reshape(-1, 2), layer, approx, full)

    progbar = progress_bar(len(images) * corners.shape[0] * corners.shape[1], verbose, "position",
                           auto_minimum=20 * batch_size)
    maps = [_occlude_image(engine, full, images[i], corners, size, fill, batch_size, policy, true_label[i],
                           None if channels is None else int(channels[i]), probabilities[i, true_label[i]],
                           approx, progbar)
            for i in range(len(images))]
    return _result(maps, corners, images, size, stride, fill, true_label, probabilities, channels, method,
                   engine is full, approx)


def _recorded_layer(model, layer, unit, targets):
    """``(layer name or None, Unit or None)``: whose activity is recorded."""
    if isinstance(targets, Unit):
        raise InputError(f"occlusion maps classes (targets); record a unit's activity with unit={targets}")
    if unit is None:
        if layer is not None:
            checks.check_layer(model, layer)
        return layer, None
    if not isinstance(unit, Unit):
        raise InputTypeError(f"unit must be a zfkeras.Unit(layer, channel); got {unit!r}")
    if layer is not None:
        raise InputError(f"give layer or unit, not both; got layer={layer!r} and unit={unit}")
    if unit.position is not None:
        raise InputError(f"occlusion records the total activity of a unit's map, so its position is not "
                         f"used; give zfkeras.Unit({unit.layer!r}, {unit.channel!r}); got {unit}")
    checks.check_layer(model, unit.layer)
    return unit.layer, unit


def _engines_of(model):
    """The traced engines of ``model``, so that calling `occlusion` again
    (another image, the same square) does not trace the graphs again; they
    go away with the model (`zfkeras.utils.model_cache`)."""
    return model_cache(model, "occlusion")


def _full_engine(model, layer):
    """The `FullInference` of ``model`` recording ``layer`` (None: no layer)."""
    engines = _engines_of(model)
    if ("full", layer) not in engines:
        engines["full", layer] = FullInference(model, layer)
    return engines["full", layer]


def _unoccluded(full, images, policy, targets, unit, batch_size):
    """The unoccluded images' ``(probabilities (N, K), true_label (N,),
    recorded channel (N,) or None)``."""
    raw, maxima = full.unoccluded(images, batch_size)
    probabilities = policy.probabilities(raw)
    n, count = probabilities.shape
    if targets is None:
        true_label = probabilities.argmax(axis=1)
    else:
        true_label = index_array(targets, "targets", n, count, "class index", f"a model with {count} classes",
                                 broadcast=True)
    if unit is not None:
        channels = index_array(unit.channels(n), "the unit's channel", n, maxima.shape[1], "channel",
                               f"layer {unit.layer!r}, which has {maxima.shape[1]} channels")
    else:
        channels = None if maxima is None else maxima.argmax(axis=1)
    return probabilities, true_label, channels


def _engine(method, model, image_shape, size, flat_corners, layer, approx, full):
    """The engine ``method`` asks for: the plain `FullInference` or the
    incremental engine (planned once per model, image shape and square)."""
    if method == "full":
        return full
    tau = approx and approx["tau"]
    key = ("incremental", image_shape, size, flat_corners.tobytes(), layer, tau)
    engines = _engines_of(model)
    if key not in engines:
        from zfkeras.methods.occlusion.incremental import IncrementalOcclusion

        engines[key] = IncrementalOcclusion.plan(model, image_shape, size, flat_corners, layer, tau=tau)
    engine, why_not = engines[key]
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


def _occlude_image(engine, full, image, corners, size, fill, batch_size, policy, label, channel, unoccluded,
                   approx, progbar):
    """One image's ``(class probability, predicted label, activity or None,
    computed)``, each flat over the square positions."""
    flat_corners = corners.reshape(-1, 2)
    count = len(flat_corners)

    def compute(positions):
        if engine is full:
            out, act = full.run(image, flat_corners[positions], size, fill, batch_size, channel, progbar)
        else:
            out, act = engine.run(image, fill, batch_size, channel, progbar, positions)
        probs = policy.probabilities(out)
        return probs[:, label], probs.argmax(axis=1), act

    if approx is None:
        return compute(np.arange(count)) + (np.ones(count, bool),)
    maps = approximate.drill_down(compute, corners.shape[:2], unoccluded, approx["factor"], approx["drill_down"])
    return tuple(None if m is None else m.reshape(-1) for m in maps)


def _result(maps, corners, images, size, stride, fill, true_label, probabilities, channels, method, ran_full,
            approx):
    """The `OcclusionResult` of the per-image ``maps`` (`_occlude_image`)."""
    n = len(images)
    grid = (n,) + corners.shape[:2]
    class_probability, predicted, activity, computed = (
        None if column[0] is None else np.stack(column).reshape(grid) for column in zip(*maps))
    engine = "full" if ran_full else "incremental"
    return OcclusionResult(
        class_probability=class_probability.astype("float32"),
        predicted_label=predicted.astype("int64"),
        corners=corners,
        true_label=true_label,
        unoccluded_probability=probabilities[np.arange(n), true_label],
        baseline=fill,
        size=size,
        stride=stride,
        image_size=tuple(int(v) for v in images.shape[1:3]),
        method=method if approx else engine,
        computed=computed.astype(bool),
        layer_activity=None if activity is None else activity.astype("float32"),
        strongest_channel=channels,
        approximation=None if approx is None else {
            "tau": None if ran_full else approx["tau"], "drill_down": approx["drill_down"],
            "coarse_stride": approx["factor"] * stride, "engine": engine,
            "positions_computed": computed.reshape(n, -1).sum(axis=1).tolist(),
            "positions": int(np.prod(corners.shape[:2]))},
    )


def _approximation_options(method, stride, tau, drill_down, coarse_stride):
    """The approximate path's settings (None for the other methods)."""
    given = {k: v for k, v in (("tau", tau), ("drill_down", drill_down), ("coarse_stride", coarse_stride))
             if v is not None}
    if method != "approximate":
        if given:
            raise InputError(f"{', '.join(given)} only apply to method='approximate', not method={method!r}")
        return None
    tau = approximate.DEFAULT_TAU if tau is None else fraction(tau, "tau")
    drill = approximate.DEFAULT_DRILL_DOWN if drill_down is None else fraction(drill_down, "drill_down")
    coarse = approximate.DEFAULT_COARSE_FACTOR * stride if coarse_stride is None else positive_int(
        coarse_stride, "coarse_stride")
    if coarse % stride:
        raise InputError(f"coarse_stride must be a multiple of stride={stride}, got {coarse}")
    return {"tau": None if tau == 1.0 else tau, "drill_down": drill, "factor": coarse // stride}


def fraction(value, name):
    """``value`` as a float in (0, 1]."""
    return float_in_range(value, name, 0, 1, low_inclusive=False)
