"""zfkeras.analysis.output.figures: panel scaling, placement, montage, writers."""

import csv
import os

import numpy as np
import pytest

from zfkeras.analysis.output import figures, machine, tables


@pytest.mark.parametrize("box, where", [
    ((0, 0, 3, 2), (slice(2, 5), slice(3, 5))),   # cut at top and left: against bottom right
    ((4, 6, 7, 8), (slice(0, 3), slice(0, 2))),   # cut at bottom and right: against top left
])
def test_place_puts_a_clipped_crop_against_its_uncut_sides(box, where):
    patch = np.ones((3, 2, 1))
    canvas = figures.place(patch, box, (5, 5))
    assert canvas.shape == (5, 5, 1)
    assert np.all(canvas[where] == 1.0)
    assert np.isnan(canvas).sum() == 25 - 6


def test_montage_layout_gaps_and_uncovered_colour():
    panels = np.zeros((5, 2, 3, 3), np.float32)
    panels[1, 0, 0] = np.nan
    out = figures.montage(panels, columns=3, gap=1, fill=1.0)
    assert out.shape == (2 * 2 + 1, 3 * 3 + 2, 3)
    assert np.all(out[2] == 1.0)                          # the gap row
    np.testing.assert_allclose(out[0, 4], figures.UNCOVERED)  # panel 1, pixel (0, 0)
    assert np.all(out[3:5, 8:11] == 1.0)                  # the empty sixth slot


def test_writers_are_complete_files(tmp_path):
    tables.write_csv(tmp_path / "a.csv", ["x", "y"], [[1, 2.5], ["b", 3]])
    with open(tmp_path / "a.csv") as f:
        assert list(csv.reader(f)) == [["x", "y"], ["1", "2.5"], ["b", "3"]]
    figures.save_image_array(np.full((3, 4, 3), 0.5), tmp_path / "a.png")
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "a.png").shape[:2] == (3, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.png"]  # no temporaries left


def test_html_helpers_escape():
    table = figures.html_table(["a<b"], [[0.123456], ["<x>"]])
    assert "a&lt;b" in table and "0.123" in table and "&lt;x&gt;" in table
    assert 'src="f&amp;g.png"' in figures.img_html("f&g.png", "alt")


def test_cpu_model_names_the_processor_and_its_avx512_flag():
    with open("/proc/cpuinfo") as f:
        text = f.read()
    flags = next(line for line in text.splitlines() if line.startswith("flags")).split()
    name = next(line for line in text.splitlines() if line.lower().startswith("model name")).split(":", 1)[1]
    described = machine.cpu_model()
    assert described.startswith(name.strip()) and f"{os.cpu_count()} cores" in described
    assert described.endswith(", AVX-512") == ("avx512f" in flags)
    assert described.endswith(", no AVX-512") == ("avx512f" not in flags)
