"""The paper's evaluation protocol for probes and transfer (Tables 3, 4, 6).

Zeiler & Fergus (Sec. 5.2): "we train on N images per class, test on up to
50 per class", mean of the per-class accuracies, repeated over 5 random
train/test splits. `stratified_folds` draws those splits (seeded, disjoint
train and test parts, exactly N training images of every class);
`fold_scores` runs scikit-learn's `cross_validate` over exactly those
splits (``cv=`` the list of splits) and scores each fold with
`balanced_accuracy_score`, which is exactly the mean of per-class recalls.

numpy and scikit-learn only: no TensorFlow import.
"""

import dataclasses

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import cross_validate
from threadpoolctl import threadpool_limits

from zfkeras.utils.validation import non_negative_int, positive_int
from zfkeras.utils.errors import InputError


@dataclasses.dataclass
class FoldScores:
    """Mean per-class accuracy of one classifier over the folds.

    Attributes:
        scores: per-fold mean per-class accuracy, in [0, 1].
        seed: the seed the folds were drawn with.
        details: per-fold values returned by the ``describe`` callable of
            `fold_scores` (e.g. the C a grid search chose), or empty.
    """

    scores: list
    seed: int
    details: list = dataclasses.field(default_factory=list)

    @property
    def mean(self):
        return float(np.mean(self.scores))

    @property
    def std(self):
        return float(np.std(self.scores))

    def as_percent(self):
        """``"83.8 ± 0.4"``: mean and standard deviation over folds, in %."""
        return f"{100 * self.mean:.1f} ± {100 * self.std:.1f}"


def stratified_folds(labels, train_per_class, test_per_class=50, folds=5, seed=0):
    """Random stratified train/test splits with N training images per class.

    Every fold draws, for every class independently, ``train_per_class``
    training examples and up to ``test_per_class`` test examples from the
    rest (all the rest when None); train and test never overlap within a fold.

    Args:
        labels: 1-D int array, one class label per example.
        train_per_class: N, training examples per class (every class needs
            at least N + 1 examples so that it is also tested).
        test_per_class: at most this many test examples per class (paper:
            50), or None for all remaining ones.
        folds: number of random splits (at least 2).
        seed: seed of the draws; fold ``i`` uses ``seed + i``.

    Returns:
        List of ``(train_indices, test_indices)`` int arrays (sorted).

    Raises:
        ValueError: fewer than 2 classes, folds < 2, or a class with fewer
            than ``train_per_class + 1`` examples.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {labels.shape}")
    train_per_class = positive_int(train_per_class, "train_per_class")
    if test_per_class is not None:
        test_per_class = positive_int(test_per_class, "test_per_class")
    folds = positive_int(folds, "folds")
    if folds < 2:
        raise InputError(f"folds must be at least 2 (the paper uses 5), got {folds}")
    seed = non_negative_int(seed, "seed")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise InputError(
            f"the data has {len(classes)} class ({classes.tolist()}); a probe or transfer needs at least 2 classes"
        )
    short = [(c.item(), int(n)) for c, n in zip(classes, counts) if n < train_per_class + 1]
    if short:
        raise InputError(
            f"train_per_class={train_per_class} needs at least {train_per_class + 1} examples in every class "
            f"(N to train, 1 or more to test); these (class, count) pairs have fewer: {short[:10]}; "
            "lower the number per class or add images"
        )
    members = [np.flatnonzero(labels == c) for c in classes]
    splits = []
    for fold in range(folds):
        rng = np.random.RandomState(seed + fold)
        train, test = [], []
        for idx in members:
            order = rng.permutation(idx)
            train.append(order[:train_per_class])
            rest = order[train_per_class:]
            test.append(rest if test_per_class is None else rest[:test_per_class])
        splits.append((np.sort(np.concatenate(train)), np.sort(np.concatenate(test))))
    return splits


def mean_per_class_accuracy(y_true, y_pred):
    """The paper's score: the mean over classes of each class's accuracy."""
    return float(balanced_accuracy_score(y_true, y_pred))


def fold_scores(classifier, features, labels, splits, seed=0, on_fold=None, describe=None):
    """Fits a fresh copy of ``classifier`` on each fold and scores it (`cross_validate`).

    Args:
        classifier: an unfitted scikit-learn estimator (cloned per fold).
        features: ``(N, D)`` array.
        labels: ``(N,)`` int array.
        splits: output of `stratified_folds`.
        seed: recorded in the result (the seed the splits were drawn with).
        on_fold: optional callable run after each fold is scored (e.g. a
            Progbar step).
        describe: optional callable ``fitted_classifier -> value`` recorded
            per fold in ``FoldScores.details``.

    Returns:
        `FoldScores`.
    """
    features = np.asarray(features)
    labels = np.asarray(labels)
    if len(features) != len(labels):
        raise ValueError(f"features has {len(features)} rows but labels has {len(labels)}; pass one label per row")
    # One BLAS thread: these problems are small, and BLAS threads spinning
    # against other work made LogisticRegression 50x slower on 2 cores.
    with threadpool_limits(1):
        return _fit_folds(classifier, features, labels, splits, seed, on_fold, describe)


def _fit_folds(classifier, features, labels, splits, seed, on_fold, describe):
    def score(model, x, y):  # called once per fold, on its test part, after the fit
        value = mean_per_class_accuracy(y, model.predict(x))
        if on_fold is not None:
            on_fold()
        return value

    done = cross_validate(classifier, features, labels, cv=[(np.asarray(tr), np.asarray(te)) for tr, te in splits],
                          scoring=score, return_estimator=describe is not None, error_score="raise")
    details = [describe(model) for model in done["estimator"]] if describe is not None else []
    return FoldScores(scores=[float(v) for v in done["test_score"]], seed=int(seed), details=details)
