"""The report's feature visualisation section, on a small image-folder run."""

import csv

import numpy as np


def test_feature_visualization_section(tmp_path):
    import zfkeras
    from zfkeras.analysis.sections import feature_visualization as section
    from zfkeras.methods.feature_visualization import objective_values
    from tests.run_helpers import write_folder_run

    run_dir, _ = write_folder_run(tmp_path / "data")
    run = zfkeras.RunFolder(run_dir)
    out = tmp_path / "report"
    out.mkdir()
    result = section.report_section(run, out, False, maps=2, steps=3, spectrum_images=6, test_images=6)
    assert result.key == "feature_visualization" and set(result.files) == {section.FIGURE, section.NUMBERS}
    assert (out / section.FIGURE).is_file() and section.FIGURE in result.body_html
    with open(out / section.NUMBERS) as f:
        rows = list(csv.DictReader(f))
    classes = len(run.class_names)
    assert len(rows) == 2 + classes
    assert [r["objective"] for r in rows[2:]] == [f"class {k} ({n})" for k, n in enumerate(run.class_names)]
    # The strongest test values are the objectives' largest over the run's own test draw.
    model = run.load_model()
    test, _ = run.load_split("test", max_examples=6, seed=0)
    expected = objective_values(model, list(range(classes)), run.preprocess(test)).max(axis=1)
    np.testing.assert_allclose([float(r["strongest_test_value"]) for r in rows[2:]], expected, rtol=1e-4, atol=1e-6)
    for r in rows:
        if float(r["strongest_test_value"]) > 0:
            ratio = float(r["value"]) / float(r["strongest_test_value"])
            assert abs(float(r["activation_reached"]) - ratio) <= 1e-4 * max(1.0, abs(ratio))
    # The maps are the last conv layer's two that the test images drive hardest.
    maps = objective_values(model, [zfkeras.Unit("conv5", c) for c in range(4)], run.preprocess(test)).max(axis=1)
    chosen = np.argsort(-maps, kind="stable")[:2]
    assert [r["objective"] for r in rows[:2]] == [f"conv5 map {c}" for c in chosen]
