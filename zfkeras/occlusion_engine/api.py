"""Occlusion sensitivity (Zeiler & Fergus 2014, Sec. 4.2, Fig. 7)."""

import dataclasses
from typing import Optional

import numpy as np

from zfkeras._compat import progress_to_verbose, renamed_arguments
from zfkeras.inputs import DEFAULT_BATCH_SIZE, check_images, model_input_shape
from zfkeras.occlusion_engine import checks
from zfkeras.occlusion_engine.full import FullInference
from zfkeras.occlusion_engine.geometry import square_corners
from zfkeras.progress import check_verbose, progress_bar
from zfkeras.validation import one_of, positive_int

# "auto" takes the incremental path when its estimated arithmetic is at most
# this share of full re-inference (below that its gathers cost more than
# they save; measured in docs/BENCHMARKS.md).
_AUTO_MAX_COST = 0.7

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
        method: ``"full"`` or ``"incremental"``, the path that computed it.
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


@renamed_arguments(images="inputs", progress=("verbose", progress_to_verbose))
def occlusion(model, inputs, size, stride, fill=None, labels=None, layer=None,
              batch_size=DEFAULT_BATCH_SIZE, from_logits=False, method="auto", verbose="auto"):
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
            the square can change (exact; conv/pool/pad/pointwise chains,
            see docs/OCCLUSION.md); ``"auto"`` takes the incremental path
            when the model allows it and it saves work.
        verbose: 0 (silent), 1 (a progress bar over square positions) or
            "auto" (a bar over more than 20 model calls' worth of positions).

    Returns:
        An `OcclusionResult`.

    Raises:
        ValueError: bad shapes or values (each names the problem).
    """
    size = positive_int(size, "size")
    stride = positive_int(stride, "stride")
    batch_size = positive_int(batch_size, "batch_size")
    method = one_of(method, "method", ("auto", "full", "incremental"))
    check_verbose(verbose)
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
    key = ("incremental", images.shape[1:], size, stride, layer)
    if key not in engines:
        engines[key] = _incremental_engine(model, images.shape[1:], size, flat_corners, layer)
    engine = _choose_engine(method, model, engines[key], full)

    n, count = len(images), len(flat_corners)
    class_probability = np.empty((n, count), "float32")
    predicted = np.empty((n, count), "int64")
    activity = None if layer is None else np.empty((n, count), "float32")
    progbar = progress_bar(n * count, verbose, "position", auto_minimum=20 * batch_size)
    for index in range(n):
        channel = None if strongest is None else int(strongest[index])
        if engine is full:
            out, act = full.run(images[index], flat_corners, size, fill, batch_size, channel, progbar)
        else:
            out, act = engine.run(images[index], fill, batch_size, channel, progbar)
        probs = checks.class_probabilities(out, from_logits, model.name)
        class_probability[index] = probs[:, true_label[index]]
        predicted[index] = probs.argmax(axis=1)
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
        method="full" if engine is full else "incremental",
    )


def _incremental_engine(model, image_shape, size, corners, layer):
    """``(engine or None, why not)`` for the incremental path."""
    from zfkeras.occlusion_engine.incremental import IncrementalOcclusion

    return IncrementalOcclusion.plan(model, image_shape, size, corners, layer)


def _choose_engine(method, model, planned, full):
    """The plain `FullInference` or the incremental engine, as ``method`` asks."""
    if method == "full":
        return full
    engine, why_not = planned
    if method == "incremental":
        if engine is None:
            raise ValueError(f"method='incremental' cannot run on model {model.name!r}: {why_not}; use method='full'")
        return engine
    if engine is None or engine.cost_ratio > _AUTO_MAX_COST:
        return full
    return engine
