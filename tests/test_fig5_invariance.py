import numpy as np
import pytest

from zfkeras.analysis.sections import fig5_invariance
from zfkeras.analysis.report.section import SectionUnavailable
from zfkeras.measures.invariance import DEFAULT_AMOUNTS


def test_pick_images_takes_distinct_classes():
    labels = np.repeat(np.arange(6), 4)
    chosen = fig5_invariance.pick_images(labels, 5, seed=1)
    assert len(set(labels[chosen])) == 5
    np.testing.assert_array_equal(chosen, fig5_invariance.pick_images(labels, 5, seed=1))


def test_section_on_a_real_run(trained_run, tmp_path):
    section = fig5_invariance.report_section(trained_run, tmp_path, verbose=0)
    assert section.key == "fig5" and "Fig. 5" in section.caption_html
    _assert_fig5_layout(tmp_path / "fig5_invariance.png", images=5)
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


def _assert_fig5_layout(path, images):
    import matplotlib.image
    from matplotlib import colors

    picture = matplotlib.image.imread(path)[..., :3]
    height, width = picture.shape[:2]
    # the paper's 3 x 4 grid on a 15 x 9.5 inch figure at 100 dpi (tight bounding box)
    assert abs(width / height - 15 / 9.5) < 0.1 and 1300 < width < 1600, picture.shape
    cycle = [colors.to_rgb(f"C{n}") for n in range(images)]
    for row, band in enumerate(np.array_split(picture, 3, axis=0)):
        # each row (rotation, scale, translation) plots one curve per image in the colour cycle
        for n, colour in enumerate(cycle):
            hits = (np.abs(band - colour).max(axis=-1) < 0.03).sum()
            assert hits > 50, f"row {row}: no curve of image {n} (colour {colour}): {hits} pixels"
        # and its first panel shows the transformed image strip (grey pixels, not white)
        left = band[:, : width // 5]
        grey = (np.ptp(left, axis=-1) < 0.02) & (left.mean(axis=-1) < 0.9)
        assert grey.sum() > 1000, f"row {row}: no image strip"


def test_missing_layer_is_unavailable(trained_run, tmp_path, monkeypatch):
    with pytest.raises(SectionUnavailable, match="no layer 'fc9'"):
        fig5_invariance.report_section(trained_run, tmp_path, verbose=0, high="fc9")
