"""zfkeras.analysis.sections.fig4_evolution: the evolution grid from evolution records."""

import pathlib

import numpy as np
import pytest

from zfkeras.analysis.sections import fig4_evolution
from zfkeras.analysis.report.section import SectionUnavailable


def _records(layer_epochs, maps=3, size=6):
    rng = np.random.RandomState(0)
    evolution = {}
    for layer, epochs in layer_epochs.items():
        evolution[layer] = [{
            "epoch": e, "projections": rng.normal(size=(maps, size, size, 1)).astype(np.float32),
            "channels": np.arange(maps) * 2, "image_ids": np.arange(maps) + 10 * e,
            "positions": np.full((maps, 2), e), "values": np.arange(maps) + 0.5,
        } for e in epochs]
    return evolution


class FakeRun:
    def __init__(self, evolution=None, error=None):
        self.path = pathlib.Path("/runs/fake")
        self.config = {"model": "zfnet_small", "dataset": "fashion_mnist", "evolution_sample": 64, "seed": 0}
        self._evolution, self._error = evolution, error

    def evolution(self):
        if self._error:
            raise self._error
        return self._evolution


def test_grid_rows_are_maps_columns_are_epochs():
    evolution = _records({"conv1": [1, 2, 5], "conv2": [2, 5]})
    epochs, grids = fig4_evolution.evolution_grid(evolution)
    assert epochs == [1, 2, 5]
    assert grids["conv1"]["panels"].shape == (3, 3, 6, 6, 3)
    # conv1, map 1, epoch 2: that record's projection, contrast-normalised (independent oracle)
    projection = evolution["conv1"][1]["projections"][1, ..., 0]
    expected = 0.5 + projection / (2 * np.abs(projection).max())
    np.testing.assert_allclose(grids["conv1"]["panels"][1, 1, ..., 0], expected, rtol=1e-6)
    assert np.isnan(grids["conv2"]["panels"][:, 0]).all()  # conv2 was not recorded at epoch 1
    assert len(grids["conv1"]["rows"]) == 9 and grids["conv1"]["rows"][4][:4] == ["conv1", 2, 2, 21]


def test_channels_that_change_between_epochs_are_an_error():
    evolution = _records({"conv1": [1, 2]})
    evolution["conv1"][1]["channels"] = np.array([7, 8, 9])
    with pytest.raises(ValueError, match="follows different maps at epoch 2"):
        fig4_evolution.evolution_grid(evolution)


def test_section_writes_the_figure_and_numbers(tmp_path):
    section = fig4_evolution.report_section(FakeRun(_records({"conv1": [1, 2], "conv2": [1, 2]})), tmp_path)
    assert section.key == "fig4" and "Fig. 4" in section.caption_html and "64 training images" in section.caption_html
    assert all((tmp_path / f).exists() for f in section.files)
    lines = (tmp_path / fig4_evolution.NUMBERS).read_text().splitlines()
    assert lines[0].startswith("layer,channel,epoch") and len(lines) == 1 + 2 * 2 * 3


def test_run_without_evolution_files_is_unavailable_with_why(tmp_path):
    with pytest.raises(SectionUnavailable, match="evolution.*missing"):
        fig4_evolution.report_section(FakeRun(error=ValueError("evolution/evolution_epoch_*.npz is missing")),
                                      tmp_path)
    with pytest.raises(SectionUnavailable, match="no evolution/\\*.npz files"):
        fig4_evolution.report_section(FakeRun({}), tmp_path)
    assert not list(tmp_path.iterdir())
