import numpy as np
import pytest

from zfkeras.analysis.sections import fig5_invariance
from zfkeras.analysis.report.section import SectionUnavailable
from zfkeras.invariance import DEFAULT_AMOUNTS


def test_pick_images_takes_distinct_classes():
    labels = np.repeat(np.arange(6), 4)
    chosen = fig5_invariance.pick_images(labels, 5, seed=1)
    assert len(set(labels[chosen])) == 5
    np.testing.assert_array_equal(chosen, fig5_invariance.pick_images(labels, 5, seed=1))


def test_section_on_a_real_run(trained_run, tmp_path):
    section = fig5_invariance.report_section(trained_run, tmp_path, progress=False)
    assert section.key == "fig5" and "Fig. 5" in section.caption_html
    assert (tmp_path / "fig5_invariance.png").stat().st_size > 10_000
    rows = np.genfromtxt(tmp_path / "fig5_invariance.csv", delimiter=",", names=True, dtype=None, encoding=None)
    assert len(rows) == 5 * sum(len(DEFAULT_AMOUNTS[k]) for k, _ in fig5_invariance.ROWS)
    identity = rows[(rows["transform"] == "rotate") & (rows["amount"] == 0)]
    np.testing.assert_allclose(identity["conv1_distance"], 0.0, atol=1e-5)
    # p(true class) at the identity is the model's own prediction on the image
    raw, labels = trained_run.load_split("test")
    model = trained_run.load_model()
    chosen = fig5_invariance.pick_images(labels, 5, 0)
    probs = model.predict(trained_run.preprocess(raw[chosen]), verbose=0)[np.arange(5), labels[chosen]]
    np.testing.assert_allclose(identity["p_true_class"], probs, rtol=1e-4)


def test_missing_layer_is_unavailable(trained_run, tmp_path, monkeypatch):
    monkeypatch.setitem(fig5_invariance.REPORT_PARAMS, "high", "fc9")
    with pytest.raises(SectionUnavailable, match="no layer 'fc9'"):
        fig5_invariance.report_section(trained_run, tmp_path, progress=False)
