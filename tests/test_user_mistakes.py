"""A user's mistake is one line naming it and what to do, exit status 2 (issue 24, 4).

Each case here was reported as "internal error ... This is a bug in
zfkeras" with a traceback, or with a wrong or cut message. Permission
cases run the command as ``nobody`` (root may read and write anything;
`tests.fault_helpers`).
"""

import os
import pathlib
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.fault_helpers import one_line_user_error, open_to_all, shared_folder, zfkeras
from zfkeras.analysis.cli import occlude as occlude_cli
from zfkeras.analysis.cli import probe as probe_cli
from zfkeras.explore import cli as explore_cli
from zfkeras.train import cli as train_cli


def _image(folder, name="im0.png", count=1):
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(2)
    for i in range(count):
        Image.fromarray(rng.randint(0, 256, (32, 40), np.uint8)).save(folder / (name if count == 1 else f"im{i}.png"))
    return folder / name


def _one_line(capsys, status, prog):
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and "internal error" not in err
    lines = [line for line in err.splitlines() if line.startswith(f"{prog}: error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def shared_run(trained_run):
    """A copy of the trained run, and an image, in a folder ``nobody`` may read but not write."""
    with shared_folder() as shared:
        shutil.copytree(trained_run.path, os.path.join(shared, "run"), ignore=shutil.ignore_patterns("report"))
        _image(os.path.join(shared, "images"))
        open_to_all(shared)
        yield pathlib.Path(shared)


# -- occlude -----------------------------------------------------------------

def test_occlude_out_naming_a_file(trained_run, tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    line = _one_line(capsys, occlude_cli.main([str(trained_run.path), str(_image(tmp_path)), "--out",
                                               str(tmp_path / "taken")]), "zfkeras occlude")
    assert "--out" in line and "is a file, not a folder" in line
    assert (tmp_path / "taken").read_text() == "x"


def test_occlude_out_in_a_read_only_folder(shared_run):
    result = zfkeras("occlude", shared_run / "run", shared_run / "images" / "im0.png", "--out",
                     shared_run / "out", user="nobody")
    line = one_line_user_error(result, "zfkeras occlude")
    assert "cannot be written" in line and "read-only for this user" in line
    assert result.stdout == ""  # refused before any work


def test_occlude_bogus_layer(trained_run, tmp_path, capsys):
    line = _one_line(capsys, occlude_cli.main([str(trained_run.path), str(_image(tmp_path)), "--layer", "bogus",
                                               "--out", str(tmp_path / "o")]), "zfkeras occlude")
    assert "--layer 'bogus': the model has no such layer" in line and "conv1" in line
    assert not (tmp_path / "o").exists()


def test_occlude_unreadable_image(shared_run):
    with shared_folder() as own:
        image = _image(own)
        os.chmod(image, 0o000)
        os.chmod(own, 0o777)
        result = zfkeras("occlude", shared_run / "run", image, "--out", os.path.join(own, "o"), user="nobody")
    line = one_line_user_error(result, "zfkeras occlude")
    assert "image file" in line and "cannot be read: permission denied" in line


# -- probe -------------------------------------------------------------------

def test_probe_bogus_layers(trained_run, tmp_path, capsys):
    status = probe_cli.main([str(trained_run.path), "--layers", "bogus", "--per-class", "2", "--test-per-class", "2",
                             "--folds", "2", "--out", str(tmp_path / "p")])
    line = _one_line(capsys, status, "zfkeras probe")
    assert "['bogus'] are not in model" in line and "conv1" in line


def test_probe_out_naming_a_file_is_refused_before_the_computation(trained_run, tmp_path, capsys):
    (tmp_path / "taken").write_text("x")
    status = probe_cli.main([str(trained_run.path), "--out", str(tmp_path / "taken")])
    line = _one_line(capsys, status, "zfkeras probe")
    assert "--out" in line and "is a file" in line


def test_probe_out_read_only(shared_run):
    result = zfkeras("probe", shared_run / "run", "--out", shared_run / "probe", user="nobody")
    line = one_line_user_error(result, "zfkeras probe")
    assert "cannot be written" in line
    assert "Probing" not in result.stdout and result.stdout == ""


# -- export, report ----------------------------------------------------------

@pytest.mark.parametrize("unreadable", ["model.keras", "config.json"])
def test_export_and_report_with_an_unreadable_run_file(trained_run, unreadable):
    with shared_folder() as own:
        run = pathlib.Path(own) / "run"
        shutil.copytree(trained_run.path, run, ignore=shutil.ignore_patterns("report"))
        open_to_all(own)
        os.chmod(own, 0o777)
        os.chmod(run, 0o777)
        os.chmod(run / unreadable, 0o000)
        for verb, args in (("export", [run, os.path.join(own, "served")]), ("report", [run, "--quiet"])):
            line = one_line_user_error(zfkeras(verb, *args, user="nobody"), f"zfkeras {verb}")
            assert unreadable in line and "cannot be read: permission denied" in line
            assert "corrupt" not in line
        assert sorted(os.listdir(own)) == ["run"]


def test_export_to_a_read_only_out_dir(shared_run):
    line = one_line_user_error(zfkeras("export", shared_run / "run", shared_run / "served", user="nobody"),
                               "zfkeras export")
    assert "OUT_DIR" in line and "cannot be written" in line


# -- train -------------------------------------------------------------------

def test_train_into_a_read_only_run_folder():
    with shared_folder() as own:
        (pathlib.Path(own) / "data" / "train" / "a").mkdir(parents=True)
        _image(pathlib.Path(own) / "data" / "train" / "a")
        open_to_all(own)
        result = zfkeras("train", "--dataset", "folder", "--data-dir", os.path.join(own, "data"), "--run-dir",
                         os.path.join(own, "run"), user="nobody")
        line = one_line_user_error(result, "zfkeras train")
        assert "--run-dir" in line and "cannot be written" in line
        assert sorted(os.listdir(own)) == ["data"]


def test_train_data_dir_naming_a_file(tmp_path, capsys):
    (tmp_path / "data.npz").write_text("x")
    line = _one_line(capsys, train_cli.main(["--data-dir", str(tmp_path / "data.npz"), "--run-dir",
                                             str(tmp_path / "run")]), "zfkeras train")
    assert "is a file, not a folder" in line and "does not exist" not in line
    assert sorted(os.listdir(tmp_path)) == ["data.npz"]


def test_a_failed_train_leaves_no_stray_files(tmp_path, capsys):
    from zfkeras.data.fashion_mnist import FILES

    data = tmp_path / "data"
    data.mkdir()
    for name in FILES:  # present (the early check passes) but not gzip: training fails on reading them
        (data / name).write_bytes(b"not gzip data")
    status = train_cli.main(["--data-dir", str(data), "--run-dir", str(tmp_path / "run"), "--epochs", "1"])
    assert status == 2, capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["data"]


def test_a_failed_train_over_an_old_run_puts_it_back(tmp_path, capsys):
    from zfkeras.data.fashion_mnist import FILES

    data = tmp_path / "data"
    data.mkdir()
    for name in FILES:
        (data / name).write_bytes(b"not gzip data")
    old = tmp_path / "run"
    old.mkdir()
    (old / "config.json").write_text('{"dataset": "fashion_mnist"}')
    (old / "model.keras").write_bytes(b"weights")
    status = train_cli.main(["--overwrite", "--data-dir", str(data), "--run-dir", str(old), "--epochs", "1"])
    assert status == 2
    assert "moved the previous content" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["data", "run"]
    assert (old / "model.keras").read_bytes() == b"weights"


def test_a_lost_worker_is_named_with_its_address_and_the_resume_command(tmp_path, monkeypatch, capsys,
                                                                         fashion_mnist_dir):
    import tensorflow as tf

    from zfkeras.train import runner

    config = '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": 0}}'
    monkeypatch.setenv("TF_CONFIG", config)

    def lose_worker(config, overwrite=False):
        # what MultiWorkerMirroredStrategy's collectives raise when a peer dies
        raise tf.errors.UnavailableError(None, None, "Collective ops is aborted by: failed to connect to "
                                         "/job:worker/replica:0/task:1 (ipv4:127.0.0.1:2)")

    monkeypatch.setattr(runner, "run", lose_worker)
    argv = ["--data-dir", fashion_mnist_dir, "--run-dir", str(tmp_path / "run"), "--epochs", "3"]
    line = _one_line(capsys, train_cli.main(argv), "zfkeras train")
    assert "worker 1 at 127.0.0.1:2 went away" in line
    assert f"zfkeras train --data-dir {fashion_mnist_dir} --run-dir {tmp_path / 'run'} --epochs 3" in line
    assert "resumes from the last complete epoch" in line


# -- explore -----------------------------------------------------------------

def test_explore_class_names_with_invalid_json(trained_run, tmp_path, capsys):
    names = tmp_path / "names.json"
    names.write_text('["a", "b",')
    images = _image(tmp_path / "images", count=9).parent
    line = _one_line(capsys, explore_cli.main([str(trained_run.model_path), "--images", str(images), "--logdir",
                                               str(tmp_path / "logs"), "--class-names", str(names)]),
                     "zfkeras explore")
    assert "is not valid JSON" in line
    assert not (tmp_path / "logs").exists()


def test_explore_logdir_naming_a_file(trained_run, tmp_path, capsys):
    (tmp_path / "logs").write_text("x")
    images = _image(tmp_path / "images", count=9).parent
    line = _one_line(capsys, explore_cli.main([str(trained_run.model_path), "--images", str(images), "--logdir",
                                               str(tmp_path / "logs")]), "zfkeras explore")
    assert "is a file" in line


def test_explore_logdir_read_only(shared_run):
    line = one_line_user_error(zfkeras("explore", shared_run / "run" / "model.keras", "--images",
                                       shared_run / "images", "--logdir", shared_run / "logs", user="nobody"),
                               "zfkeras explore")
    assert "cannot be written" in line


# -- report hints --------------------------------------------------------------

def test_a_missing_sections_hint_is_not_cut(tmp_path):
    from zfkeras.analysis.report import build
    from zfkeras.data.fashion_mnist import find_fashion_mnist
    from zfkeras.utils.errors import InputError

    with pytest.raises(InputError) as caught:
        find_fashion_mnist(str(tmp_path / "nowhere"))
    assert "Looked in:\n" in str(caught.value)  # a message of several lines
    missing = build._failure(tmp_path, "fig2_top9", "Fig. 2", "failed", caught.value)
    assert "Looked in:" in missing.reason and "Install them with" in missing.reason
    assert "\n" not in missing.reason
