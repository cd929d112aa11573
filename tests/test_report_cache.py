"""The report's cache: a section is recomputed exactly when its inputs, parameters or code change.

Stand-in sections (modules put into sys.modules) declare their inputs and
parameters as real ones do; Table 2 is the real section on a run folder of
JSON files (no TensorFlow).
"""

import json
import sys
import types

import pytest

from zfkeras.analysis.report import build, cache
from zfkeras.analysis.report.section import Section


def _run_folder(path):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"dataset": "fashion_mnist", "model": "zfnet_small", "seed": 0}))
    (path / "model.keras").write_bytes(b"stand-in model bytes")
    (path / "evolution").mkdir()
    (path / "evolution" / "evolution_epoch_001.npz").write_bytes(b"first epoch")
    return path


def _section(monkeypatch, name, inputs, calls):
    """A stand-in section reading `inputs`, with two parameters."""
    def report_section(run, out_dir, verbose="auto", *, images=10, layers=("conv1", "conv2")):
        calls.append((name, images, tuple(layers)))
        (out_dir / f"{name}.csv").write_text(f"images,{images}\n")
        return Section(name, name, f"caption of {name}", f"<p>{images} images</p>", [f"{name}.csv"])

    module = types.ModuleType(f"zfkeras.analysis.sections.{name}")
    module.report_section = report_section
    module.INPUTS = inputs
    monkeypatch.setitem(sys.modules, module.__name__, module)


@pytest.fixture
def two_sections(tmp_path, monkeypatch):
    calls = []
    _section(monkeypatch, "stub_model", ("config.json", "model.keras"), calls)
    _section(monkeypatch, "stub_evolution", ("config.json", "evolution"), calls)
    run = _run_folder(tmp_path / "run")

    def report(**kwargs):
        calls.clear()
        build.write_report(run, ["stub_model", "stub_evolution"], verbose=0, **kwargs)
        return [name for name, _, _ in calls]

    assert report() == ["stub_model", "stub_evolution"]
    assert report() == []  # nothing changed: both reused
    return run, report, calls


def test_a_changed_parameter_recomputes_that_section_only(two_sections):
    run, report, calls = two_sections
    assert report(params={"stub_evolution": {"images": 30}}) == ["stub_evolution"]
    assert calls == [("stub_evolution", 30, ("conv1", "conv2"))]
    assert report(params={"stub_evolution": {"images": 30}}) == []
    assert report(params={"stub_evolution": {"images": 30, "layers": ["conv1"]}}) == ["stub_evolution"]
    assert report() == ["stub_evolution"]  # back to the defaults: recomputed again
    page = (run / "report" / "index.html").read_text()
    assert "<p>10 images</p>" in page


def test_a_changed_input_file_recomputes_the_sections_that_read_it_only(two_sections):
    run, report, _ = two_sections
    # the same size, the same modification time: only the contents differ
    path = run / "model.keras"
    stat = path.stat()
    path.write_bytes(b"stand-in model BYTES")
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert report() == ["stub_model"]
    (run / "evolution" / "evolution_epoch_002.npz").write_bytes(b"second epoch")  # a file added to a folder
    assert report() == ["stub_evolution"]
    (run / "evolution" / "evolution_epoch_001.npz").unlink()
    assert report() == ["stub_evolution"]
    (run / "config.json").write_text(json.dumps({"dataset": "fashion_mnist", "model": "zfnet_small", "seed": 1}))
    assert report() == ["stub_model", "stub_evolution"]
    (run / "metrics.json").write_text("{}")  # read by neither
    assert report() == []


def test_unknown_parameters_and_sections_are_refused(two_sections):
    _, report, _ = two_sections
    with pytest.raises(TypeError, match="section 'stub_model' has no parameter 'image'"):
        report(params={"stub_model": {"image": 3}})
    with pytest.raises(TypeError, match="params for 'fig2_top9', which is not among the sections written"):
        report(params={"fig2_top9": {"test_images": 3}})


def _variant(run, name, accuracy):
    folder = run / "ablations" / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"dataset": "fashion_mnist", "model": "zfnet_small",
                                                    "ablation": name, "seed": 0, "epochs": 1}))
    (folder / "metrics.json").write_text(json.dumps({
        "test_accuracy": accuracy, "history": {"accuracy": [accuracy]}, "epochs": 1, "train_examples": 100,
        "test_examples": 50, "epoch_seconds": [1.0]}))


def test_table2_shows_an_ablation_variant_trained_after_the_first_report(tmp_path):
    run = _run_folder(tmp_path / "run")
    _variant(run, "zf", 0.9)
    page = build.write_report(run, ["table2_ablations"], verbose=0).read_text()
    assert "<td>zf</td>" in page and "<td>remove_fc7</td>" not in page
    _variant(run, "remove_fc7", 0.75)  # zfkeras ablate trains one more variant
    page = build.write_report(run, ["table2_ablations"], verbose=0).read_text()
    assert "<td>zf</td>" in page and "<td>remove_fc7</td>" in page
    assert "<td>25.00</td>" in page  # its top-1 error, from its metrics.json
    csv = (run / "report" / "table2_ablations.csv").read_text()
    assert csv.count("\nremove_fc7,") == 1


def test_parameters_are_the_keyword_defaults_of_report_section():
    from zfkeras.analysis.sections import fig2_top9, fig4_evolution

    assert cache.section_parameters(fig2_top9.report_section) == {
        "test_images": 10000, "k": 9, "maps_per_layer": 6, "seed": 0}
    assert cache.section_parameters(fig4_evolution.report_section) == {}


def test_every_section_declares_its_inputs_and_no_module_settings():
    from zfkeras.runs import layout

    names = {getattr(layout, n) for n in dir(layout) if n.isupper() and isinstance(getattr(layout, n), str)}
    for module_name, _ in build.SECTIONS:
        module = __import__(f"zfkeras.analysis.sections.{module_name}", fromlist=["INPUTS"])
        assert module.INPUTS and set(module.INPUTS) <= names, module_name
        assert not hasattr(module, "REPORT_PARAMS"), module_name


def test_code_covers_the_zfkeras_modules_a_section_imports_and_only_those():
    _, fig2 = cache.code_digest("zfkeras.analysis.sections.fig2_top9")
    _, fig4 = cache.code_digest("zfkeras.analysis.sections.fig4_evolution")
    # imported inside functions, and lazily through `from zfkeras import Deconvnet`
    assert {"zfkeras.methods.top_activations", "zfkeras.deconv.deconvnet", "zfkeras.utils.display", "zfkeras.runs.folder"} <= set(fig2)
    assert "zfkeras.methods.top_activations" not in fig4 and "zfkeras.deconv" not in fig4 and "zfkeras.utils.display" in fig4


def test_a_changed_library_module_changes_the_key_of_the_sections_using_it(tmp_path, monkeypatch):
    roots = cache._package_dirs()
    copy = tmp_path / "zfkeras"
    import shutil

    shutil.copytree(roots["zfkeras"], copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "_package_dirs", lambda: dict(roots, zfkeras=copy))
    before = {m: cache.code_digest(f"zfkeras.analysis.sections.{m}")[0] for m in ("fig2_top9", "fig4_evolution")}
    with open(copy / "methods" / "top_activations.py", "a") as f:
        f.write("\n# a change to top-k mining\n")
    after = {m: cache.code_digest(f"zfkeras.analysis.sections.{m}")[0] for m in ("fig2_top9", "fig4_evolution")}
    assert after["fig2_top9"] != before["fig2_top9"]
    assert after["fig4_evolution"] == before["fig4_evolution"]
