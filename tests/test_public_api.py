"""The top-level API is small, every exported name resolves, the version
is defined once, and the core never imports the packages built on it."""

import ast
import importlib
import pathlib
import re

import pytest

import zfkeras

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUTER = ("zfkeras.train", "zfkeras.analysis", "zfkeras.export")


def _packages_with_all():
    for init in sorted((ROOT / "zfkeras").rglob("__init__.py")):
        yield ".".join(init.parent.relative_to(ROOT).parts)


@pytest.mark.parametrize("package", list(_packages_with_all()))
def test_every_all_name_resolves(package):
    module = importlib.import_module(package)
    for name in getattr(module, "__all__", ()):
        assert getattr(module, name) is not None, f"{package}.{name}"
        value = getattr(module, name)
        # no exported name is a module (a function and its module share no name)
        assert not isinstance(value, type(pathlib)), (
            f"{package}.{name} resolves to a module, not the exported object"
        )


def test_function_names_are_functions_whatever_was_imported():
    import zfkeras.layer_features  # noqa: F401
    import zfkeras.occlusion_engine.api  # noqa: F401
    from zfkeras.layer_features import features
    from zfkeras.occlusion_engine.api import occlusion

    assert zfkeras.features is features
    assert zfkeras.occlusion is occlusion


def test_top_level_api_is_small():
    assert 8 <= len(zfkeras.__all__) <= 16, zfkeras.__all__


def test_version_in_one_place():
    # setup.cfg reads it from zfkeras/__init__.py
    assert re.match(r"\d+\.\d+\.\d+$", zfkeras.__version__)
    assert "version = attr: zfkeras.__version__" in (ROOT / "setup.cfg").read_text()
    code = [ROOT / "setup.py"] + [p for folder in ("zfkeras", "train", "analysis", "export", "benchmarks")
                                  for p in (ROOT / folder).rglob("*.py")]
    hits = [p for p in code if re.search(r"^__version__ = ", p.read_text(), re.M)]
    assert [p.relative_to(ROOT).as_posix() for p in hits] == ["zfkeras/__init__.py"]


def _imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant):
                yield node.args[0].value
    # module names in lazy-export tables and strings
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"zfkeras(\.\w+)+", node.value):
                yield node.value


def test_core_does_not_import_train_analysis_or_export():
    core = [p for p in (ROOT / "zfkeras").rglob("*.py") if p.name != "cli.py" or p.parent.name != "zfkeras"]
    assert len(core) > 10
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in core
        for name in _imported_modules(path)
        if name.startswith(OUTER) or name in ("train", "analysis", "export") or name.split(".")[0] in ("train", "analysis", "export")
    ]
    assert not offenders, offenders


def test_layering_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from zfkeras.analysis import report\nimport zfkeras.train.runner\n")
    names = list(_imported_modules(bad))
    assert "zfkeras.analysis" in names and "zfkeras.train.runner" in names
