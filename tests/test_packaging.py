"""The wheel holds one top-level package, zfkeras, with train/, analysis/,
export/ and explore/ inside it as zfkeras.train, zfkeras.analysis,
zfkeras.export and zfkeras.explore; the explorer's static files and its
TensorBoard entry point come with it, and so does the license."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_wheel_holds_only_the_zfkeras_package(tmp_path):
    # build from a copy: setuptools leaves build/ and *.egg-info in the source
    source = tmp_path / "source"
    skip = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache")

    def ignore(folder, names):
        # runs/ of the checkout (training output), not the zfkeras.runs package
        top = {"runs"} if pathlib.Path(folder) == ROOT else set()
        return skip(folder, names) | (top & set(names))

    shutil.copytree(ROOT, source, ignore=ignore)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("zfkeras-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"zfkeras", wheel.name.split("-py")[0] + ".dist-info"}, tops
    for sub in ("train", "analysis", "export", "explore"):
        sources = {p.relative_to(ROOT / sub).as_posix() for p in (ROOT / sub).rglob("*.py")
                   if "__pycache__" not in p.parts}
        packaged = {n[len(f"zfkeras/{sub}/"):] for n in names if n.startswith(f"zfkeras/{sub}/") and n.endswith(".py")}
        assert sources == packaged, sub
    # the report's page templates are package data of zfkeras.analysis
    templates = {p.name for p in (ROOT / "analysis" / "report" / "templates").glob("*.html")}
    assert templates >= {"report.html", "explorer.html"}
    assert {n.rsplit("/", 1)[-1] for n in names if n.startswith("zfkeras/analysis/report/templates/")} == templates
    # the explorer's ES modules and style sheet are package data of zfkeras.explore
    static = {p.name for p in (ROOT / "explore" / "static").iterdir() if p.suffix in (".js", ".css")}
    assert {"index.js", "style.css"} <= static
    assert {n.rsplit("/", 1)[-1] for n in names if n.startswith("zfkeras/explore/static/")} == static
    # TensorBoard finds the plugin through the wheel's entry point
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[tensorboard_plugins]" in text and "zfkeras = zfkeras.explore.plugin:ExplorerPlugin" in text
    # the license travels in the dist-info (wheel puts it at licenses/LICENSE or
    # at LICENSE, by version), and the metadata names it
    dist_info = wheel.name.split("-py")[0] + ".dist-info/"
    licenses = [n for n in names if n.startswith(dist_info) and n.rsplit("/", 1)[-1] == "LICENSE"]
    assert len(licenses) == 1, names
    assert zipfile.ZipFile(wheel).read(licenses[0]) == (ROOT / "LICENSE").read_bytes()
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License\n")
    metadata = zipfile.ZipFile(wheel).read(dist_info + "METADATA").decode()
    assert "License: Apache-2.0" in metadata.splitlines(), metadata[:2000]
    # every subpackage of the core is packaged too
    for init in (ROOT / "zfkeras").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names


def test_train_is_not_a_top_level_module_outside_the_checkout(tmp_path):
    code = ("import importlib.util, sys\n"
            "print(importlib.util.find_spec('train'), importlib.util.find_spec('zfkeras.train') is not None)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["None", "True"]
