"""A run folder whose model.keras is truncated: named corrupt, and a report
that could make no section exits non-zero."""

import shutil

from zfkeras.analysis.cli import report as report_cli


def _truncated_copy(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run.path, copy, ignore=shutil.ignore_patterns("report"))
    data = (copy / "model.keras").read_bytes()
    (copy / "model.keras").write_bytes(data[: len(data) // 3])
    return copy


def test_a_report_that_made_no_section_exits_non_zero_and_says_why(trained_run, tmp_path, capsys):
    copy = _truncated_copy(trained_run, tmp_path)
    status = report_cli.main([str(copy), "--sections", "fig2_top9", "fig7_occlusion", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1
    assert "zfkeras report: error: no section could be made" in err
    assert f"{copy / 'model.keras'} is corrupt" in err and "File not found" not in err
    page = (copy / "report" / "index.html").read_text()
    assert page.count("is corrupt") >= 2  # both sections listed as missing, with the reason


def test_a_report_with_one_section_made_exits_zero(trained_run, tmp_path, capsys):
    copy = _truncated_copy(trained_run, tmp_path)
    # Fig. 4 reads the evolution records, not the model: it is made.
    status = report_cli.main([str(copy), "--sections", "fig4_evolution", "fig2_top9", "--quiet"])
    assert status == 0
    assert "no section could be made" not in capsys.readouterr().err
    page = (copy / "report" / "index.html").read_text()
    assert 'id="fig4"' in page and "is corrupt" in page
