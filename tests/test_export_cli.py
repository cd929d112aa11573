"""``zfkeras export``: answers --help and argument errors without TensorFlow,
exports a run folder and prints the version folder."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from tests import export_helpers as helpers
from zfkeras.export import cli

NO_EXPLAIN = ("--explain", "none")


def test_help_and_argument_errors_do_not_import_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from zfkeras.export import cli\n"
        "for argv in (['--help'], ['run', 'out', '--version', '0'], [str(sys.argv[1]), 'out']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit as e:\n"
        "        print('exit', e.code)\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "print('imported:', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                            cwd=helpers.REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    usage = " ".join(result.stdout.split("\n\n")[0].split())
    assert usage.startswith("usage: zfkeras export [-h]") and usage.endswith("RUN_DIR OUT_DIR"), usage
    for flag in ("--occlude-size PX", "--occlude-stride PX", "--occlude-layer LAYER"):
        assert flag in usage
    assert result.stdout.count("exit 2") == 2 and "exit 0" in result.stdout
    assert "imported: []" in result.stdout
    assert "--version: must be a positive integer, got '0'" in result.stderr
    assert "not a run folder" in result.stderr


def test_argument_errors(tmp_path, capsys):
    for argv, fragment in [
        (["run"], "the following arguments are required: OUT_DIR"),
        (["run", "out", "--version", "x"], "must be a positive integer, got 'x'"),
        ([str(tmp_path / "nothing"), "out"], "not a run folder"),
    ]:
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
        assert fragment in capsys.readouterr().err
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"dataset": "fashion_mnist"}')
    with pytest.raises(SystemExit):
        cli.main([str(run), str(tmp_path / "out")])
    assert f"`zfkeras train --run-dir {run}` to resume" in capsys.readouterr().err


def test_exports_a_run_folder_and_prints_the_version_folder(tmp_path, capsys):
    import tensorflow as tf
    from zfkeras.runs.folder import RunFolder

    model = helpers.tiny_model()
    run = helpers.write_run_folder(tmp_path / "run", model)
    out = tmp_path / "serving"
    assert cli.main([str(run), str(out), "--version", "7"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == str((out / "7").resolve())
    raw = helpers.raw_digits(3)
    loaded = tf.saved_model.load(printed)
    result = loaded.signatures["serving_default"](images=tf.constant(raw))
    expected = model.predict(RunFolder(run).preprocess(raw), verbose=0)
    np.testing.assert_allclose(result["probabilities"].numpy(), expected, atol=1e-5)
    labels = result["top_labels"].numpy().astype(str)
    assert labels[0, 0] == helpers.CLASS_NAMES[int(expected[0].argmax())]
    # the same version again: refused, reported in one line, exit status 2
    assert cli.main([str(run), str(out), "--version", "7"]) == 2
    assert "version folder" in capsys.readouterr().err


def test_an_unchanged_model_reuses_the_newest_version_and_force_writes_a_new_one(tmp_path, capsys):
    import json

    # (versioning is the subject here: no explain_* signatures, 4 exports at a third of the cost)
    model = helpers.tiny_model()
    run = helpers.write_run_folder(tmp_path / "run", model)
    out = tmp_path / "serving"
    assert cli.main([str(run), str(out), *NO_EXPLAIN]) == 0
    first = capsys.readouterr()
    assert first.out.strip() == str((out / "1").resolve()) and "reused" not in first.err
    record = json.loads((out / "1" / "zfkeras_export.json").read_text())
    assert record["model_sha256"] == hashlib.sha256((run / "model.keras").read_bytes()).hexdigest()
    # the same model again: the version is reused, nothing is written
    stamp = (out / "1" / "saved_model.pb").stat().st_mtime_ns
    assert cli.main([str(run), str(out), *NO_EXPLAIN]) == 0
    again = capsys.readouterr()
    assert again.out.strip() == str((out / "1").resolve())
    assert f"reused {out / '1'}" in again.err and "--force" in again.err
    assert sorted(p.name for p in out.iterdir()) == ["1"]
    assert (out / "1" / "saved_model.pb").stat().st_mtime_ns == stamp
    # --force: a new version of the same model
    assert cli.main([str(run), str(out), "--force", *NO_EXPLAIN]) == 0
    assert capsys.readouterr().out.strip() == str((out / "2").resolve())
    # another model (other weights): a new version, its own record
    helpers.tiny_model(seed=11).save(run / "model.keras")
    assert cli.main([str(run), str(out), *NO_EXPLAIN]) == 0
    assert capsys.readouterr().out.strip() == str((out / "3").resolve())
    assert json.loads((out / "3" / "zfkeras_export.json").read_text())["model_sha256"] != record["model_sha256"]
    # other parameters (class names) from the same model file: a new version too
    (run / "class_names.json").write_text(json.dumps([f"c{i}" for i in range(10)]))
    assert cli.main([str(run), str(out), *NO_EXPLAIN]) == 0
    assert capsys.readouterr().out.strip() == str((out / "4").resolve())


def test_explain_flag_names_an_unknown_method_before_exporting(tmp_path, capsys):
    run = helpers.write_run_folder(tmp_path / "run", helpers.tiny_model())
    with pytest.raises(SystemExit) as info:
        cli.main([str(run), str(tmp_path / "out"), "--explain", "lrp_epsilon,grad_cam"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--explain: explain_methods: 'grad_cam' cannot be exported" in err and "lrp_epsilon_gamma_box" in err
    assert not (tmp_path / "out").exists()
    parser = cli.build_parser()
    for text, expected in (("all", "all"), ("none", []),
                           ("lrp_0, integrated_gradients", ["lrp_0", "integrated_gradients"])):
        assert parser.parse_args(["r", "o", "--explain", text]).explain == expected
    assert parser.parse_args(["r", "o"]).explain is None
