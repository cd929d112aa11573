"""zfkeras.utils.display: one normalisation for projections, in TensorBoard and the report."""

import glob
import json

import numpy as np

from zfkeras.utils import display


def test_contrast_normalize_maps_zero_to_grey_and_the_extreme_to_the_ends():
    panel = np.array([[-2.0, 0.0], [1.0, 0.5]])
    np.testing.assert_allclose(display.contrast_normalize(panel), [[0.0, 0.5], [0.75, 0.625]])
    np.testing.assert_array_equal(display.contrast_normalize(np.zeros((2, 2))), 0.5)


def test_grey_stays_grey_rgb_stays_and_other_depths_show_their_mean():
    grey = np.random.RandomState(0).rand(4, 4, 1).astype(np.float32)
    rgb = display.to_rgb(grey)
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_array_equal(rgb[..., 0], grey[..., 0])
    np.testing.assert_array_equal(rgb[..., 2], grey[..., 0])
    colour = np.random.RandomState(1).rand(2, 2, 3).astype(np.float32)
    np.testing.assert_array_equal(display.to_rgb(colour), colour)
    deep = np.random.RandomState(2).rand(2, 2, 5)
    np.testing.assert_allclose(display.to_rgb(deep)[..., 1], deep.mean(-1), rtol=1e-6)


def test_projection_to_image_keeps_hues_one_peak_for_all_channels():
    projection = np.zeros((1, 2, 3))
    projection[0, 0] = [4.0, -2.0, 0.0]
    projection[0, 1] = [1.0, 1.0, 1.0]
    np.testing.assert_allclose(display.projection_to_image(projection), [[[1.0, 0.25, 0.5], [0.625] * 3]])


def _tensorboard_images(log_dir):
    """{tag: (H, W, C) uint8} of the image summaries written in log_dir."""
    import tensorflow as tf

    found = {}
    for path in glob.glob(f"{log_dir}/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    found[value.tag] = tf.io.decode_png(tf.make_ndarray(value.tensor)[2]).numpy()
    return found


def test_tensorboard_and_the_report_show_the_same_projection_the_same(tmp_path):
    """The trainer's evolution image of a map equals Fig. 4's panel of it, pixel for pixel."""
    from tests.report_helpers import tiny_model
    from zfkeras.analysis.sections import fig4_evolution
    from zfkeras.runs.folder import RunFolder
    from zfkeras.train.evolution import FeatureEvolution

    (tmp_path / "config.json").write_text(json.dumps({"dataset": "fashion_mnist", "model": "zfnet_small"}))
    images = np.random.RandomState(0).normal(size=(16, 28, 28, 1)).astype(np.float32)
    callback = FeatureEvolution(images, tmp_path / "logs", tmp_path / "evolution", epochs=(1,), total_epochs=1,
                                layers=("conv1", "conv2"), maps_per_layer=3)
    callback.set_model(tiny_model())
    callback.record(1)
    callback.on_train_end()
    board = _tensorboard_images(tmp_path / "logs")
    _, grids = fig4_evolution.evolution_grid(RunFolder(tmp_path).evolution())
    for layer in ("conv1", "conv2"):
        panels = grids[layer]["panels"][:, 0]  # (maps, H, W, 3), the report's, in [0, 1]
        maps, h, w, _ = panels.shape
        row = board[f"evolution/{layer}"]
        assert row.shape == (h, maps * (w + 1) - 1, 3)
        assert len(np.unique(panels)) > 10  # real pictures, not uniform grey
        for m in range(maps):
            tile = row[:, m * (w + 1):m * (w + 1) + w].astype(np.float32) / 255.0
            np.testing.assert_allclose(tile, panels[m], atol=1 / 255 + 1e-6)
