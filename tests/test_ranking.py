"""Ranking methods by per-image scores (`zfkeras.analysis.output.ranking`),
against closed forms: paired differences built as ``mu + s * (-1, +1, ...)``
have mean ``mu`` and standard error ``s / sqrt(n - 1)``."""

import math

import numpy as np
import pytest

from zfkeras.analysis.output import ranking


def alternating(n, mu, s):
    """``n`` (even) values with mean ``mu`` and ``std(ddof=1) = s sqrt(n / (n - 1))``."""
    return mu + s * np.tile([-1.0, 1.0], n // 2)


def test_paired_difference_is_the_closed_form_over_the_images_both_scored():
    rng = np.random.default_rng(0)
    base = rng.normal(size=10)
    a = base + alternating(10, 0.5, 2.0)
    mean, se, n = ranking.paired_difference(a, base)
    assert n == 10 and mean == pytest.approx(0.5) and se == pytest.approx(2.0 / 3.0)
    # an image one of them did not score (NaN) drops out of the pairs: 8 left, still alternating
    a_nan, b_nan = a.copy(), base.copy()
    a_nan[0], b_nan[1] = np.nan, np.inf
    mean, se, n = ranking.paired_difference(a_nan, b_nan)
    assert n == 8 and mean == pytest.approx(0.5) and se == pytest.approx(2.0 / math.sqrt(7))
    # one pair: no spread
    mean, se, n = ranking.paired_difference([1.0, np.nan], [0.25, 3.0])
    assert (mean, n) == (0.75, 1) and math.isnan(se)


def test_the_ranking_orders_by_mean_and_separates_neighbours_beyond_two_standard_errors():
    rng = np.random.default_rng(1)
    n = 10  # standard error of an alternating difference: s / 3
    c = rng.normal(size=n)
    b = c + alternating(n, 0.6, 1.0)   # b - c: 0.6 < 2 / 3: not separated
    a = b + alternating(n, 0.7, 1.0)   # a - b: 0.7 > 2 / 3: separated
    d = np.full(n, np.nan)             # never scored: last
    per_image = {"c": c, "d": d, "a": a, "b": b}
    ranked = ranking.rank_methods(per_image, higher_is_better=True)
    assert [r.method for r in ranked] == ["a", "b", "c", "d"]
    assert [r.rank for r in ranked] == [1, 2, 3, 4]
    assert [r.mean for r in ranked[:3]] == pytest.approx([a.mean(), b.mean(), c.mean()])
    assert math.isnan(ranked[3].mean) and ranked[3].images == 0
    first, second, third, last = ranked
    assert (first.next_method, first.pairs) == ("b", n)
    assert first.difference == pytest.approx(0.7) and first.standard_error == pytest.approx(1 / 3)
    assert first.separated
    assert second.difference == pytest.approx(0.6) and second.standard_error == pytest.approx(1 / 3)
    assert not second.separated
    assert third.next_method == "d" and third.pairs == 0 and not third.separated
    assert last.next_method is None
    # lower is better: the reverse order of the scored ones, differences negative
    ranked = ranking.rank_methods(per_image, higher_is_better=False)
    assert [r.method for r in ranked] == ["c", "b", "a", "d"]
    assert ranked[0].difference == pytest.approx(-0.6) and not ranked[0].separated
    assert ranked[1].difference == pytest.approx(-0.7) and ranked[1].separated
    # a factor of 1: both differences exceed one standard error
    assert [r.separated for r in ranking.rank_methods(per_image, True, factor=1.0)[:2]] == [True, True]


def test_equal_means_keep_the_given_order():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    ranked = ranking.rank_methods({"p": x[::-1].copy(), "q": x, "r": x + 1}, higher_is_better=False)
    assert [r.method for r in ranked] == ["p", "q", "r"]
    # p - q = (3, 1, -1, -3): mean 0, not separated
    assert ranked[0].difference == 0.0 and not ranked[0].separated


def test_the_sentence_says_the_order_and_which_neighbours_are_separated():
    n = 10
    c = np.zeros(n)
    b = c + alternating(n, 0.6, 1.0)
    a = b + alternating(n, 0.7, 1.0)
    ranked = ranking.rank_methods({"c": c, "a": a, "b": b}, higher_is_better=True)
    text = ranking.ranking_sentence("insertion AUC", ranked, True)
    assert text.startswith("By insertion AUC (higher is better): a, b, c.")
    assert "exceeds 2 standard errors: a vs b (0.7 &plusmn; 0.333, 10 images)." in text
    assert "The other 1 neighbouring pair is within that spread" in text
    assert "b vs c" not in text
    none = ranking.ranking_sentence("deletion AUC", ranking.rank_methods({"c": c, "b": b}, False), False)
    assert none == ("By deletion AUC (lower is better): c, b. No two neighbours differ by more than 2 standard "
                    "errors of the paired difference.")
