"""``zfkeras report --occlusion-method``: Fig. 7 made by the method asked for, named in its caption."""

import shutil

import pytest

from zfkeras.analysis.cli import report as report_cli


def test_report_fig7_takes_the_occlusion_method(trained_run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(trained_run.path, copy, ignore=shutil.ignore_patterns("report"))
    assert report_cli.main([str(copy), "--sections", "fig7_occlusion", "--occlusion-method", "approximate",
                            "--quiet"]) == 0
    page = (copy / "report" / "index.html").read_text()
    assert "Occlusion path: approximate (tau 0.7" in page and "against the exact maps: SSIM" in page
    assert report_cli.main([str(copy), "--sections", "fig7_occlusion", "--occlusion-method", "full",
                            "--quiet"]) == 0
    page = (copy / "report" / "index.html").read_text()
    assert "Occlusion path: full (exact)." in page and "Occlusion path: approximate" not in page


def test_occlusion_method_without_fig7_is_an_argument_error(trained_run, capsys):
    with pytest.raises(SystemExit):
        report_cli.main([str(trained_run.path), "--sections", "table1_correspondence", "--occlusion-method", "full"])
    assert "--occlusion-method applies to the fig7_occlusion section" in capsys.readouterr().err
