import numpy as np
import pytest

from zfkeras.analysis.sections import fig7_occlusion as f7


def test_covered_mass_matches_brute_force():
    rng = np.random.RandomState(0)
    projection = rng.randn(2, 9, 8, 3)
    corners = np.stack(np.meshgrid(np.arange(0, 6, 2), np.arange(0, 5, 2), indexing="ij"), axis=-1)
    share = f7.covered_mass(projection, corners, 3)
    mass = np.abs(projection).sum(-1)
    for n in range(2):
        for i in range(corners.shape[0]):
            for j in range(corners.shape[1]):
                t, l = corners[i, j]
                assert np.isclose(share[n, i, j], mass[n, t:t + 3, l:l + 3].sum() / mass[n].sum())


def test_consistency_separates_covering_from_elsewhere():
    class Result:
        corners = np.stack(np.meshgrid(np.arange(4), np.arange(4), indexing="ij"), axis=-1)
        size = 2
    projection = np.zeros((1, 5, 5, 1))
    projection[0, 0:2, 0:2] = 1.0  # the highlighted region: top-left 2x2
    activity = np.full((1, 4, 4), 10.0)
    activity[0, 0, 0] = 2.0  # the square exactly on the region: 80% drop
    Result.layer_activity = activity
    data = f7.Fig7Data(np.zeros((1, 5, 5, 1)), Result, projection, np.array([10.0]), "conv5")
    check = f7.consistency(data, covering=0.1, elsewhere=0.5)
    # shares: (0,0) 100%, (0,1) (1,0) 50%, (1,1) 25%, the 12 others touching
    # no highlighted pixel 0%; the top 10% of 16 positions: (0,0), (0,1), (1,0)
    assert check["drop_covering"] == pytest.approx(np.mean([0.8, 0.0, 0.0]))
    assert check["drop_elsewhere"] == 0.0 and check["images"] == 1


def _assert_fig7_layout(path, rows):
    import matplotlib.image

    picture = matplotlib.image.imread(path)[..., :3]
    height, width = picture.shape[:2]
    # one row of five panels per image on a 16 x 3.3-per-row inch figure at 100 dpi
    assert abs(height / width - 3.3 * rows / 16) < 0.15 * 3.3 * rows / 16, picture.shape
    for row, band in enumerate(np.array_split(picture, rows, axis=0)):
        # panels (b) and (d) are jet-coloured maps, (e) a label map: strongly coloured pixels in every row
        saturated = np.ptp(band, axis=-1) > 0.5
        assert saturated.sum() > 20_000, f"row {row}: {saturated.sum()} coloured pixels"
        # panel (a) is the grey image with a mid-grey square
        left = band[:, : width // 5]
        assert ((np.ptp(left, axis=-1) < 0.02) & (np.abs(left.mean(axis=-1) - 0.5) < 0.02)).sum() > 20


def test_square_size_scales_the_papers_50_of_224():
    assert f7.square_size(224) == 50 and f7.square_size(28) == 6


def test_section_on_a_real_run(trained_run, tmp_path, monkeypatch):
    section = f7.report_section(trained_run, tmp_path, verbose=0, sample=6, stride=2)
    assert "Fig. 7" in section.caption_html and "Consistency check" in section.body_html
    _assert_fig7_layout(tmp_path / "fig7_occlusion.png", rows=4)
    rows = np.genfromtxt(tmp_path / "fig7_occlusion.csv", delimiter=",", names=True, dtype=None, encoding=None)
    raw, labels = trained_run.load_split("test", max_examples=6, seed=0)
    probs = trained_run.load_model().predict(trained_run.preprocess(raw), verbose=0)
    np.testing.assert_allclose(rows["p_true_unoccluded"], probs[np.arange(6), labels], rtol=1e-4)
    assert (rows["p_true_min"] <= rows["p_true_unoccluded"] + 1e-6).all()
