"""Declared dependencies equal imported ones.

Every third-party module that zfkeras (zfkeras/, train/, analysis/,
export/) imports belongs to a distribution that setup.cfg declares, and
every declared distribution is imported, or named below with the reason
zfkeras needs it without importing it. The same for the tests and the
``test`` extra.
"""

import ast
import configparser
import pathlib
import sys
from importlib.metadata import packages_distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("zfkeras", "train", "analysis", "export", "explore")

# Declared and needed at run time, but never imported by zfkeras' own code.
NOT_IMPORTED = {
    "importlib-resources": "tensorflow-datasets imports it but declares it for Python < 3.9 only",
}
# Declared in the test extra and run as tools, not imported by the tests.
TEST_TOOLS = {
    "import-linter": "tests/test_layering.py runs lint-imports",
    "setuptools": "tests/test_packaging.py builds a wheel without build isolation",
    "wheel": "tests/test_packaging.py builds a wheel without build isolation",
    "ipykernel": "tests/test_examples.py runs the tutorials in an ipykernel (python -m ipykernel_launcher)",
    "pytest-xdist": "scripts/test.sh runs the suite on two workers (pytest -n 2)",
}


def imported_top_level(folders):
    """{top-level module name: first file importing it}, third-party only."""
    found = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("zfkeras", "tests"):
                        found.setdefault(top, path.relative_to(ROOT).as_posix())
    return found


def distributions_of(modules):
    """{distribution (canonical name): a file importing it}; fails on a module no distribution provides."""
    providers = packages_distributions()
    missing = {module: where for module, where in modules.items() if module not in providers}
    assert not missing, f"imported but provided by no installed distribution: {missing}"
    return {canonicalize_name(dist): where for module, where in modules.items() for dist in providers[module]}


def declared():
    """(install_requires, {extra: requirements}) from setup.cfg, as canonical names."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")

    def names(text):
        return {canonicalize_name(Requirement(line).name) for line in text.splitlines() if line.strip()}

    extras = {extra: names(text) for extra, text in config["options.extras_require"].items()}
    return names(config["options"]["install_requires"]), extras


def installed_tensorflow_extra(extras):
    """The extra (cpu or gpu) whose TensorFlow distribution is installed."""
    (tensorflow,) = {canonicalize_name(d) for d in packages_distributions()["tensorflow"]}
    (extra,) = [name for name in ("cpu", "gpu") if tensorflow in extras[name]]
    return extra


def test_imported_distributions_are_the_declared_ones():
    requires, extras = declared()
    expected = requires | extras[installed_tensorflow_extra(extras)]
    imported = distributions_of(imported_top_level(PACKAGE_FOLDERS))
    undeclared = {dist: where for dist, where in imported.items() if dist not in expected}
    assert not undeclared, f"imported (in the file shown) but not declared in setup.cfg: {undeclared}"
    unused = expected - set(imported) - set(NOT_IMPORTED)
    assert not unused, f"declared in setup.cfg but never imported: {sorted(unused)}"
    # each reason for a declared-but-not-imported distribution still applies
    stale = {dist for dist in NOT_IMPORTED if dist in imported or dist not in expected}
    assert not stale, f"NOT_IMPORTED lists {sorted(stale)}: imported now or no longer declared"


def test_cpu_and_gpu_extras_differ_only_in_the_tensorflow_build():
    _, extras = declared()
    assert extras["cpu"] - extras["gpu"] == {"tensorflow-cpu"}
    assert extras["gpu"] - extras["cpu"] == {"tensorflow"}


def test_tests_import_only_declared_distributions_and_use_the_test_extra():
    requires, extras = declared()
    runtime = requires | extras[installed_tensorflow_extra(extras)]
    imported = distributions_of(imported_top_level(["tests"]))
    undeclared = {d: where for d, where in imported.items() if d not in runtime | extras["test"]}
    assert not undeclared, f"tests import distributions setup.cfg does not declare: {undeclared}"
    unused = extras["test"] - set(imported) - set(TEST_TOOLS)
    assert not unused, f"the test extra declares distributions no test uses: {sorted(unused)}"


def test_the_scan_sees_undeclared_and_unused_distributions(tmp_path, monkeypatch):
    # the same comparison on a made-up package: a missing and a surplus declaration are both named
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("import os\nfrom PIL import Image\ndef f():\n    import numpy.linalg\n")
    imported = distributions_of(imported_top_level(["pkg"]))
    assert imported == {"pillow": "pkg/a.py", "numpy": "pkg/a.py"}
    declared_here = {"numpy", "tqdm"}
    assert set(imported) - declared_here == {"pillow"} and declared_here - set(imported) == {"tqdm"}
