"""zfkeras.analysis.report.explorer: sprites, the map index and the page (no TensorFlow)."""

import json

import numpy as np

from zfkeras.analysis.report import explorer
from zfkeras.analysis.sections.fig2_top9 import LayerTop9


def _layer(name, maps, size, seed):
    rng = np.random.RandomState(seed)
    return LayerTop9(
        name, values=-np.sort(-rng.rand(maps, 9), axis=1), image_ids=rng.randint(0, 20, (maps, 9)),
        positions=rng.randint(0, 3, (maps, 9, 2)), boxes=np.zeros((maps, 9, 4), int),
        projections=rng.rand(maps, 9, size, size, 3).astype(np.float32),
        patches=rng.rand(maps, 9, size, size, 3).astype(np.float32),
    )


def test_writes_one_sprite_per_layer_and_an_index_the_page_can_load(tmp_path):
    import matplotlib.image

    panels = {"conv1": _layer("conv1", 3, 5, 0), "outer/conv2": _layer("outer/conv2", 2, 7, 1)}
    labels = np.arange(20) % 4
    files = explorer.write_explorer(tmp_path, panels, labels, ["a", "b", "c", "d"], title="run<1>")
    assert all((tmp_path / f).exists() for f in files)
    assert "explorer/outer_conv2.png" in files  # nested names made file-safe
    sprite = matplotlib.image.imread(tmp_path / "explorer" / "conv1.png")
    tile = panels["conv1"].tile(0)
    assert sprite.shape[:2] == (3 * tile.shape[0], tile.shape[1])  # maps stacked
    np.testing.assert_allclose(sprite[tile.shape[0]:2 * tile.shape[0], :, :3], panels["conv1"].tile(1), atol=1 / 255)
    index = json.loads((tmp_path / explorer.INDEX).read_text())
    script = (tmp_path / explorer.DATA).read_text()
    assert script.startswith("window.ZF_EXPLORER = ") and json.loads(script[21:].rstrip(";\n")) == index
    second = index["layers"][1]
    assert second["name"] == "outer/conv2" and second["tile_h"] == panels["outer/conv2"].tile(0).shape[0]
    ids = panels["outer/conv2"].image_ids[1]
    assert second["maps"][1]["image_ids"] == ids.tolist()
    assert second["maps"][1]["labels"] == [["a", "b", "c", "d"][i % 4] for i in ids]
    page = (tmp_path / explorer.PAGE).read_text()
    assert "run&lt;1&gt;" in page and 'src="explorer/data.js"' in page and "http" not in page


def test_labels_without_class_names_are_numbers():
    index = explorer.explorer_index({"conv1": _layer("conv1", 1, 3, 0)}, np.arange(20), [])
    assert index["layers"][0]["maps"][0]["labels"] == [str(i) for i in index["layers"][0]["maps"][0]["image_ids"]]
