"""A user's mistake is one line and exit status 2; an internal failure shows
its traceback (exit status 1) instead of reading like a user error."""

import importlib
import pathlib

import pytest

from zfkeras import cli
from zfkeras.cli.verbs import cli_main
from zfkeras.utils.errors import InputError, InputTypeError, MissingInputError

ROOT = pathlib.Path(__file__).resolve().parents[1]
TF_MESSAGE = "Attempt to convert a value (PerReplica:{0: <tf.Tensor: shape=(), dtype=float32>}) with an unsupported type"


def _boom(*args, **kwargs):
    raise ValueError(TF_MESSAGE)


def test_a_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    from zfkeras.train import cli as train_cli

    occupied = tmp_path / "run"
    occupied.write_text("a file where the run folder should be")
    assert train_cli.main(["--run-dir", str(occupied)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"zfkeras train: error: --run-dir {str(occupied)!r} is a file, not a folder; "
                                "name a folder"]


def test_an_internal_value_error_from_inside_the_run_shows_its_traceback(tmp_path, capsys, monkeypatch):
    from zfkeras.train import cli as train_cli
    from zfkeras.train import runner

    monkeypatch.setattr(runner, "prepare_run_dir", _boom)
    assert train_cli.main(["--run-dir", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "zfkeras train: error:" not in err
    assert f"zfkeras train: internal error: ValueError: {TF_MESSAGE}" in err
    assert "not a problem with your input" in err
    assert "Traceback (most recent call last):" in err
    # the traceback reaches the function that raised
    assert "runner.py" in err and "in run" in err and "in _boom" in err
    assert err.rstrip().endswith(f"ValueError: {TF_MESSAGE}")


def test_the_dispatcher_passes_both_through(tmp_path, capsys, monkeypatch):
    from zfkeras.train import runner

    occupied = tmp_path / "run"
    occupied.write_text("")
    assert cli.main(["train", "--run-dir", str(occupied)]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1
    monkeypatch.setattr(runner, "prepare_run_dir", _boom)
    assert cli.main(["train", "--run-dir", str(tmp_path / "other")]) == 1
    assert "Traceback (most recent call last):" in capsys.readouterr().err


@pytest.mark.parametrize("verb", list(cli.VERBS))
def test_every_verb_goes_through_the_shared_handler(verb):
    module = importlib.import_module(cli.VERBS[verb][0])
    assert getattr(module.main, "cli_prog", None) == f"zfkeras {verb}"


@pytest.mark.parametrize("error, status, first_line", [
    (InputError("--size 40 is larger than the model's 28x28 input"), 2,
     "zfkeras x: error: --size 40 is larger than the model's 28x28 input"),
    (MissingInputError("--data-dir nowhere does not exist"), 2, "zfkeras x: error: --data-dir nowhere does not exist"),
    (InputTypeError("epochs must be a positive integer, got 'x'"), 2,
     "zfkeras x: error: epochs must be a positive integer, got 'x'"),
    (ValueError("shapes (2,) and (3,) not aligned"), 1,
     "zfkeras x: internal error: ValueError: shapes (2,) and (3,) not aligned"),
    (FileNotFoundError("/tmp/cache/__pycache__/x.pyc"), 1,
     "zfkeras x: internal error: FileNotFoundError: /tmp/cache/__pycache__/x.pyc"),
    (KeyError("conv9"), 1, "zfkeras x: internal error: KeyError: 'conv9'"),
])
def test_the_handler_tells_user_errors_from_bugs(error, status, first_line, capsys):
    @cli_main("zfkeras x")
    def main(argv=None):
        raise error

    assert main([]) == status
    err = capsys.readouterr().err
    assert err.splitlines()[0] == first_line
    assert ("Traceback (most recent call last):" in err) == (status == 1)


def test_usage_errors_and_interrupts_are_not_caught():
    @cli_main("zfkeras x")
    def main(argv=None):
        raise {"exit": SystemExit(2), "interrupt": KeyboardInterrupt()}[argv[0]]

    with pytest.raises(SystemExit):
        main(["exit"])
    with pytest.raises(KeyboardInterrupt):
        main(["interrupt"])


def test_input_errors_are_still_the_builtin_errors_they_refine():
    from zfkeras.utils import validation
    from zfkeras.runs.folder import RunFolder

    with pytest.raises(InputError) as raised:
        validation.positive_int(0, "epochs")
    assert isinstance(raised.value, ValueError)
    with pytest.raises(InputTypeError) as raised:
        validation.positive_int("3", "epochs")
    assert isinstance(raised.value, TypeError)
    assert issubclass(MissingInputError, FileNotFoundError)
    with pytest.raises(InputError, match="not a run folder"):
        RunFolder(ROOT / "no-such-run-folder")


def test_one_argparse_integer_type_for_every_verb():
    import argparse

    from zfkeras.cli.verbs import int_argument, non_negative_int_argument, positive_int_argument

    assert positive_int_argument("12") == 12 and non_negative_int_argument("0") == 0
    for parse, text, what in ((positive_int_argument, "0", "a positive integer"),
                              (positive_int_argument, "1.5", "a positive integer"),
                              (non_negative_int_argument, "-1", "a non-negative integer"),
                              (int_argument(2), "1", "an integer >= 2")):
        with pytest.raises(argparse.ArgumentTypeError, match=rf"^must be {what}, got {text!r}$"):
            parse(text)
    # the verbs' parsers use these very functions, not copies of their own
    int_types = set()
    for module in ("zfkeras.analysis.cli.mine", "zfkeras.analysis.cli.probe", "zfkeras.analysis.cli.transfer",
                   "zfkeras.analysis.cli.ablate", "zfkeras.analysis.cli.occlude", "zfkeras.export.cli",
                   "zfkeras.explore.cli"):
        parser = importlib.import_module(module).build_parser()
        int_types |= {action.type for action in parser._actions if action.type not in (None, str, float)}
    assert {positive_int_argument, non_negative_int_argument} <= int_types
    # the other typed arguments: folds (an int with its own bound) and export's --explain (method names)
    assert int_types - {positive_int_argument, non_negative_int_argument} <= {
        importlib.import_module("zfkeras.analysis.cli.common").fold_count,
        importlib.import_module("zfkeras.export.cli")._explain_argument}
