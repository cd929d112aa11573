import numpy as np
import pytest
from PIL import Image

from tests.run_helpers import write_folder_run
from zfkeras.analysis.cli import occlude as occlude_cli


def _write_images(folder, count=2):
    rng = np.random.RandomState(0)
    paths = []
    for i in range(count):
        path = folder / f"item{i}.png"
        Image.fromarray(rng.randint(0, 256, (40, 56, 3)).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


def test_read_bare_image_resizes_shorter_side_and_centre_crops(tmp_path):
    path = tmp_path / "wide.png"
    array = np.zeros((20, 40), np.uint8)
    array[:, 10:30] = 255  # the centre 20x20 square is white
    Image.fromarray(array).save(path)
    out = occlude_cli.read_bare_image(str(path), 10, 10, 1)
    assert out.shape == (10, 10, 1) and out.dtype == np.uint8
    assert out[:, 1:-1].min() == 255  # the centre square, scaled to 10x10 (edges blend)
    assert out[:, 0].max() < 255 and out[:, -1].max() < 255  # the black sides blend in at the edges


def _probabilities_of(out):
    rows = np.genfromtxt(out / "occlusion.csv", delimiter=",", names=True, dtype=None, encoding=None)
    return np.atleast_1d(rows["p_class_unoccluded"])


def test_a_photo_is_cut_and_preprocessed_as_the_runs_test_images(tmp_path):
    from zfkeras.runs.folder import RunFolder
    from zfkeras.runs.sources import folder_files, to_model_size

    run_dir, _ = write_folder_run(tmp_path)
    run = RunFolder(run_dir)
    paths, _, _ = folder_files(run.config, run.splits, "test")
    raw, _ = run.load_split("test")  # the test pipeline's version: 45x61 -> 36x49 -> 36x36 -> 28x28
    assert raw.shape == (len(paths), 28, 28, 3)
    np.testing.assert_array_equal(np.stack([run.read_image(p) for p in paths]), raw)
    model = run.load_model()
    expected = model.predict(run.preprocess(raw), verbose=0).max(axis=1)
    out = tmp_path / "panels"
    assert occlude_cli.main([str(run_dir), *paths, "--out", str(out), "--stride", "7"]) == 0
    np.testing.assert_allclose(_probabilities_of(out), expected, rtol=1e-5)
    # The shortest side straight to 28 (the old cut) shows the model other pixels.
    straight = np.stack([to_model_size(np.asarray(Image.open(p).convert("RGB")), 28, 28) for p in paths])
    other = model.predict(run.preprocess(straight), verbose=0).max(axis=1)
    assert np.abs(other - expected).max() > 1e-3


def test_panels_for_image_files(trained_run, tmp_path):
    paths = _write_images(tmp_path)
    out = tmp_path / "panels"
    status = occlude_cli.main([str(trained_run.path), *paths, "--out", str(out), "--stride", "3"])
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == ["item0_occlusion.png", "item1_occlusion.png", "occlusion.csv"]
    rows = np.genfromtxt(out / "occlusion.csv", delimiter=",", names=True, dtype=None, encoding=None)
    model = trained_run.load_model()
    images = np.stack([trained_run.read_image(p) for p in paths])
    probs = model.predict(trained_run.preprocess(images), verbose=0)
    np.testing.assert_allclose(rows["p_class_unoccluded"], probs.max(axis=1), rtol=1e-4)


def test_unreadable_image_writes_nothing(trained_run, tmp_path, capsys):
    good = _write_images(tmp_path, 1)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg at all")
    out = tmp_path / "panels"
    assert occlude_cli.main([str(trained_run.path), *good, str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot read image file" in err and "broken.jpg" in err
    assert not out.exists()


def test_argument_errors(trained_run, tmp_path, capsys):
    good = _write_images(tmp_path, 1)
    with pytest.raises(SystemExit):
        occlude_cli.main([str(trained_run.path), *good, "--stride", "0"])
    assert "argument --stride: must be a positive integer, got '0'" in capsys.readouterr().err
    assert occlude_cli.main([str(trained_run.path), str(tmp_path / "missing.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert occlude_cli.main([str(trained_run.path), *good, "--size", "40", "--out", str(tmp_path / "o")]) == 2
    assert "larger than the model's 28x28 input" in capsys.readouterr().err
    assert occlude_cli.main([str(trained_run.path), *good, "--label", "Zebra", "--out", str(tmp_path / "o")]) == 2
    assert "--label 'Zebra' is neither a class name" in capsys.readouterr().err


def test_approximation_settings_reach_the_maps_and_the_caption(trained_run, tmp_path, capsys):
    good = _write_images(tmp_path, 1)
    out = tmp_path / "approx"
    assert occlude_cli.main([str(trained_run.path), *good, "--out", str(out), "--stride", "1",
                             "--method", "approximate", "--tau", "0.5", "--drill-down", "0.25",
                             "--coarse-stride", "3"]) == 0
    printed = capsys.readouterr().out
    assert "Occlusion path: approximate (tau 0.5, drill-down 0.25, coarse stride 3 px;" in printed
    assert "against the exact maps: SSIM" in printed
    for flags, message in ((["--tau", "0.5"], "--tau only apply to --method approximate, not --method auto"),
                           (["--method", "approximate", "--tau", "1.5"], "--tau must be in (0, 1], got 1.5"),
                           (["--method", "approximate", "--coarse-stride", "0"],
                            "argument --coarse-stride: must be a positive integer, got '0'")):
        with pytest.raises(SystemExit):
            occlude_cli.main([str(trained_run.path), *good, "--out", str(tmp_path / "x"), *flags])
        assert message in capsys.readouterr().err
