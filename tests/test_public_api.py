"""The top-level API is the README's table, every exported name resolves,
and the version is defined once. (The layering, the core never importing
the packages built on it, is tests/test_layering.py.)"""

import importlib
import inspect
import pathlib
import re

import pytest

import zfkeras

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _packages_with_all():
    for init in sorted((ROOT / "zfkeras").rglob("__init__.py")):
        yield ".".join(init.parent.relative_to(ROOT).parts)


@pytest.mark.parametrize("package", list(_packages_with_all()))
def test_every_all_name_resolves(package):
    module = importlib.import_module(package)
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name)
        # no exported name is a module (a function and its module share no name)
        assert not isinstance(value, type(pathlib)), (
            f"{package}.{name} resolves to a module, not the exported object"
        )
        if inspect.isfunction(value) or inspect.isclass(value):
            # exported under its own name, and zfkeras' own (not a re-exported Keras or TF object)
            assert (value.__name__, value.__module__.split(".")[0]) == (name, "zfkeras"), (
                f"{package}.{name} is {value.__module__}.{value.__name__}"
            )
        else:  # a constant: named as one, and not empty
            assert name.isupper() and len(value) > 0, f"{package}.{name} = {value!r}"


def test_function_names_are_functions_whatever_was_imported():
    import zfkeras.methods.features  # noqa: F401
    import zfkeras.methods.occlusion.api  # noqa: F401
    from zfkeras.methods.features import features
    from zfkeras.methods.occlusion.api import occlusion

    assert zfkeras.features is features
    assert zfkeras.occlusion is occlusion


def _readme_api_names():
    """The names in the first column of the README's table under "## The public API"."""
    section = (ROOT / "README.md").read_text().split("## The public API", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {re.match(r"\w+", cell).group() for row in rows for cell in re.findall(r"`([^`]+)`", row)}


def test_top_level_api_is_the_readme_table():
    # what users call, and nothing else: each exported name documented, each documented name exported
    assert set(zfkeras.__all__) == _readme_api_names()
    assert len(zfkeras.__all__) == len(set(zfkeras.__all__))


def test_version_in_one_place():
    # setup.cfg reads it from zfkeras/__init__.py
    assert re.match(r"\d+\.\d+\.\d+$", zfkeras.__version__)
    assert "version = attr: zfkeras.__version__" in (ROOT / "setup.cfg").read_text()
    code = [ROOT / "setup.py"] + [p for folder in ("zfkeras", "train", "analysis", "export", "benchmarks")
                                  for p in (ROOT / folder).rglob("*.py")]
    hits = [p for p in code if re.search(r"^__version__ = ", p.read_text(), re.M)]
    assert [p.relative_to(ROOT).as_posix() for p in hits] == ["zfkeras/__init__.py"]

