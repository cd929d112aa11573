"""The layering contracts of .importlinter hold, and they catch a violation.

In the checkout train/, analysis/, export/ and explore/ sit beside
zfkeras/, and import-linter reads a package from its folder, so the tests
copy the sources into the installed layout (zfkeras/train,
zfkeras/analysis, zfkeras/export, zfkeras/explore) and run
``lint-imports`` on that copy.
"""

import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".importlinter"
OUTER = ("train", "analysis", "export", "explore")
LINT_IMPORTS = pathlib.Path(sys.executable).with_name("lint-imports")


def _installed_layout(tmp_path):
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "zfkeras", tmp_path / "zfkeras", ignore=skip)
    for name in OUTER:
        shutil.copytree(ROOT / name, tmp_path / "zfkeras" / name, ignore=skip)
    return tmp_path


def _lint(tree):
    # PYTHONPATH first: the copy, not the editable install, is the zfkeras analysed
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(CONFIG), "--no-cache"], cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )


def _contract_names():
    return re.findall(r"^name = (.+)$", CONFIG.read_text(), re.M)


def test_the_layering_contracts_hold(tmp_path):
    tree = _installed_layout(tmp_path)
    done = _lint(tree)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    files = len(list((tree / "zfkeras").rglob("*.py")))
    # every file of the copy was read: the copy, with its three outer packages, was analysed
    assert f"Analyzed {files} files" in done.stdout, done.stdout[-1000:]
    names = _contract_names()
    assert len(names) == 4
    for name in names:
        assert f"{name} KEPT" in done.stdout
    assert "Contracts: 4 kept, 0 broken." in done.stdout


def test_a_violation_of_each_contract_is_caught(tmp_path):
    tree = _installed_layout(tmp_path)
    # the core importing train, export importing analysis (inside a function), train importing export,
    # the core importing the explorer
    (tree / "zfkeras" / "deconv" / "_probe.py").write_text("import zfkeras.train.runner\n")
    (tree / "zfkeras" / "export" / "_probe.py").write_text(
        "def later():\n    from zfkeras.analysis.report import build\n")
    (tree / "zfkeras" / "train" / "_probe.py").write_text("from zfkeras.export import archive\n")
    (tree / "zfkeras" / "runs" / "_probe.py").write_text("from zfkeras.explore import plugin\n")
    done = _lint(tree)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 0 kept, 4 broken." in done.stdout
    assert "zfkeras.deconv._probe -> zfkeras.train.runner (l.1)" in done.stdout
    assert "zfkeras.export._probe -> zfkeras.analysis.report.build (l.2)" in done.stdout
    assert "zfkeras.train._probe -> zfkeras.export.archive (l.1)" in done.stdout
    assert "zfkeras.runs._probe -> zfkeras.explore.plugin (l.1)" in done.stdout

