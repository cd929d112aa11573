"""zfkeras.analysis.sections.fig2_top9: top-9 panels, the figure and the section."""

import numpy as np
import pytest

from zfkeras.analysis.sections import fig2_top9

from zfkeras.analysis.output import figures
from zfkeras.analysis.report.section import SectionUnavailable
from zfkeras.methods.unit import Unit


@pytest.fixture(scope="module")
def tiny():
    """A tiny untrained zfnet_small, its deconvnet and 40 random images."""
    from tests.report_helpers import tiny_model
    from zfkeras import Deconvnet

    model = tiny_model()
    raw = np.random.RandomState(0).randint(0, 256, (40, 28, 28, 1)).astype(np.uint8)
    images = (raw.astype(np.float32) - 128.0) / 64.0
    return model, Deconvnet(model), raw, images


@pytest.fixture(scope="module")
def panels(tiny):
    model, deconv, raw, images = tiny
    return fig2_top9.top9_panels(deconv, model, images, raw, ["conv1", "conv3"], verbose=0)


def test_top9_values_match_brute_force_maxima(tiny, panels):
    import keras

    model, _, _, images = tiny
    for layer in ("conv1", "conv3"):
        acts = keras.Model(model.inputs, model.get_layer(layer).output).predict(images, verbose=0)
        per_image = acts.max(axis=(1, 2))  # (N, C): each image's strongest activation per map
        expected = -np.sort(-per_image, axis=0)[:9].T
        np.testing.assert_allclose(panels[layer].values, expected, rtol=1e-5, atol=1e-6)
        assert panels[layer].projections.shape[:2] == (acts.shape[-1], 9)


def test_panels_are_the_receptive_field_crops_of_patch_and_projection(tiny, panels):
    model, deconv, raw, images = tiny
    top = panels["conv3"]
    c, r = 2, 4
    image_id, position = top.image_ids[c, r], top.positions[c, r]
    t, l, b, rr = deconv.receptive_field("conv3", position)
    np.testing.assert_array_equal(top.boxes[c, r], [t, l, b, rr])
    size = fig2_top9.full_field_size(deconv, "conv3")
    patch = figures.place(np.repeat(raw[image_id, t:b, l:rr] / 255.0, 3, axis=-1), (t, l, b, rr), size)
    np.testing.assert_allclose(top.patches[c, r], patch, rtol=1e-6)
    projection = deconv.project(images[image_id:image_id + 1], Unit("conv3", c, position[None]))[0]
    crop, peak = projection[t:b, l:rr], np.abs(projection[t:b, l:rr]).max()
    grey = 0.5 + crop / (2 * peak) if peak > 0 else np.full_like(crop, 0.5)  # zero is grey
    expected = figures.place(np.repeat(grey, 3, axis=-1), (t, l, b, rr), size)
    np.testing.assert_allclose(top.projections[c, r], expected, atol=1e-5)
    # conv1's field is its 5x5 kernel; conv3's (after two 3x3/2 pools) is larger
    assert fig2_top9.full_field_size(deconv, "conv1") == (5, 5) and size[0] > 5


def test_tile_is_projections_beside_patches(panels):
    top = panels["conv1"]
    tile = top.tile(0)
    h, w = top.projections.shape[2:4]
    assert tile.shape == (3 * h + 2, 2 * (3 * w + 2) + 3, 3)
    np.testing.assert_allclose(tile[:h, :w], np.where(np.isnan(top.projections[0, 0]), figures.UNCOVERED,
                                                      top.projections[0, 0]))
    right = 3 * w + 2 + 3
    np.testing.assert_allclose(tile[:h, right:right + w], np.where(np.isnan(top.patches[0, 0]),
                                                                   figures.UNCOVERED, top.patches[0, 0]))


def test_choose_maps_takes_live_maps_reproducibly(panels):
    import dataclasses

    top = dataclasses.replace(panels["conv3"], values=panels["conv3"].values.copy())
    top.values[1, -1] = 0.0  # map 1 fires on fewer than 9 images
    chosen = fig2_top9.choose_maps(top, 4, seed=3)
    assert len(chosen) == 4 and 1 not in chosen and list(chosen) == sorted(chosen)
    np.testing.assert_array_equal(chosen, fig2_top9.choose_maps(top, 4, seed=3))


def test_figure_is_one_row_per_layer_of_the_chosen_maps_tiles(tmp_path, panels, monkeypatch):
    import matplotlib.image

    drawn = []
    save_png = figures.save_png

    def keep(figure, path, dpi=100):  # look at the figure before it is saved and closed
        drawn.append([(ax.get_ylabel(), ax.images[0].get_array().data.copy(),
                       [t.get_text() for t in ax.get_xticklabels()]) for ax in figure.axes])
        save_png(figure, path, dpi)

    monkeypatch.setattr(figures, "save_png", keep)
    chosen = {"conv1": np.array([3, 0]), "conv3": np.array([1, 2, 5])}
    fig2_top9.plot_fig2(panels, chosen, tmp_path / "f.png")
    (axes,) = drawn
    assert [label for label, _, _ in axes] == ["conv1", "conv3"]
    for label, image, ticks in axes:
        tiles = [panels[label].tile(c) for c in chosen[label]]
        h, w, _ = tiles[0].shape
        assert ticks == [f"map {c}: projections | patches" for c in chosen[label]]
        assert image.shape[0] == h
        # the tiles of the chosen maps, in order, apart by equal white gaps
        gap = (image.shape[1] - len(tiles) * w) / (len(tiles) - 1)
        assert gap == int(gap) and gap >= 2
        step = w + int(gap)
        for i, tile in enumerate(tiles):
            np.testing.assert_array_equal(image[:, i * step:i * step + w], tile)
            if i:
                np.testing.assert_array_equal(image[:, i * step - int(gap):i * step], 1.0)
    png = matplotlib.image.imread(tmp_path / "f.png")
    assert png.ndim == 3 and png.shape[1] > png.shape[0] > 0  # rows of wide tiles


def test_csv_rows(panels):
    rows = fig2_top9.csv_rows(panels, np.arange(40) % 10)
    assert len(rows) == 9 * (4 + 8) and rows[0][:3] == ["conv1", 0, 1]
    assert rows[0][5] == rows[0][4] % 10  # the label of the image


def test_fewer_images_than_k_is_a_clear_error(tiny):
    model, deconv, raw, images = tiny
    with pytest.raises(ValueError, match="need at least k=9 images"):
        fig2_top9.top9_panels(deconv, model, images[:5], raw[:5], ["conv1"], verbose=0)


def test_section_of_a_run_without_model_is_unavailable(tmp_path, fashion_mnist_dir):
    from tests.report_helpers import make_tiny_run
    from zfkeras.runs.folder import RunFolder

    run = RunFolder(make_tiny_run(tmp_path / "run", model=False, evolution=False, fit=False))
    with pytest.raises(SectionUnavailable, match="model.keras is missing"):
        fig2_top9.report_section(run, tmp_path / "out")


def test_section_of_a_tiny_run(tmp_path, fashion_mnist_dir, monkeypatch):
    from tests.report_helpers import CONV_FILTERS, make_tiny_run
    from zfkeras.runs.folder import RunFolder

    run = RunFolder(make_tiny_run(tmp_path / "run", evolution=False, fit=False))
    out = tmp_path / "report"
    out.mkdir()
    section = fig2_top9.report_section(run, out, verbose=0, test_images=30)
    assert "Fig. 2" in section.caption_html and "over 30 images" in section.caption_html
    assert all((out / f).exists() for f in section.files) and "explorer.html" in section.files
    lines = (out / fig2_top9.NUMBERS).read_text().splitlines()
    assert len(lines) == 1 + 9 * sum(CONV_FILTERS)
