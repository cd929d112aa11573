import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.neighbors import KNeighborsClassifier

from zfkeras.analysis.protocol.folds import fold_scores, mean_per_class_accuracy, stratified_folds

# Hand-made labels: class 0 has 5 examples, class 1 has 8, class 2 has 3.
LABELS = np.array([0, 1, 1, 0, 2, 1, 0, 1, 2, 1, 0, 1, 1, 2, 0, 1])


def test_folds_class_balance_and_no_overlap():
    splits = stratified_folds(LABELS, train_per_class=2, test_per_class=3, folds=5, seed=7)
    assert len(splits) == 5
    for train, test in splits:
        assert np.bincount(LABELS[train]).tolist() == [2, 2, 2]
        # up to 3 test examples per class: class 2 has only 3 - 2 = 1 left
        assert np.bincount(LABELS[test]).tolist() == [3, 3, 1]
        assert not set(train) & set(test)
    # the folds are random draws, not five copies of one split
    assert len({tuple(train) for train, _ in splits}) > 1


def test_folds_all_remaining_and_seeded():
    a = stratified_folds(LABELS, 1, test_per_class=None, folds=3, seed=1)
    b = stratified_folds(LABELS, 1, test_per_class=None, folds=3, seed=1)
    for (tr, te), (tr2, te2) in zip(a, b):
        np.testing.assert_array_equal(tr, tr2)
        np.testing.assert_array_equal(te, te2)
        # every example is either trained on or tested
        assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(LABELS)))


def test_mean_per_class_accuracy_averages_classes_not_examples():
    y_true = np.array([0, 0, 0, 0, 1])
    y_pred = np.array([0, 0, 0, 0, 0])
    # plain accuracy would be 0.8; the per-class mean is (1 + 0) / 2
    assert mean_per_class_accuracy(y_true, y_pred) == pytest.approx(0.5)
    y_pred = np.array([0, 1, 0, 0, 1])
    assert mean_per_class_accuracy(y_true, y_pred) == pytest.approx((3 / 4 + 1) / 2)


def test_fold_scores_per_class_mean_against_hand_count():
    # A constant "most frequent" classifier is right on exactly one class of
    # three, so its mean per-class accuracy is 1/3 on every fold, whatever
    # the class sizes of the test part.
    x = np.zeros((len(LABELS), 1))
    splits = stratified_folds(LABELS, 2, test_per_class=3, folds=4, seed=0)
    result = fold_scores(DummyClassifier(strategy="most_frequent"), x, LABELS, splits, seed=0)
    assert result.scores == pytest.approx([1 / 3] * 4)
    assert result.std == pytest.approx(0.0)
    # Features equal to the label: 1-NN is always right.
    perfect = fold_scores(KNeighborsClassifier(1), LABELS[:, None].astype(float), LABELS, splits)
    assert perfect.mean == 1.0 and perfect.as_percent() == "100.0 ± 0.0"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(labels=LABELS, train_per_class=3), "at least 4 examples in every class"),
        (dict(labels=np.zeros(10, int), train_per_class=2), "at least 2 classes"),
        (dict(labels=LABELS, train_per_class=1, folds=1), "folds must be at least 2"),
        (dict(labels=LABELS, train_per_class=0), "train_per_class must be a positive integer"),
        (dict(labels=np.zeros((2, 2)), train_per_class=1), "1-D"),
    ],
)
def test_folds_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stratified_folds(**kwargs)


def test_fold_scores_length_mismatch():
    splits = stratified_folds(LABELS, 1, folds=2)
    with pytest.raises(ValueError, match="one label per row"):
        fold_scores(DummyClassifier(), np.zeros((3, 1)), LABELS, splits)


def test_fold_scores_equal_a_hand_written_loop_with_a_hand_counted_score():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(3)
    labels = np.repeat(np.arange(3), 12)
    features = rng.normal(size=(36, 4)) + labels[:, None] * 0.7  # learnable, not perfectly
    splits = stratified_folds(labels, 4, test_per_class=6, folds=3, seed=5)
    steps = []
    result = fold_scores(LogisticRegression(C=0.5), features, labels, splits, seed=5,
                         on_fold=lambda: steps.append(1), describe=lambda m: float(m.coef_[0, 0]))
    expected, coefficients = [], []
    for train, test in splits:
        model = LogisticRegression(C=0.5).fit(features[train], labels[train])
        predicted = model.predict(features[test])
        recalls = [np.mean(predicted[labels[test] == c] == c) for c in range(3)]  # per class, then averaged
        expected.append(np.mean(recalls))
        coefficients.append(float(model.coef_[0, 0]))
    assert result.scores == pytest.approx(expected, abs=1e-12)
    assert 0 < min(expected) and max(expected) < 1  # not a trivial case
    assert result.details == pytest.approx(coefficients) and len(steps) == 3 and result.seed == 5
