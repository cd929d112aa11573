"""How features and the prediction change as images are transformed.

Zeiler & Fergus, Fig. 5: images translated vertically, scaled and rotated by
growing amounts; for each amount, the distance between the feature vector
of the transformed image and that of the original, at a low and a high
layer, and the probability of the true class.

Transformations are `keras.ops.image.affine_transform` (TensorFlow's
projective-transform kernel): the output has the input's size, points that
come from outside the image take the ``baseline`` (`zfkeras.utils.baselines`),
bilinear interpolation. Scaling and rotation are about the image centre.
"""

import dataclasses

import numpy as np

from zfkeras.graph.addressing import call_layer_outputs, layer_output_model, resolve_layers
from zfkeras.graph.output import output_policy
from zfkeras.utils.baselines import resolve_baseline
from zfkeras.utils.batches import batched
from zfkeras.utils.compat import renamed_arguments
from zfkeras.utils.errors import InputError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, stored_images
from zfkeras.utils.progress import check_verbose, progress_bar
from zfkeras.utils.validation import index_array, one_of, positive_int

TRANSFORMS = ("translate", "scale", "rotate")

# The amounts of the paper's sweeps, in the units of each transform, as
# fractions of the image height for translation: -0.27..0.27 of 224 px is
# about the +-60 px of Fig. 5.
DEFAULT_AMOUNTS = {
    "translate": tuple(np.round(np.linspace(-0.27, 0.27, 13), 4)),  # x image height
    "scale": tuple(np.round(np.linspace(0.6, 1.8, 13), 4)),  # zoom factor
    "rotate": tuple(range(0, 361, 30)),  # degrees, counter-clockwise
}


@dataclasses.dataclass(frozen=True)
class InvarianceResult:
    """Curves of one transform over N images and A amounts.

    Attributes:
        transform: ``"translate"``, ``"scale"`` or ``"rotate"``.
        amounts: ``(A,)`` the transformation amounts.
        distance: dict layer name -> ``(N, A)`` Euclidean distance between
            the layer's feature vector of the transformed and of the original
            image, divided by the norm of the original's (so layers of
            different sizes compare; 0 = unchanged, 1 = as far as the
            vector's own length).
        probability: ``(N, A)`` probability of the target class.
        predicted: ``(N, A)`` most probable class.
    """

    transform: str
    amounts: np.ndarray
    distance: dict
    probability: np.ndarray
    predicted: np.ndarray


def transform_matrix(transform, amount, height, width):
    """The 8-vector of `keras.ops.image.affine_transform` for one transform.

    It maps each output pixel to the input point it samples.

    Args:
        transform: one of `TRANSFORMS`.
        amount: translation as a fraction of the height (positive = down),
            zoom factor (> 0; 2 = twice as large), or degrees
            (counter-clockwise as displayed).
        height, width: image size.

    Returns:
        float32 array ``(8,)``.
    """
    one_of(transform, "transform", TRANSFORMS)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    if transform == "translate":
        return np.array([1, 0, 0, 0, 1, -amount * height, 0, 0], np.float32)
    if transform == "scale":
        if not amount > 0:
            raise InputError(f"a scale factor must be > 0, got {amount!r}")
        s = 1.0 / amount
        return np.array([s, 0, cx - s * cx, 0, s, cy - s * cy, 0, 0], np.float32)
    # Rows grow downwards, so a counter-clockwise turn on screen samples the
    # input at the output point turned clockwise in (x, y) coordinates.
    t = np.deg2rad(amount)
    c, s = np.cos(t), np.sin(t)
    return np.array([c, -s, cx - c * cx + s * cy, s, c, cy - s * cx - c * cy, 0, 0], np.float32)


def transform_images(images, transform, amount, baseline="mean"):
    """Applies one transform to a batch of NHWC images (same size out).

    Args:
        images: ``(N, H, W, C)`` images.
        transform, amount: as for `transform_matrix`.
        baseline: the value of pixels brought in from outside the image: a
            number, one per channel, or ``"mean"`` (the per-channel mean of
            ``images``; `zfkeras.utils.baselines.resolve_baseline`).

    Returns:
        float32 numpy ``(N, H, W, C)``.
    """
    import keras

    images = np.asarray(images, np.float32)
    fill = np.broadcast_to(np.asarray(resolve_baseline(baseline, images, "baseline"), np.float32),
                           images.shape[-1:])
    matrix = transform_matrix(transform, float(amount), images.shape[1], images.shape[2])
    # The kernel fills with one scalar: transform the images less the
    # per-channel baseline, filling with 0, and add it back (bilinear
    # weights sum to 1, so this is the fill with the baseline exactly).
    out = keras.ops.image.affine_transform(
        images - fill, np.tile(matrix, (images.shape[0], 1)), interpolation="bilinear",
        fill_mode="constant", fill_value=0.0,
    )
    return np.asarray(out) + fill


@renamed_arguments(labels="targets", fill_value="baseline")
def invariance(model, inputs, targets, transform, amounts=None, layers=("conv1", "fc7"),
               preprocess=None, baseline="mean", from_logits=None, batch_size=DEFAULT_BATCH_SIZE,
               verbose="auto"):
    """Feature distances and target-class probability along a transform sweep.

    Args:
        model: a Keras classifier (Functional or Sequential).
        inputs: ``(N, H, W, C)`` images as stored, an array or a
            `tf.data.Dataset` (`zfkeras.utils.inputs`); transformations
            happen before ``preprocess``, so the baseline is an image value
            such as the black background.
        targets: ``(N,)`` the classes whose probability is followed (the
            true classes in the paper). Was ``labels`` (deprecated).
        transform: one of `TRANSFORMS`.
        amounts: the sweep (default `DEFAULT_AMOUNTS[transform]`); include
            the identity (0, 1 or 0 degrees) to see the curve start at 0.
        layers: layer names whose outputs are the feature vectors (plain
            Keras names, or ``"outer/inner"`` inside nested models).
        preprocess: callable mapping a batch of images (a `tf.Tensor`) to
            model inputs, or None.
        baseline: the value of pixels brought in from outside the image: a
            number, one per channel, or ``"mean"`` (the per-channel mean of
            ``inputs``, the default everywhere in zfkeras; the report's
            Fig. 5 passes 0.0, a black background). Was ``fill_value``
            (deprecated).
        from_logits: None (detect: logits unless the model's last layer
            applies a softmax), True or False (`zfkeras.graph.output`).
        batch_size: images per model call.
        verbose: 0 (silent), 1 (a progress bar over the amounts) or "auto"
            (a bar over more than 20 amounts).

    Returns:
        `InvarianceResult`.
    """
    one_of(transform, "transform", TRANSFORMS)
    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    policy = output_policy(model, from_logits)
    images, to_model = stored_images(model, inputs, preprocess)
    amounts = np.asarray(DEFAULT_AMOUNTS[transform] if amounts is None else amounts, np.float32)
    if amounts.ndim != 1 or amounts.size == 0:
        raise InputError(f"amounts must be a non-empty 1-D sequence; got {amounts!r}")
    layers, _ = resolve_layers(model, layers, "invariance")
    classes = model.outputs[0].shape[-1]
    targets = index_array(targets, "targets", len(images), classes, "class index", f"a model with {classes} classes")
    fill = resolve_baseline(baseline, images, "baseline")
    probe = layer_output_model(model, layers, with_output=True)

    def run(batch):
        outs = batched(lambda x: call_layer_outputs(probe, to_model(x)), [batch], batch_size, verbose=0)
        feats = [o.reshape(len(batch), -1) for o in outs[:-1]]
        return feats, policy.probabilities(outs[-1])

    base, _ = run(images)
    norms = [np.maximum(np.linalg.norm(f, axis=1), 1e-12) for f in base]
    n, a = images.shape[0], amounts.size
    distance = {name: np.zeros((n, a), np.float32) for name in layers}
    probability = np.zeros((n, a), np.float32)
    predicted = np.zeros((n, a), np.int64)
    bar = progress_bar(a, verbose, "amount")
    for j, amount in enumerate(amounts):
        feats, probs = run(transform_images(images, transform, amount, fill))
        for name, f, f0, norm in zip(layers, feats, base, norms):
            distance[name][:, j] = np.linalg.norm(f - f0, axis=1) / norm
        probability[:, j] = probs[np.arange(n), targets]
        predicted[:, j] = probs.argmax(axis=1)
        if bar is not None:
            bar.update(j + 1)
    return InvarianceResult(transform, amounts, distance, probability, predicted)
