"""Correspondence analysis (Zeiler & Fergus, Sec. 4.3, Table 1 of the
arXiv version): does masking the same part of different images change a
layer's features in the same way?

For images ``x_i`` with the part masked, ``x~_i``, and a layer ``l``:
``eps_i = f_l(x_i) - f_l(x~_i)`` and::

    Delta_l = sum_{i != j} Hamming(sign(eps_i), sign(eps_j))

over ordered pairs, as in the paper. Lower = more consistent = tighter
correspondence. The paper's table reports it per feature and pair, "mean
feature sign change": the Hamming distance divided by the feature count,
averaged (± standard deviation) over the unordered pairs; that is what
`CorrespondenceResult.mean` / `.std` hold. Random-box controls mask a box
of the same size at a random place in each image. The masked pixels take
the ``baseline`` (`zfkeras.utils.baselines`; default the per-channel mean
of the images).
"""

import dataclasses

import numpy as np

from zfkeras.graph.addressing import call_layer_outputs, layer_output_model, resolve_layers
from zfkeras.utils.baselines import resolve_baseline
from zfkeras.utils.batches import batched
from zfkeras.utils.compat import renamed_arguments
from zfkeras.utils.errors import InputError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, stored_images
from zfkeras.utils.progress import check_verbose
from zfkeras.utils.validation import non_negative_int, positive_int


@dataclasses.dataclass(frozen=True)
class CorrespondenceResult:
    """Sign-change consistency of one part at one layer.

    Attributes:
        delta: the paper's Delta_l (sum over ordered pairs, in features).
        pair_fractions: ``(P,)`` Hamming distance / feature count for every
            unordered pair (i < j).
        mean, std: of ``pair_fractions``.
        features: feature count of the layer.
    """

    delta: float
    pair_fractions: np.ndarray
    mean: float
    std: float
    features: int


def sign_consistency(eps):
    """Delta and per-pair fractions from difference vectors ``(N, D)``.

    Args:
        eps: ``(N, D)`` array, ``N >= 2``.

    Returns:
        `CorrespondenceResult`.
    """
    eps = np.asarray(eps)
    if eps.ndim != 2 or eps.shape[0] < 2:
        raise InputError(f"eps must be (N, D) with N >= 2 images; got shape {eps.shape}")
    signs = np.sign(eps).astype(np.int8)
    n, d = signs.shape
    i, j = np.triu_indices(n, k=1)
    hamming = np.array([(signs[a] != signs[b]).sum() for a, b in zip(i, j)], np.float64)
    fractions = hamming / d
    return CorrespondenceResult(
        delta=float(2 * hamming.sum()), pair_fractions=fractions,
        mean=float(fractions.mean()), std=float(fractions.std()), features=d,
    )


def mask_boxes(images, boxes, baseline):
    """Copies of ``images`` with ``boxes[i]`` = (top, left, bottom, right)
    set to ``baseline`` (a number or one per channel)."""
    out = np.array(images, np.float32, copy=True)
    for img, (t, l, b, r) in zip(out, boxes):
        img[t:b, l:r, :] = baseline
    return out


def check_boxes(boxes, n, height, width):
    """``boxes`` as an ``(N, 4)`` int array inside ``height x width``.

    Args:
        boxes: one ``(top, left, bottom, right)`` box (end-exclusive) for
            every image, or an ``(N, 4)`` array with one box per image.
    """
    boxes = np.asarray(boxes)
    if boxes.shape == (4,):
        boxes = np.tile(boxes, (n, 1))
    if boxes.shape != (n, 4) or not np.issubdtype(boxes.dtype, np.integer):
        raise InputError(
            f"boxes must be one integer (top, left, bottom, right) box or an (N, 4) integer array "
            f"with N={n}; got shape {boxes.shape}"
        )
    t, l, b, r = boxes.T
    bad = (t < 0) | (l < 0) | (b > height) | (r > width) | (b <= t) | (r <= l)
    if bad.any():
        raise InputError(
            f"box {tuple(int(v) for v in boxes[bad][0])} is empty or outside the "
            f"{height}x{width} image (top < bottom <= {height}, left < right <= {width})"
        )
    return boxes.astype(np.int64)


def random_boxes(n, height, width, box_height, box_width, seed=0):
    """One random box of the given size per image (the paper's control)."""
    rng = np.random.RandomState(non_negative_int(seed, "seed"))
    top = rng.randint(0, height - box_height + 1, size=n)
    left = rng.randint(0, width - box_width + 1, size=n)
    return np.stack([top, left, top + box_height, left + box_width], axis=1)


@renamed_arguments(fill="baseline")
def correspondence(model, inputs, boxes, layers, baseline="mean", preprocess=None, batch_size=DEFAULT_BATCH_SIZE,
                   verbose="auto"):
    """The sign-change consistency of masking ``boxes`` at each layer.

    Args:
        model: a Keras model (Functional or Sequential).
        inputs: ``(N, H, W, C)`` images as stored, an array or a
            `tf.data.Dataset` (`zfkeras.utils.inputs`; masking happens
            before ``preprocess``), N >= 2, ideally aligned so that the
            boxes cover the same part in each.
        boxes: one (top, left, bottom, right) box for all images or an
            ``(N, 4)`` array of boxes (end-exclusive pixel coordinates).
        layers: layer names whose (flattened) outputs are compared (plain
            Keras names, or ``"outer/inner"`` inside nested models).
        baseline: the value of the masked pixels: a number, one per
            channel, or ``"mean"`` (default: the per-channel mean of
            ``inputs``). Was ``fill`` (deprecated).
        preprocess: callable mapping a batch of images (a `tf.Tensor`) to
            model inputs, or None.
        batch_size: images per model call.
        verbose: 0 (silent), 1 (a progress bar over model calls) or "auto"
            (a bar over more than 20 of them).

    Returns:
        dict layer name -> `CorrespondenceResult`.
    """
    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    images, to_model = stored_images(model, inputs, preprocess, min_images=2)
    n, h, w, _ = images.shape
    boxes = check_boxes(boxes, n, h, w)
    layers, _ = resolve_layers(model, layers, "correspondence")
    # fill=None (0.2's default) meant the mean
    fill = resolve_baseline("mean" if baseline is None else baseline, images, "baseline")
    probe = layer_output_model(model, layers)

    def feats(batch):
        outs = batched(lambda x: call_layer_outputs(probe, to_model(x)), [batch], batch_size, verbose)
        return [o.reshape(n, -1) for o in outs]

    original, masked = feats(images), feats(mask_boxes(images, boxes, fill))
    return {name: sign_consistency(a - b) for name, a, b in zip(layers, original, masked)}
