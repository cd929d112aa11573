"""``zfkeras visualize RUN_DIR``: feature visualisation of a run's units and classes."""

import numpy as np
import pytest

from zfkeras.cli.dispatch import main


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    from tests.run_helpers import write_folder_run

    run, _ = write_folder_run(tmp_path_factory.mktemp("visualize"))
    return run


def test_visualize_writes_images_values_and_grids(folder_run, tmp_path, capsys):
    import zfkeras

    out = tmp_path / "out"
    status = main(["visualize", str(folder_run), "--steps", "3", "--max-images", "6", "--classes", "1",
                   "--out", str(out), "--verbose", "0"])
    assert status == 0
    with np.load(out / "feature_visualization.npz") as f:
        images, pixels, values, names = f["images"], f["pixels"], f["values"], f["objectives"]
        transparency = f["transparency"]
    run = zfkeras.RunFolder(folder_run)
    # The last conv layer of the run's zfnet_small (4 maps) and class 1.
    assert names.tolist() == [f"Unit('conv5', {c})" for c in range(4)] + ["class 1"]
    assert images.shape == (5, 28, 28, 3) and pixels.dtype == np.uint8 and transparency.shape == (5, 28, 28)
    # The images are the run's preprocessing of the displayed pixels (rounding aside).
    np.testing.assert_allclose(run.preprocess(pixels), images, atol=0.51)
    from zfkeras.methods.feature_visualization import objective_values

    objectives = [zfkeras.Unit("conv5", c) for c in range(4)] + [1]
    expected = np.diag(objective_values(run.load_model(), objectives, images))
    np.testing.assert_allclose(values, expected, rtol=1e-4, atol=1e-6)
    assert (out / "pixels.png").is_file() and (out / "transparency.png").is_file()
    printed = capsys.readouterr().out
    assert "class 1:" in printed and "Wrote" in printed


def test_visualize_names_a_bad_channel(folder_run, tmp_path, capsys):
    status = main(["visualize", str(folder_run), "--channels", "9", "--steps", "1", "--max-images", "4",
                   "--out", str(tmp_path / "out")])
    assert status == 2
    error = capsys.readouterr().err
    assert "channel 9 is out of range" in error and "Traceback" not in error
