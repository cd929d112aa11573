"""Methods ranked by a per-image score, and which neighbours are told apart.

The methods are scored on the same images, so two of them are compared by
their paired per-image difference ``d_n = a_n - b_n`` (over the images both
scored): its mean, and its standard error ``std(d, ddof=1) / sqrt(n)``.
Two neighbours in the ranking are *separated* when the mean difference is
more than ``factor`` standard errors from 0 (``factor = 2``: about a 95%
interval); otherwise these images do not tell them apart.
"""

import dataclasses
import html
import math

import numpy as np

__all__ = ["Ranked", "paired_difference", "rank_methods", "ranking_sentence", "FACTOR"]

FACTOR = 2.0


@dataclasses.dataclass(frozen=True)
class Ranked:
    """One method's place in a ranking and its comparison with the next one.

    Attributes:
        rank: 1 for the best.
        method: the method's name.
        mean: its mean score over the images it scored (NaN when none).
        images: how many images it scored (finite scores).
        next_method: the method ranked just below (None for the last).
        difference: mean over the shared images of (this - next), NaN
            when none is shared.
        standard_error: of that mean, ``std(d, ddof=1) / sqrt(pairs)``
            (NaN for fewer than 2 pairs).
        pairs: images both scored.
        separated: ``|difference| > factor * standard_error``.
    """

    rank: int
    method: str
    mean: float
    images: int
    next_method: object = None
    difference: float = float("nan")
    standard_error: float = float("nan")
    pairs: int = 0
    separated: bool = False


def paired_difference(a, b):
    """``(mean of a - b, its standard error, pairs)`` over the entries where
    both ``a`` and ``b`` are finite."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired scores differ in length: {a.shape} and {b.shape}")
    both = np.isfinite(a) & np.isfinite(b)
    d = a[both] - b[both]
    n = int(d.size)
    mean = float(d.mean()) if n else float("nan")
    se = float(d.std(ddof=1) / math.sqrt(n)) if n >= 2 else float("nan")
    return mean, se, n


def rank_methods(per_image, higher_is_better, factor=FACTOR):
    """The methods best first, each with its paired comparison to the next.

    Args:
        per_image: ``{method: scores}``, each scores array over the same
            images in the same order (NaN: not scored).
        higher_is_better: the score's direction (insertion AUC, occlusion
            drop: True; deletion AUC: False).
        factor: standard errors a difference must exceed to separate two
            neighbours.

    Returns:
        list of `Ranked`, best first; methods with no finite score last;
        equal means keep the order of ``per_image``.
    """
    means = {}
    for name, scores in per_image.items():
        scores = np.asarray(scores, np.float64).ravel()
        finite = scores[np.isfinite(scores)]
        means[name] = (float(finite.mean()) if finite.size else float("nan"), int(finite.size))
    order = list(per_image)

    def key(name):
        mean = means[name][0]
        if math.isnan(mean):
            return (1, 0.0, order.index(name))
        return (0, -mean if higher_is_better else mean, order.index(name))

    ranked_names = sorted(order, key=key)
    out = []
    for i, name in enumerate(ranked_names):
        mean, images = means[name]
        if i + 1 < len(ranked_names):
            below = ranked_names[i + 1]
            difference, se, pairs = paired_difference(per_image[name], per_image[below])
            separated = bool(np.isfinite(se) and abs(difference) > factor * se)
            out.append(Ranked(i + 1, name, mean, images, below, difference, se, pairs, separated))
        else:
            out.append(Ranked(i + 1, name, mean, images))
    return out


def ranking_sentence(label, ranked, higher_is_better, factor=FACTOR, number="{:.3g}"):
    """One caption sentence (HTML) saying the order and which neighbours the
    paired differences separate, from ``ranked`` (`rank_methods`)."""
    direction = "higher" if higher_is_better else "lower"
    names = [html.escape(r.method) for r in ranked]
    sentence = f"By {html.escape(label)} ({direction} is better): {', '.join(names)}."
    pairs = [r for r in ranked if r.next_method is not None]
    if not pairs:
        return sentence
    separated = [r for r in pairs if r.separated]
    not_separated = [r for r in pairs if not r.separated]

    def pair(r):
        return (f"{html.escape(r.method)} vs {html.escape(r.next_method)} ({number.format(r.difference)} "
                f"&plusmn; {number.format(r.standard_error)}, {r.pairs} images)")

    if separated:
        sentence += (f" Neighbours whose paired difference exceeds {factor:g} standard errors: "
                     + "; ".join(pair(r) for r in separated) + ".")
    else:
        sentence += f" No two neighbours differ by more than {factor:g} standard errors of the paired difference."
    if separated and not_separated:
        many = len(not_separated) != 1
        sentence += (f" The other {len(not_separated)} neighbouring pair{'s' if many else ''} "
                     f"{'are' if many else 'is'} within that spread (not told apart on these images).")
    return sentence
