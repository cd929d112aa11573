"""zfkeras.analysis.report.build: the section pipeline, missing sections, the cache.

Sections here are stand-in modules put into sys.modules, so these tests
need no TensorFlow; the real sections are tested in their own files and
the whole page in a browser in test_report_browser.py.
"""

import json
import os
import re
import subprocess
import sys
import types

import pytest

from zfkeras.analysis.report import build as report
from zfkeras.analysis.report.section import Section, SectionUnavailable


def _run_folder(path, model=True):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"dataset": "fashion_mnist", "model": "zfnet_small",
                                                  "epochs": 1, "seed": 0}))
    (path / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5, "test_examples": 10}))
    if model:
        (path / "model.keras").write_bytes(b"stand-in model bytes")
    return path


def _module(monkeypatch, name, report_section):
    module = types.ModuleType(f"zfkeras.analysis.sections.{name}")
    module.report_section = report_section
    monkeypatch.setitem(sys.modules, f"zfkeras.analysis.sections.{name}", module)
    return module


def _writer(key, calls):
    def report_section(run, out_dir, verbose="auto", *, images=10):
        calls.append(key)
        (out_dir / f"{key}.csv").write_text("a,b\n1,2\n")
        return Section(key, f"Fig. {key}", f"caption of {key}", f'<a href="{key}.csv">numbers</a>', [f"{key}.csv"])

    return report_section


def _unavailable(monkeypatch, name, reason):
    def report_section(run, out_dir, verbose="auto"):
        raise SectionUnavailable(reason)

    _module(monkeypatch, name, report_section)


def test_sections_written_in_order_and_missing_ones_listed_with_why(tmp_path, monkeypatch):
    calls = []
    _module(monkeypatch, "stub_first", _writer("first", calls))
    _unavailable(monkeypatch, "stub_unavailable", "run has no evolution files; train it first")
    _module(monkeypatch, "stub_last", _writer("last", calls))
    run = _run_folder(tmp_path / "run")
    index = report.write_report(run, ["stub_first", "stub_unavailable", "stub_does_not_exist", "stub_last"],
                                verbose=0)
    page = index.read_text()
    assert index == run / "report" / "index.html"
    assert calls == ["first", "last"]
    assert page.index('id="first"') < page.index('id="last"') < page.index('id="missing"')
    missing = page[page.index('id="missing"'):]
    assert "run has no evolution files; train it first" in missing
    assert "zfkeras.analysis.sections.stub_does_not_exist does not exist" in missing
    summary = json.loads((run / "report" / "report.json").read_text())
    assert [m["module"] for m in summary["missing"]] == ["stub_unavailable", "stub_does_not_exist"]
    assert summary["cpu"] and summary["metrics"]["test_accuracy"] == 0.5


def test_a_failing_section_is_listed_with_its_traceback_and_the_rest_written(tmp_path, monkeypatch):
    calls = []

    def broken(run, out_dir, verbose="auto"):
        raise RuntimeError("boom in the section")

    _module(monkeypatch, "stub_broken", broken)
    _module(monkeypatch, "stub_ok", _writer("ok", calls))
    run = _run_folder(tmp_path / "run")
    page = report.write_report(run, ["stub_broken", "stub_ok"], verbose=0).read_text()
    assert calls == ["ok"]
    assert "failed: RuntimeError: boom in the section" in page
    log = run / "report" / "errors" / "stub_broken.txt"
    assert "boom in the section" in log.read_text() and 'href="errors/stub_broken.txt"' in page


def test_a_section_returning_the_wrong_type_is_listed_as_failed(tmp_path, monkeypatch):
    _module(monkeypatch, "stub_wrong", lambda run, out_dir, verbose="auto": {"not": "a Section"})
    page = report.write_report(_run_folder(tmp_path / "run"), ["stub_wrong"], verbose=0).read_text()
    assert "returned dict, not a Section" in page


def test_rerun_reuses_sections_until_the_model_or_parameters_change(tmp_path, monkeypatch):
    calls = []
    _module(monkeypatch, "stub_cached", _writer("cached", calls))
    run = _run_folder(tmp_path / "run")
    report.write_report(run, ["stub_cached"], verbose=0)
    report.write_report(run, ["stub_cached"], verbose=0)
    assert calls == ["cached"]  # reused
    stat = (run / "model.keras").stat()
    os.utime(run / "model.keras", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    report.write_report(run, ["stub_cached"], verbose=0)
    assert calls == ["cached"] * 2  # a retrained model invalidates
    report.write_report(run, ["stub_cached"], verbose=0, params={"stub_cached": {"images": 20}})
    assert calls == ["cached"] * 3  # other parameters invalidate
    (run / "report" / "cached.csv").unlink()
    report.write_report(run, ["stub_cached"], verbose=0, params={"stub_cached": {"images": 20}})
    assert calls == ["cached"] * 4  # a deleted file invalidates
    report.write_report(run, ["stub_cached"], verbose=0, params={"stub_cached": {"images": 20}},
                        use_cache=False)
    assert calls == ["cached"] * 5


def test_unavailable_sections_are_not_cached(tmp_path, monkeypatch):
    calls = []

    def sometimes(run, out_dir, verbose="auto"):
        calls.append(1)
        raise SectionUnavailable("not yet")

    _module(monkeypatch, "stub_later", sometimes)
    run = _run_folder(tmp_path / "run")
    report.write_report(run, ["stub_later"], verbose=0)
    report.write_report(run, ["stub_later"], verbose=0)
    assert len(calls) == 2


def test_page_uses_no_external_urls_and_every_link_exists(tmp_path, monkeypatch):
    _module(monkeypatch, "stub_links", _writer("links", []))
    run = _run_folder(tmp_path / "run")
    page = report.write_report(run, ["stub_links", "stub_absent"], verbose=0).read_text()
    targets = re.findall(r'(?:src|href)="([^"#]+)"', page)
    assert targets and not [t for t in targets if re.match(r"[a-z]+:", t)]
    assert all((run / "report" / t).exists() for t in targets)


def test_progress_lines_name_each_step(tmp_path, monkeypatch, capsys):
    _module(monkeypatch, "stub_progress", _writer("progress", []))
    report.write_report(_run_folder(tmp_path / "run"), ["stub_progress"], verbose=1)
    out = capsys.readouterr().out
    assert "[report] 1/1 stub_progress ..." in out and "stub_progress: done in" in out


def test_verbose_reaches_each_section_and_0_prints_no_step(tmp_path, monkeypatch, capsys):
    seen = []

    def report_section(run, out_dir, verbose="auto"):
        seen.append(verbose)
        return Section("quiet", "Quiet", "caption", "<p>body</p>", [])

    _module(monkeypatch, "stub_quiet", report_section)
    report.write_report(_run_folder(tmp_path / "run"), ["stub_quiet"], verbose=0, use_cache=False)
    assert capsys.readouterr().out == ""
    report.write_report(_run_folder(tmp_path / "run2"), ["stub_quiet"], use_cache=False)
    assert "[report] 1/1 stub_quiet ..." in capsys.readouterr().out
    assert seen == [0, "auto"]


def test_not_a_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a run folder"):
        report.write_report(tmp_path, ["stub"], verbose=0)


@pytest.mark.parametrize("sections, match", [
    ("fig2_top9", "got the string"),
    ([3], "module name or a \\(module, title\\) pair, got 3"),
])
def test_bad_sections_argument(tmp_path, sections, match):
    with pytest.raises(TypeError, match=match):
        report.write_report(_run_folder(tmp_path / "run"), sections, verbose=0)


def test_default_sections_keep_the_agreed_order():
    assert [name for name, _ in report.SECTIONS] == [
        "fig2_top9", "methods_comparison", "feature_visualization", "fig4_evolution", "fig6_architecture",
        "fig7_occlusion", "fig5_invariance",
        "table1_correspondence", "table6_probes", "table3_4_transfer", "table2_ablations",
    ]


def test_cli_help_and_errors_need_no_tensorflow(tmp_path):
    code = (
        "import sys; from zfkeras.analysis.cli import report as report_cli\n"
        "try:\n    report_cli.main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        f"status = report_cli.main([{str(tmp_path / 'plain')!r}])\n"
        "assert 'tensorflow' not in sys.modules\nsys.exit(status)\n"
    )
    (tmp_path / "plain").mkdir()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "not a run folder" in done.stderr and "config.json" in done.stderr


def test_cli_rejects_a_missing_folder_and_unknown_sections(tmp_path, capsys):
    from zfkeras.analysis.cli import report as report_cli

    with pytest.raises(SystemExit) as exit_info:
        report_cli.main([str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2 and "is not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        report_cli.main([str(tmp_path), "--sections", "fig99"])
    assert "invalid choice: 'fig99'" in capsys.readouterr().err


def test_cli_second_run_is_the_feature_visualization_sections_parameter(tmp_path, monkeypatch, capsys):
    from zfkeras.analysis.cli import report as report_cli

    run, other = _run_folder(tmp_path / "run"), _run_folder(tmp_path / "other")
    asked, real = [], report.write_report

    def write_report(run_dir, sections=None, verbose="auto", use_cache=True, params=None):
        asked.append((sections, params))
        return real(run_dir, [], verbose=0)  # an empty report: exit status 1

    monkeypatch.setattr(report, "write_report", write_report)
    assert report_cli.main([str(run), "--second-run", str(other), "--quiet"]) == 1
    assert asked == [(None, {"feature_visualization": {"second_run": str(other)}})]
    for argv, message in (
            (["--second-run", str(other), "--sections", "fig2_top9"], "--second-run applies to the "
             "feature_visualization section, which --sections leaves out"),
            (["--second-run", str(tmp_path / "nowhere")], "is not a folder; pass another run folder")):
        with pytest.raises(SystemExit) as exit_info:
            report_cli.main([str(run), *argv])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert len(asked) == 1


def test_real_section_on_a_run_without_evolution_files_is_listed_missing(tmp_path):
    run = _run_folder(tmp_path / "run")
    page = report.write_report(run, ["fig4_evolution"], verbose=0).read_text()
    missing = page[page.index('id="missing"'):]
    assert "Fig. 4" in missing and "evolution/evolution_epoch_*.npz is missing" in missing


def test_user_controlled_text_is_escaped_and_section_fragments_are_not(tmp_path, monkeypatch):
    _module(monkeypatch, "stub_fragment", _writer("fragment", []))
    _unavailable(monkeypatch, "stub_hostile", 'class "<img src=x onerror=alert(1)>" & co is missing')
    run = _run_folder(tmp_path / "run <b>&amp;")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(dict(config, model="<script>alert(1)</script>")))
    page = report.write_report(run, ["stub_fragment", "stub_hostile"], verbose=0).read_text()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "&amp; co" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>zfkeras report: run &lt;b&gt;&amp;amp;</title>" in page
    assert '<a href="fragment.csv">numbers</a>' in page  # the section's own HTML, as written


def _header(page):
    """The text of the page's first paragraph, tags and line breaks removed."""
    first = page[page.index("<p>"):page.index("</p>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", first))


def test_header_gives_single_crop_and_ten_crop_test_accuracy_and_the_geometry(tmp_path, monkeypatch):
    _module(monkeypatch, "stub_first", _writer("first", []))
    run = _run_folder(tmp_path / "run")
    description = ("28x28 crops of the 28x28 test images zero-padded by 2 to 32x32: 4 corners and the centre, "
                   "each also mirrored left-right; class probabilities averaged")
    metrics = {"test_accuracy": 0.91234, "test_top5": 0.99861, "test_examples": 10000,
               "test_ten_crop_accuracy": 0.91745, "test_ten_crop_top5": 0.99902,
               "ten_crop": {"pad": 2, "crop_size": 28, "description": description}}
    (run / "metrics.json").write_text(json.dumps(metrics))
    header = _header(report.write_report(run, ["stub_first"], verbose=0).read_text())
    assert ("test accuracy on 10000 test images: single crop 91.23%, ten crops 91.75% "
            "(top-5: 99.86%, ten crops 99.90%); ten crops: " + description + "; CPU: ") in header
    # a run finished before the ten-crop test: the header says how to add it
    for key in ("test_ten_crop_accuracy", "test_ten_crop_top5", "ten_crop"):
        del metrics[key]
    (run / "metrics.json").write_text(json.dumps(metrics))
    header = _header(report.write_report(run, ["stub_first"], verbose=0).read_text())
    assert "single crop 91.23% (top-5: 99.86%); ten-crop test not measured yet (" in header
    assert "ten crops 9" not in header
    assert f"zfkeras train --config {run}/config.json --run-dir {run} adds it to metrics.json" in header
