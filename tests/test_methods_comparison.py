"""The methods-comparison report section on a tiny run: its figure, its table,
and the table's numbers recomputed with the library."""

import numpy as np
import pytest

from zfkeras.analysis.sections import fig2_top9, methods_comparison as mc


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    from tests.report_helpers import make_tiny_run
    from zfkeras.runs import RunFolder

    folder = tmp_path_factory.mktemp("methods")
    run = RunFolder(make_tiny_run(folder / "run", evolution=False, fit=False))
    out = folder / "out"
    out.mkdir()
    return run, out, mc.report_section(run, out, verbose=0, test_images=30, table_images=5, steps=4)


def test_section_files_and_table(section):
    run, out, result = section
    assert set(result.files) == {mc.FIGURE, mc.NUMBERS}
    assert "over 5 test images" in result.caption_html and "occlusion drop" in result.caption_html
    rows = np.genfromtxt(out / mc.NUMBERS, delimiter=",", names=True, dtype=None, encoding=None)
    methods = ("deconvnet", "guided_backprop", "gradient", "grad_cam")
    assert sorted(set(rows["method"])) == sorted(methods)
    assert len(rows) == 4 * 3
    auc = rows[rows["metric"] != "occlusion drop"]
    assert np.all((auc["mean"] >= 0) & (auc["mean"] <= 1) & (auc["std"] >= 0)) and np.all(auc["images"] == 5)
    # the gradient's deletion AUC, recomputed from the library on the same images
    import zfkeras
    from zfkeras.methods.grad_cam import class_projection

    model = run.load_model()
    raw, _ = run.load_split("test", max_examples=30, seed=0)
    images = run.preprocess(raw)[:5]
    maps = np.abs(class_projection(model, images, method="gradient", verbose=0)).sum(-1)
    expected = zfkeras.faithfulness(model, images, maps, "deletion", steps=4, verbose=0)
    row = rows[(rows["method"] == "gradient") & (rows["metric"] == "deletion AUC")][0]
    assert row["mean"] == pytest.approx(expected.mean, rel=1e-5)
    assert row["std"] == pytest.approx(expected.std, rel=1e-4, abs=1e-7)


def test_figure_layout(section):
    from PIL import Image

    run, out, _ = section
    image = np.asarray(Image.open(out / mc.FIGURE).convert("RGB"))
    layers = fig2_top9.conv_layers(run.load_model(), __import__("zfkeras").Deconvnet(run.load_model()))
    # one row per conv layer's unit and one of class Grad-CAMs; five columns
    assert image.shape[0] / image.shape[1] == pytest.approx((len(layers) + 1) / len(mc.COLUMNS), rel=0.15)
    assert image.std() > 10  # panels drawn, not a blank page


def test_section_is_registered():
    from zfkeras.analysis.report import build

    assert "methods_comparison" in dict(build.SECTIONS)
    assert mc.INPUTS and "table_images" in mc.report_section.__kwdefaults__
