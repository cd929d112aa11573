"""The gradient staples: Integrated Gradients, SmoothGrad and VarGrad.

All three read only the gradient of a class's **pre-softmax score** (the
logit before a softmax head, `zfkeras.graph.output`) with respect to the
input, at points off the input:

* Integrated Gradients (Sundararajan et al. 2017): ``(x - x0)`` times the
  mean gradient on the straight path from the baseline ``x0`` to ``x``,
  the mean by a quadrature rule (`RULES`). Its attributions sum to
  ``f(x) - f(x0)`` (completeness) up to the quadrature's error.
* SmoothGrad (Smilkov et al. 2017): the mean gradient at ``samples`` copies
  of ``x`` with Gaussian noise of standard deviation ``noise`` times the
  input's range (``max - min`` of that image).
* VarGrad (Adebayo et al. 2018): the (unbiased) variance of those gradients.

Importing the module registers the three methods of `zfkeras.explain`
(``"integrated_gradients"``, ``"smoothgrad"``, ``"vargrad"``).

The noise is drawn by numpy from ``seed``, image after image, so a seed
gives the same maps at any batch size.
"""

import weakref

import numpy as np

from zfkeras.methods.registry import SUM_ABS, Method, register_method
from zfkeras.utils.errors import InputError
from zfkeras.utils.progress import progress_bar
from zfkeras.utils.validation import one_of, positive_int

__all__ = ["integrated_gradients", "integrated_gradients_graph", "smoothgrad", "vargrad", "path_points", "RULES",
           "class_gradient", "score_gradient"]

RULES = ("riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gauss_legendre")


def path_points(steps, rule="riemann_trapezoid"):
    """The quadrature of ``int_0^1 g(a) da`` as ``sum_k w_k g(a_k)``.

    Args:
        steps: number of points (>= 2 for the trapezoid).
        rule: one of `RULES` (Riemann sums as in Captum; the trapezoid is
            Xplique's; Gauss-Legendre is exact for polynomials of degree
            ``2 * steps - 1``).

    Returns:
        ``(alphas, weights)``, float64 ``(steps,)`` each; the weights sum to 1.
    """
    steps = positive_int(steps, "steps")
    one_of(rule, "rule", RULES)
    if rule == "gauss_legendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1) / 2, weights / 2
    if rule == "riemann_trapezoid":
        if steps < 2:
            raise InputError(f"the trapezoid rule needs steps >= 2; got steps={steps!r}")
        alphas = np.linspace(0, 1, steps)
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2
        return alphas, weights
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[rule]
    return (np.arange(steps) + offset) / steps, np.full(steps, 1.0 / steps)


_GRADIENTS = weakref.WeakKeyDictionary()


def class_gradient(model):
    """``fn(images, classes) -> (scores, gradients)``: each image's class
    pre-softmax score and its gradient with respect to the image (a
    `tf.function`, numpy in and out), built once per model."""
    if model not in _GRADIENTS:
        _GRADIENTS[model] = _class_gradient(model)
    return _GRADIENTS[model]


def score_gradient(model):
    """``fn(images, classes) -> (scores, gradients)`` on tensors: each image's
    class pre-softmax score and its gradient with respect to the image (a
    `tf.function`; `class_gradient` wraps it for numpy)."""
    import tensorflow as tf

    from zfkeras.methods.grad_cam import _Forward

    forward = _Forward(model)

    @tf.function(reduce_retracing=True, autograph=False)
    def run(x, c):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.gather(forward(x)[2], c, axis=1, batch_dims=1)
        return score, tape.gradient(score, x)

    return run


def _class_gradient(model):
    import tensorflow as tf

    run = score_gradient(model)

    def gradient(images, classes):
        score, grad = run(tf.constant(images, tf.float32), tf.constant(classes, tf.int32))
        return score.numpy(), grad.numpy()

    return gradient


def _baseline(baseline, images):
    """The baseline as float32 of ``images``' shape (None: zeros)."""
    if baseline is None:
        return np.zeros_like(images)
    try:
        value = np.asarray(baseline, dtype="float32")
        return np.broadcast_to(value, images.shape).astype("float32")
    except (TypeError, ValueError):
        raise InputError(f"baseline must be None, a number or an array broadcastable to the images' shape "
                         f"{images.shape}; got {baseline!r:.200}") from None


def integrated_gradients(model, images, classes, steps=50, baseline=None, rule="riemann_trapezoid",
                         batch_size=32, verbose=0, return_scores=False):
    """Integrated Gradients of each image's class score.

    Args:
        model: a Keras image classifier.
        images: float32 ``(N, H, W, C)``, as the model expects them.
        classes: int ``(N,)``.
        steps: points on the path.
        baseline: None (zeros in the model's input space), a number, or an
            array broadcastable to ``images``.
        rule: the quadrature, one of `RULES`.
        batch_size: gradient evaluations per model call.
        verbose: 0 or 1: a progress bar over images.
        return_scores: also return the scores at the images and baselines.

    Returns:
        float32 ``(N, H, W, C)`` attributions; with ``return_scores``, also
        ``(f(x), f(x0))`` float32 ``(N,)`` each.
    """
    alphas, weights = path_points(steps, rule)
    images = np.asarray(images, dtype="float32")
    classes = np.asarray(classes).astype("int32")
    baselines = _baseline(baseline, images)
    gradient = class_gradient(model)
    differences = images - baselines
    # every (image, alpha) pair in one flat list, image-major, evaluated batch_size at a time
    pair_image = np.repeat(np.arange(len(images)), len(alphas))
    pair_alpha = np.tile(np.arange(len(alphas)), len(images))
    total = np.zeros(images.shape, "float32")
    bar = progress_bar(-(-len(pair_image) // batch_size), verbose, "batch")
    for start in range(0, len(pair_image), batch_size):
        index, k = pair_image[start:start + batch_size], pair_alpha[start:start + batch_size]
        a = alphas[k].astype("float32")[:, None, None, None]
        _, grads = gradient(baselines[index] + a * differences[index], classes[index])
        grads *= weights[k].astype("float32")[:, None, None, None]
        # index is sorted: sum each image's run of rows
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        total[index[starts]] += np.add.reduceat(grads, starts, axis=0)
        if bar is not None:
            bar.add(1)
    attributions = (differences * total).astype("float32")
    if not return_scores:
        return attributions
    ends = np.concatenate([images, baselines])
    scores = np.concatenate([gradient(ends[s:s + batch_size], np.concatenate([classes, classes])[s:s + batch_size])[0]
                             for s in range(0, len(ends), batch_size)])
    return attributions, (scores[:len(images)].astype("float32"), scores[len(images):].astype("float32"))


def integrated_gradients_graph(model, steps=50, baseline=None, rule="riemann_trapezoid"):
    """`integrated_gradients` as TensorFlow ops (`Method.graph`, the export's
    ``explain_integrated_gradients``).

    Returns:
        ``fn(images, classes) -> attributions``: float32 ``(N, H, W, C)`` and
        int32 ``(N,)`` tensors in, float32 ``(N, H, W, C)`` out; the points
        of the path are evaluated one after another, each for the whole
        batch (a `tf.while_loop`: the graph holds one copy of the model).
    """
    import tensorflow as tf

    alphas, weights = path_points(steps, rule)
    alphas = tf.constant(alphas.astype("float32"))
    weights = tf.constant(weights.astype("float32"))
    count = len(alphas)
    if baseline is not None:
        try:
            baseline = np.asarray(baseline, dtype="float32")
        except (TypeError, ValueError):
            raise InputError(f"baseline must be None, a number or an array broadcastable to the images' shape; "
                             f"got {baseline!r:.200}") from None
    gradient = score_gradient(model)

    def run(images, classes):
        baselines = (tf.zeros_like(images) if baseline is None
                     else tf.broadcast_to(tf.constant(baseline), tf.shape(images)))
        differences = images - baselines

        def body(k, total):
            grads = gradient(baselines + alphas[k] * differences, classes)[1]
            return k + 1, total + weights[k] * grads

        _, total = tf.while_loop(lambda k, total: k < count, body, (tf.constant(0), tf.zeros_like(images)),
                                 parallel_iterations=1)
        return differences * total

    return run


def noise_gradients(model, images, classes, samples=50, noise=0.15, seed=0, batch_size=32, verbose=0):
    """The mean and variance of the class-score gradients at noisy copies
    of each image (SmoothGrad's and VarGrad's statistics).

    Args:
        samples: noisy copies per image.
        noise: the noise's standard deviation relative to each image's range
            (``max - min``); Smilkov et al. suggest 0.1 to 0.2.
        seed: the numpy seed of the noise draws (drawn image after image).

    Returns:
        ``(mean, variance)``, float32 ``(N, H, W, C)`` each; the variance is
        the unbiased one (``ddof=1``, as Xplique's; 0 for one sample).
    """
    samples = positive_int(samples, "samples")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise InputError(f"noise must be a number >= 0 (relative to the input range); got {noise!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise InputError(f"seed must be an int or None; got {seed!r}")
    images = np.asarray(images, dtype="float32")
    classes = np.asarray(classes).astype("int32")
    rng = np.random.default_rng(seed)
    gradient = class_gradient(model)
    mean = np.zeros(images.shape, "float32")
    variance = np.zeros(images.shape, "float32")
    bar = progress_bar(len(images), verbose, "image")
    for i, image in enumerate(images):
        sigma = noise * float(image.max() - image.min())
        noisy = image[None] + (sigma * rng.standard_normal((samples,) + image.shape)).astype("float32")
        grads = np.concatenate([gradient(noisy[s:s + batch_size], np.full(len(noisy[s:s + batch_size]), classes[i]))[1]
                                for s in range(0, samples, batch_size)])
        mean[i] = grads.mean(axis=0)
        variance[i] = grads.var(axis=0, ddof=1) if samples > 1 else 0.0
        if bar is not None:
            bar.add(1)
    return mean, variance


def smoothgrad(model, images, classes, samples=50, noise=0.15, seed=0, batch_size=32, verbose=0):
    """SmoothGrad: the mean gradient over noisy copies (`noise_gradients`)."""
    return noise_gradients(model, images, classes, samples, noise, seed, batch_size, verbose)[0]


def vargrad(model, images, classes, samples=50, noise=0.15, seed=0, batch_size=32, verbose=0):
    """VarGrad: the gradient's variance over noisy copies (`noise_gradients`)."""
    return noise_gradients(model, images, classes, samples, noise, seed, batch_size, verbose)[1]


# ---- registered methods -------------------------------------------------------------------------

def _integrated_gradients(model, images, targets, *, batch_size, verbose, steps, baseline, rule):
    attributions = integrated_gradients(model, images, targets, steps=steps, baseline=baseline, rule=rule,
                                        batch_size=batch_size, verbose=verbose)
    return attributions, attributions.sum(axis=-1)


def _integrated_gradients_graph(model, *, steps, baseline, rule):
    import tensorflow as tf

    fn = integrated_gradients_graph(model, steps, baseline, rule)

    def run(images, classes):
        attributions = fn(images, classes)
        return attributions, tf.reduce_sum(attributions, axis=-1)

    return run


def _smoothgrad(model, images, targets, *, batch_size, verbose, samples, noise, seed):
    attributions = smoothgrad(model, images, targets, samples, noise, seed, batch_size, verbose)
    return attributions, np.abs(attributions).sum(axis=-1)


def _vargrad(model, images, targets, *, batch_size, verbose, samples, noise, seed):
    if positive_int(samples, "samples") < 2:
        raise InputError(f"VarGrad needs samples >= 2 (a variance); got samples={samples!r}")
    attributions = vargrad(model, images, targets, samples, noise, seed, batch_size, verbose)
    return attributions, attributions.sum(axis=-1)


_NOISE_OPTIONS = {"samples": 50, "noise": 0.15, "seed": 0}

register_method(Method(
    name="integrated_gradients", function=_integrated_gradients, kind="path integral", units=False,
    signed=True, channel_rule="sum over channels (their total is the score's change)",
    summary="Integrated Gradients (Sundararajan et al.): (x - baseline) times the mean gradient on the path",
    options={"steps": 50, "baseline": None, "rule": "riemann_trapezoid"}, graph=_integrated_gradients_graph))
register_method(Method(
    name="smoothgrad", function=_smoothgrad, kind="noise average", units=False, signed=True,
    channel_rule=SUM_ABS, deterministic=False, options=_NOISE_OPTIONS,
    summary="SmoothGrad (Smilkov et al.): the mean gradient over Gaussian-noised copies of the image"))
register_method(Method(
    name="vargrad", function=_vargrad, kind="noise average", units=False, signed=False,
    channel_rule="sum over channels of the variance", deterministic=False, options=_NOISE_OPTIONS,
    summary="VarGrad (Adebayo et al.): the gradient's variance over Gaussian-noised copies of the image"))
