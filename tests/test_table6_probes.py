import csv

import numpy as np
import pytest

from zfkeras.analysis.sections import table6_probes
from zfkeras.analysis.report.section import Section, SectionUnavailable
from tests.probe_helpers import StubRun


def _blobs(separable, n_per_class=40, classes=4, dim=20, seed=0):
    rng = np.random.RandomState(seed)
    labels = np.repeat(np.arange(classes), n_per_class)
    x = rng.normal(size=(len(labels), dim))
    if separable:
        x[np.arange(len(labels)), labels] += 6.0  # one strong feature per class
    return x.astype(np.float32), labels


def test_probes_know_the_answer_separable_vs_random():
    sep, labels = _blobs(True)
    noise, _ = _blobs(False, seed=1)
    results = table6_probes.probe_features(
        {"conv5": sep, "fc7": noise}, labels, train_per_class=10, test_per_class=20, folds=3, verbose=0,
    )
    got = {(r.probe, r.layer): r.scores for r in results}
    assert list(got) == [("SVM", "conv5"), ("SVM", "fc7"), ("Softmax", "conv5"), ("Softmax", "fc7")]
    assert got[("SVM", "conv5")].mean > 0.95 and got[("Softmax", "conv5")].mean > 0.95
    # random features: chance is 1/4 per class
    assert abs(got[("SVM", "fc7")].mean - 0.25) < 0.15
    assert abs(got[("Softmax", "fc7")].mean - 0.25) < 0.15
    # C was chosen per fold from the grid, on the training part
    assert all(c in table6_probes.SVM_C_GRID for c in got[("SVM", "conv5")].details)
    assert len(got[("SVM", "conv5")].scores) == 3


def test_one_image_per_class_uses_fixed_c():
    x, labels = _blobs(True, n_per_class=5, classes=3, dim=3)
    (svm,) = table6_probes.probe_features({"conv1": x}, labels, 1, 4, folds=2, verbose=0)
    assert svm.scores.details == [1e-3, 1e-3] and svm.scores.mean > 0.8


def test_probe_run_and_report_section(tmp_path):
    run = StubRun(tmp_path / "run", num_classes=3, per_class=12)
    results, meta = table6_probes.probe_run(run, per_class=4, test_per_class=6, folds=2, verbose=0)
    assert [r.layer for r in results] == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "conv5", "fc7"]
    # 2x2 max pooling of 4 maps -> 16 features per conv layer; fc layers have 8 units
    assert [r.dim for r in results[:7]] == [16] * 5 + [8, 8]
    assert meta["images"] == 30 and meta["classes"] == 3

    out = tmp_path / "report"
    section = table6_probes.report_section(run, out, verbose=0, per_class=4, test_per_class=6, folds=2)
    assert isinstance(section, Section) and section.key == "table6"
    for name in section.files:
        assert (out / name).is_file(), name
    with open(out / "table6_probes.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9 and rows[4]["layer"] == "conv5" and rows[4]["paper_caltech101_30pc"] == "86.2"
    assert rows[0]["seed"] == "0" and len(rows[0]["fold_scores_pct"].split(";")) == 2
    md = (out / "table6_probes.md").read_text()
    assert "SVM (fc7)" in md and "±" in md and "table6_probes.csv" in section.body_html


def test_unknown_layer_and_missing_model(tmp_path):
    run = StubRun(tmp_path / "run", num_classes=3, per_class=12)
    with pytest.raises(ValueError, match="nope"):
        table6_probes.probe_run(run, layers=["nope"], per_class=2, test_per_class=2, folds=2, verbose=0)
    with pytest.raises(ValueError, match="at least 13 examples"):
        table6_probes.probe_run(run, per_class=12, test_per_class=2, folds=2, verbose=0)
    (run.path / "model.keras").unlink()
    with pytest.raises(SectionUnavailable, match="model.keras is missing"):
        table6_probes.report_section(run, tmp_path / "report", verbose=0)


def test_probe_command_end_to_end(tmp_path, fashion_mnist_dir):
    import subprocess
    import sys

    from tests.probe_helpers import fashion_run_folder
    from tests.subprocess_helpers import quiet_env

    run = fashion_run_folder(tmp_path / "run", fashion_mnist_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "zfkeras", "probe", str(run), "--layers", "conv1", "fc7", "--per-class", "3",
         "--test-per-class", "4", "--folds", "2"], capture_output=True, text=True, timeout=600, env=quiet_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| SVM (conv1) | 16 |" in proc.stdout and "| Softmax (fc7) | 8 |" in proc.stdout
    with open(run / "report" / "table6_probes.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["probe"], r["layer"]) for r in rows] == [("SVM", "conv1"), ("SVM", "fc7"), ("Softmax", "fc7")]
    assert (run / "report" / "table6_probes_by_depth.png").is_file()
