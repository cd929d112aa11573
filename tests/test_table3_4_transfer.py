import csv

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from zfkeras.analysis.protocol import targets

from zfkeras.analysis.sections import table3_4_transfer as transfer
from zfkeras.analysis.protocol.folds import fold_scores, stratified_folds
from zfkeras.analysis.report.section import Section
from tests.probe_helpers import INPUT_SHAPE, StubRun


def _digit_folder(root, classes=(0, 1, 2), per_class=8):
    digits = load_digits()
    for c in classes:
        folder = root / f"digit_{c}"
        folder.mkdir(parents=True)
        for i, idx in enumerate(np.flatnonzero(digits.target == c)[:per_class]):
            Image.fromarray((digits.images[idx] * 255 / 16).astype(np.uint8)).convert("RGB").save(folder / f"{i}.png")
    (root / f"digit_{classes[0]}" / "broken.png").write_bytes(b"not a png")
    return root


def test_digits_target_resized_and_scaled(tmp_path):
    data = targets.load_digits_target(INPUT_SHAPE)
    assert data.images.shape == (1797, 16, 16, 1) and data.images.dtype == np.uint8
    assert data.images.max() == 255 and data.class_names[3] == "3"
    # a digit's bright strokes stay bright after the x2 bilinear resize
    raw = load_digits().images[0] * 255 / 16
    assert abs(float(data.images[0].mean()) - raw.mean()) < 10


def test_folder_target_reads_classes_skips_broken(tmp_path):
    root = _digit_folder(tmp_path / "digits")
    data = targets.load_folder_target(root, INPUT_SHAPE, max_per_class=5)
    assert data.class_names == ["digit_0", "digit_1", "digit_2"]
    assert data.images.shape[1:] == INPUT_SHAPE
    counts = np.bincount(data.labels)
    # digit_0 may have drawn the broken file among its 5
    assert counts[1] == counts[2] == 5 and counts[0] in (4, 5)
    assert len(data.skipped) == 5 - counts[0]
    # colour photos for a colour model
    rgb = targets.load_folder_target(root, (12, 12, 3))
    assert rgb.images.shape[1:] == (12, 12, 3) and len(rgb.skipped) == 1


def test_tfds_target_uses_the_offline_loader(monkeypatch):
    import tensorflow as tf

    import zfkeras.data

    images = np.random.RandomState(0).randint(0, 255, (6, 20, 30, 3)).astype(np.uint8)
    calls = []

    def fake(name, split, data_dir=None, manual_dir=None):
        calls.append((name, split, manual_dir))
        data = tf.data.Dataset.from_tensor_slices((images, np.array([0, 1, 0, 1, 0, 1])))
        data.class_names = ["a", "b"]
        return data

    monkeypatch.setattr(zfkeras.data, "tfds_dataset", fake)
    data = targets.load_tfds_target("caltech101", INPUT_SHAPE, max_per_class=2, manual_dir="/m")
    assert calls == [("caltech101", "train", "/m")]
    assert data.images.shape == (4, 16, 16, 1) and data.class_names == ["a", "b"]


@pytest.mark.parametrize("spec, message", [("tfds:", "names no TFDS dataset"), ("/no/such/dir", "existing folder")])
def test_bad_target(spec, message):
    with pytest.raises(ValueError, match=message):
        targets.check_target(spec)


def test_one_class_target(tmp_path):
    root = _digit_folder(tmp_path / "one", classes=(4,))
    run = StubRun(tmp_path / "run")
    with pytest.raises(ValueError, match="only one class"):
        targets.load_target(str(root), run)


def test_transfer_scores_against_oracle_and_scratch_budget(tmp_path, monkeypatch):
    from sklearn.metrics import balanced_accuracy_score
    from zfkeras.methods.features import features

    run = StubRun(tmp_path / "run", num_classes=3, per_class=12)
    model = run.load_model()
    images, labels = run.load_split("test")
    x = run.preprocess(images)
    rows = transfer.transfer_scores(model, x, labels, per_class=[1, 3], test_per_class=5, folds=2,
                                    scratch_steps=3, verbose=0)
    assert [r.per_class for r in rows] == [1, 3]
    # oracle: the same folds and classifier on features computed independently
    assert transfer.feature_layer(model) == "fc7"
    oracle = fold_scores(transfer.softmax_classifier(0), features(model, x, "fc7", verbose=0), labels,
                         stratified_folds(labels, 3, 5, 2, 0))
    np.testing.assert_allclose(rows[1].pretrained.scores, oracle.scores)
    # each scratch score is scikit-learn's balanced accuracy of the scratch net's predictions on
    # that fold, the fold trained again from the same initial state
    again = transfer.ScratchTrainer(model, 3, steps=3, seed=0)
    predicted = []
    predict = again.model.predict
    monkeypatch.setattr(again.model, "predict", lambda *a, **k: predicted.append(predict(*a, **k)) or predicted[-1])
    splits = stratified_folds(labels, 3, 5, 2, 0)
    assert len(rows[1].scratch.scores) == len(splits) == 2
    for (train, test), score in zip(splits, rows[1].scratch.scores):
        assert again.score(x, labels, train, test) == pytest.approx(score)
        assert score == pytest.approx(balanced_accuracy_score(labels[test], predicted[-1].argmax(axis=1)))

    trainer = transfer.ScratchTrainer(model, 3, steps=4)
    start = [w.copy() for w in trainer.model.get_weights()]
    train, test = stratified_folds(labels, 3, 5, 2, 0)[0]
    first = trainer.score(x, labels, train, test)
    moved = any(not np.array_equal(a, b) for a, b in zip(start, trainer.model.get_weights()))
    assert moved  # it trained
    assert trainer.score(x, labels, train, test) == first  # every fold starts from the same state
    with pytest.raises(ValueError, match="at least 13 examples"):
        transfer.transfer_scores(model, x, labels, per_class=[12], test_per_class=5, folds=2, verbose=0)


def test_report_section_writes_table_and_curve(tmp_path, monkeypatch):
    run = StubRun(tmp_path / "run", num_classes=3, per_class=12)
    out = tmp_path / "report"
    section = transfer.report_section(run, out, verbose=0, target="digits", per_class=(1, 2), test_per_class=4,
                                      folds=2, seed=0, scratch_steps=2)
    assert isinstance(section, Section) and section.key == "table3_4_transfer"
    assert section.files == ["transfer_digits.csv", "transfer_digits.md", "transfer_digits_curve.png"]
    for name in section.files:
        assert (out / name).is_file()
    with open(out / "transfer_digits.csv") as f:
        rows = list(csv.DictReader(f))
    # digits has 10 classes even though the stub model has 3 outputs: a new softmax
    assert [r["per_class"] for r in rows] == ["1", "2"] and rows[0]["scratch_steps"] == "2"
    assert rows[0]["feature_layer"] == "fc7" and len(rows[0]["pretrained_folds_pct"].split(";")) == 2
    assert "2 SGD steps" in (out / "transfer_digits.md").read_text()
    assert "Reduced for the report" in section.caption_html


def test_transfer_command_end_to_end(tmp_path, fashion_mnist_dir):
    import subprocess
    import sys

    from tests.probe_helpers import fashion_run_folder
    from tests.subprocess_helpers import quiet_env

    run = fashion_run_folder(tmp_path / "run", fashion_mnist_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "zfkeras", "transfer", str(run), "--per-class", "1", "2", "--test-per-class", "3",
         "--folds", "2", "--scratch-steps", "2"], capture_output=True, text=True, timeout=600, env=quiet_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 SGD steps" in proc.stdout
    with open(run / "report" / "transfer_digits.csv") as f:
        assert [r["per_class"] for r in csv.DictReader(f)] == ["1", "2"]
    # too many images per class for the target: a one-line error, exit 2
    proc = subprocess.run([sys.executable, "-m", "zfkeras", "transfer", str(run), "--per-class", "500"],
                          capture_output=True, text=True, timeout=600, env=quiet_env())
    assert proc.returncode == 2 and "train_per_class=500 needs at least 501 examples" in proc.stderr
    assert "Traceback" not in proc.stderr
