import numpy as np

from zfkeras.analysis.sections import table1_correspondence as t1


def test_aligned_images_are_the_closest_to_the_class_mean():
    rng = np.random.RandomState(0)
    images = rng.rand(12, 4, 4, 1)
    labels = np.array([9] * 8 + [1] * 4)
    images[:8] = 0.5
    images[3] += rng.rand(4, 4, 1) * 5  # the outlier boot
    chosen = t1.aligned_images(images, labels, 9, 5)
    assert set(labels[chosen]) == {9} and 3 not in chosen and len(chosen) == 5


def test_object_boxes_lie_on_the_object():
    images = np.zeros((3, 12, 12, 1))
    images[:, 6:, :6] = 200.0  # the object: bottom-left quarter
    boxes = t1.object_boxes(images, 3, trials=20, seed=1)
    assert boxes.shape == (20, 3, 4)
    assert (boxes[..., 0] >= 5).all() and (boxes[..., 3] <= 7).all()


def test_section_on_a_real_run(trained_run, tmp_path):
    section = t1.report_section(trained_run, tmp_path, verbose=0)
    assert "Table 1" in section.caption_html
    table = np.genfromtxt(tmp_path / "table1_correspondence.csv", delimiter=",", names=True, dtype=None, encoding=None)
    assert list(table["part"]) == ["toe", "heel", "shaft top", "random"]
    for layer in ("conv5", "fc7"):
        # mean of the per-pair fractions vs the ordered-pair sum Delta: 10 pairs, twice each
        parts = table[:3]
        np.testing.assert_allclose(parts[f"{layer}_delta"], 20 * parts[f"{layer}_mean"] * parts[f"{layer}_features"], rtol=1e-6)
    assert (tmp_path / "table1_correspondence.md").read_text().startswith("## Table 1")
