import subprocess
import sys

from zfkeras import cli


def _run(*args):
    """Runs ``zfkeras ARGS``; returns the process and the top-level modules it imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "zfkeras", *args],
                          capture_output=True, text=True, timeout=60)
    # -X importtime writes "import time: self | cumulative | module" per import to stderr
    lines = [line.split("|") for line in proc.stderr.splitlines() if line.startswith("import time:")]
    imported = {parts[-1].strip().split(".")[0] for parts in lines if len(parts) == 3}
    assert "zfkeras" in imported  # the import log was read
    return proc, imported


def test_help_imports_no_tensorflow_and_lists_verbs():
    proc, imported = _run("--help")
    assert proc.returncode == 0
    assert "train" in proc.stdout
    # an instant answer: neither TensorFlow nor Keras (seconds to import) is loaded
    assert not imported & {"tensorflow", "keras"}, sorted(imported)


def test_no_tensorflow_for_help_or_argument_errors():
    code = (
        "import sys\n"
        "from zfkeras import cli\n"
        "argvs = [['--help'], ['train', '--epochs', 'x'], ['train', '--model', 'vgg']]\n"
        "argvs += [[verb, '--help'] for verb in cli.VERBS] + [[verb, '--no-such-option'] for verb in cli.VERBS]\n"
        "for argv in argvs:\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "assert 'keras' not in sys.modules, 'keras was imported'\n"
        "print('clean')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "clean" in proc.stdout


def test_unknown_verb():
    proc, _ = _run("trian")
    assert proc.returncode == 2
    assert "unknown verb 'trian'" in proc.stderr


def test_train_argument_errors_are_clear():
    proc, imported = _run("train", "--model", "vgg16")
    assert proc.returncode == 2
    assert "model must be one of" in proc.stderr and "vgg16" in proc.stderr
    assert not imported & {"tensorflow", "keras"}, sorted(imported)
    proc, _ = _run("train", "--learning-rate", "-1")
    assert proc.returncode == 2 and "learning_rate must be > 0, got -1" in proc.stderr
    proc, _ = _run("train", "--dataset", "folder")
    assert proc.returncode == 2 and "needs --data-dir" in proc.stderr


def test_dispatch_table_points_at_real_modules():
    import importlib

    for verb, (module, _) in cli.VERBS.items():
        mod = importlib.import_module(module)
        assert callable(mod.main) and callable(mod.build_parser), verb


def test_training_verbs_turn_on_onednn_unless_the_user_chose(monkeypatch, capsys):
    import os

    import pytest

    from zfkeras.cli import dispatch

    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    with pytest.raises(SystemExit):
        dispatch.main(["ablate", "--help"])
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    with pytest.raises(SystemExit):
        dispatch.main(["train", "--help"])
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    with pytest.raises(SystemExit):
        dispatch.main(["occlude", "--help"])  # any convnet: TensorFlow's own choice
    assert "TF_ENABLE_ONEDNN_OPTS" not in os.environ
    capsys.readouterr()
