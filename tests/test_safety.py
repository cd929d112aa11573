"""No command destroys what it did not create; a permission problem is not damage (issue 24, 1 and 5).

Each test here failed before the fix: explore replaced a run folder, train
--overwrite deleted a folder that held no run before finding its data
missing, occlude --overwrite wiped a run folder, report replaced a good
page by a poorer one, and an unreadable model was called corrupt with the
advice to delete it. Files are compared by SHA-256 before and after.
"""

import json
import os
import pathlib
import shutil

import numpy as np
from PIL import Image

from tests.fault_helpers import one_line_user_error, open_to_all, shared_folder, tree_digests, zfkeras
from zfkeras.analysis.cli import occlude as occlude_cli
from zfkeras.analysis.cli import report as report_cli
from zfkeras.explore import cli as explore_cli
from zfkeras.train import cli as train_cli


def _images(folder, count=9):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(1)
    for i in range(count):
        Image.fromarray(rng.randint(0, 256, (32, 40), np.uint8)).save(folder / f"im{i}.png")
    return folder


def _copy_run(run, target):
    shutil.copytree(run.path, target, ignore=shutil.ignore_patterns("report"))
    return target


def test_explore_refuses_a_run_folder_as_its_entry_even_with_overwrite(trained_run, tmp_path, capsys):
    logdir = tmp_path / "logs"
    victim = _copy_run(trained_run, logdir / "myrun")
    before = tree_digests(victim)
    images = _images(tmp_path / "images")
    for extra in ([], ["--overwrite"]):
        status = explore_cli.main([str(trained_run.model_path), "--images", str(images), "--logdir", str(logdir),
                                   "--name", "myrun", *extra])
        err = capsys.readouterr().err
        assert status == 2
        assert "is a training run folder" in err and "never writes over a run" in err
        assert tree_digests(victim) == before
    assert sorted(os.listdir(logdir)) == ["myrun"]  # nothing moved aside, nothing left over


def test_explore_moves_a_foreign_folder_aside_only_with_overwrite(trained_run, tmp_path, capsys):
    logdir = tmp_path / "logs"
    (logdir / "mine").mkdir(parents=True)
    (logdir / "mine" / "notes.txt").write_text("keep me")
    images = _images(tmp_path / "images")
    argv = [str(trained_run.model_path), "--images", str(images), "--logdir", str(logdir), "--name", "mine"]
    assert explore_cli.main(argv) == 2
    assert "pass --overwrite to move its content aside" in capsys.readouterr().err
    assert os.listdir(logdir / "mine") == ["notes.txt"]
    assert explore_cli.main(argv + ["--overwrite"]) == 0
    aside = [name for name in os.listdir(logdir) if name.startswith("mine.old-")]
    assert len(aside) == 1 and (logdir / aside[0] / "notes.txt").read_text() == "keep me"
    assert sorted(os.listdir(logdir / "mine")) == ["explore.json", "images.npz", "model.keras"]
    # an entry is the command's own output: a rerun replaces it, nothing more is moved aside
    assert explore_cli.main(argv) == 0
    assert len([name for name in os.listdir(logdir) if name.startswith("mine.old-")]) == 1


def test_train_overwrite_checks_the_data_before_touching_a_folder_that_holds_no_run(tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("precious")
    status = train_cli.main(["--overwrite", "--run-dir", str(victim), "--data-dir", str(tmp_path / "nonexistent")])
    assert status == 2
    assert "Fashion-MNIST" in capsys.readouterr().err
    assert sorted(os.listdir(victim)) == ["precious.txt"] and (victim / "precious.txt").read_text() == "precious"
    assert sorted(os.listdir(tmp_path)) == ["victim"]


def test_train_refuses_a_folder_that_holds_no_run_without_overwrite(tmp_path, fashion_mnist_dir, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("precious")
    status = train_cli.main(["--run-dir", str(victim), "--data-dir", fashion_mnist_dir])
    assert status == 2
    assert "holds no run (it holds precious.txt)" in capsys.readouterr().err
    assert sorted(os.listdir(victim)) == ["precious.txt"]


def test_occlude_overwrite_never_replaces_a_run_folder(trained_run, tmp_path, capsys):
    victim = _copy_run(trained_run, tmp_path / "run")
    before = tree_digests(victim)
    image = _images(tmp_path / "images", 1) / "im0.png"
    status = occlude_cli.main([str(victim), str(image), "--out", str(victim), "--overwrite"])
    assert status == 2
    assert "is a training run folder" in capsys.readouterr().err
    assert tree_digests(victim) == before
    assert sorted(os.listdir(tmp_path)) == ["images", "run"]


def test_occlude_overwrite_replaces_its_own_output_and_moves_anything_else_aside(trained_run, tmp_path, capsys):
    image = _images(tmp_path / "images", 1) / "im0.png"
    out = tmp_path / "out"
    assert occlude_cli.main([str(trained_run.path), str(image), "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["im0_occlusion.png", "occlusion.csv"]
    assert occlude_cli.main([str(trained_run.path), str(image), "--out", str(out)]) == 2
    assert "already holds zfkeras occlude output; pass --overwrite" in capsys.readouterr().err
    assert occlude_cli.main([str(trained_run.path), str(image), "--out", str(out), "--overwrite"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["images", "out"]  # its own output: replaced, not kept
    (out / "thesis.tex").write_text("mine")
    assert occlude_cli.main([str(trained_run.path), str(image), "--out", str(out), "--overwrite"]) == 0
    aside = [name for name in os.listdir(tmp_path) if name.startswith("out.old-")]
    assert len(aside) == 1 and (tmp_path / aside[0] / "thesis.tex").read_text() == "mine"
    assert "moved the previous content" in capsys.readouterr().err


def _damage(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def test_report_with_a_damaged_model_keeps_the_good_page(trained_run, tmp_path, capsys):
    run = _copy_run(trained_run, tmp_path / "run")
    sections = ["fig4_evolution", "fig2_top9"]
    assert report_cli.main([str(run), "--sections", *sections, "--quiet"]) == 0
    good = tree_digests(run / "report")
    page = (run / "report" / "index.html").read_text()
    assert 'id="fig2"' in page and 'id="fig4"' in page
    capsys.readouterr()
    _damage(run / "model.keras")
    for asked in (sections, ["fig2_top9"]):
        status = report_cli.main([str(run), "--sections", *asked, "--no-cache", "--quiet"])
        err = capsys.readouterr().err
        assert status == 1
        assert "made fewer sections than the one in place" in err and "is corrupt" in err
        assert tree_digests(run / "report") == good  # the page and every file, byte for byte
    beside = sorted(name for name in os.listdir(run) if name.startswith("report.incomplete-"))
    assert len(beside) == 2
    assert "Missing sections" in (run / beside[0] / "index.html").read_text()


def test_a_report_with_as_many_sections_replaces_the_page(trained_run, tmp_path):
    run = _copy_run(trained_run, tmp_path / "run")
    assert report_cli.main([str(run), "--sections", "fig4_evolution", "--quiet"]) == 0
    first = json.loads((run / "report" / "report.json").read_text())
    assert first["made"] == ["fig4_evolution"]
    (run / "report" / "notes.txt").write_text("a file another verb wrote")
    assert report_cli.main([str(run), "--sections", "fig4_evolution", "fig2_top9", "--quiet"]) == 0
    second = json.loads((run / "report" / "report.json").read_text())
    assert second["made"] == ["fig4_evolution", "fig2_top9"]
    assert (run / "report" / "notes.txt").read_text() == "a file another verb wrote"  # carried over
    assert not [name for name in os.listdir(run) if name != "report" and name.startswith("report")]


def test_an_unreadable_model_is_named_unreadable_never_corrupt(trained_run):
    """occlude and probe as an unprivileged user (root reads a mode-000 file)."""
    with shared_folder() as shared:
        run = _copy_run(trained_run, pathlib.Path(shared) / "run")
        image = _images(pathlib.Path(shared) / "images", 1) / "im0.png"
        open_to_all(shared)
        os.chmod(run / "model.keras", 0o000)
        before = tree_digests(run)
        os.chmod(shared, 0o777)  # the commands may write their output here
        for verb, args in (("occlude", [run, image, "--out", os.path.join(shared, "occ")]),
                           ("probe", [run, "--out", os.path.join(shared, "probe")])):
            result = zfkeras(verb, *args, user="nobody")
            line = one_line_user_error(result, f"zfkeras {verb}")
            assert "model.keras" in line and "cannot be read: permission denied" in line
            assert "corrupt" not in line and "delete" not in line
        assert tree_digests(run) == before
        assert sorted(os.listdir(shared)) == ["images", "run"]


VISUALIZE = ["--steps", "2", "--channels", "0", "--max-images", "8", "--verbose", "0"]


def test_visualize_refuses_a_run_folder_as_out_even_with_overwrite(trained_run, tmp_path, capsys):
    from zfkeras.analysis.cli import visualize as visualize_cli

    victim = _copy_run(trained_run, tmp_path / "run")
    before = tree_digests(victim)
    for extra in ([], ["--overwrite"]):
        status = visualize_cli.main([str(trained_run.path), "--out", str(victim), *VISUALIZE, *extra])
        err = capsys.readouterr().err
        assert status == 2
        assert "is a training run folder" in err and "never writes over a run" in err
        assert tree_digests(victim) == before
    assert sorted(os.listdir(tmp_path)) == ["run"]  # nothing moved aside, nothing left over


def test_visualize_replaces_its_own_output_and_moves_anything_else_aside_only_with_overwrite(
        trained_run, tmp_path, capsys):
    from zfkeras.analysis.cli import visualize as visualize_cli

    out = tmp_path / "out"
    argv = [str(trained_run.path), "--out", str(out), *VISUALIZE]
    assert visualize_cli.main(argv) == 0
    written = ["feature_visualization.npz", "pixels.png", "transparency.png"]
    assert sorted(os.listdir(out)) == written
    assert visualize_cli.main(argv + ["--seed", "1"]) == 0  # its own output: replaced, nothing kept beside
    assert sorted(os.listdir(tmp_path)) == ["out"] and sorted(os.listdir(out)) == written
    (out / "thesis.tex").write_text("mine")
    before = tree_digests(out)
    capsys.readouterr()
    assert visualize_cli.main(argv) == 2
    assert "pass --overwrite to move its content aside" in capsys.readouterr().err
    assert tree_digests(out) == before
    assert visualize_cli.main(argv + ["--overwrite"]) == 0
    aside = [name for name in os.listdir(tmp_path) if name.startswith("out.old-")]
    assert len(aside) == 1 and tree_digests(tmp_path / aside[0]) == before
    assert sorted(os.listdir(out)) == written


def test_ablate_refuses_a_run_folder_as_out_or_ablation_folder_before_training(trained_run, tmp_path, capsys):
    from zfkeras.analysis.cli import ablate as ablate_cli

    victim = _copy_run(trained_run, tmp_path / "victim")
    before = tree_digests(victim)
    for extra in (["--out", str(victim)], ["--out", str(victim), "--table-only"],
                  ["--ablation-dir", str(victim), "--out", str(tmp_path / "table")]):
        status = ablate_cli.main([str(trained_run.path), "--variants", "zf", "--epochs", "1", *extra])
        printed = capsys.readouterr()
        assert status == 2, printed.err
        assert "is a training run folder" in printed.err and "[ablate] variant" not in printed.out
        assert tree_digests(victim) == before
    assert sorted(os.listdir(tmp_path)) == ["victim"]


def test_ablate_refuses_a_variant_folder_that_holds_no_run(trained_run, tmp_path, capsys):
    from zfkeras.analysis.cli import ablate as ablate_cli

    (tmp_path / "abl" / "zf").mkdir(parents=True)
    (tmp_path / "abl" / "zf" / "notes.txt").write_text("mine")
    status = ablate_cli.main([str(trained_run.path), "--variants", "zf", "--epochs", "1", "--ablation-dir",
                              str(tmp_path / "abl"), "--out", str(tmp_path / "table")])
    assert status == 2
    assert "notes.txt, not a run" in capsys.readouterr().err
    assert os.listdir(tmp_path / "abl" / "zf") == ["notes.txt"] and sorted(os.listdir(tmp_path)) == ["abl"]
