"""The report's "what each unit wants" section on two tiny runs: its maps are
Fig. 2's (recomputed by the Fig. 2 section's own code), its numbers are
recomputed with the library (`feature_visualization`, `objective_values`)
and its transferability with a direct prediction of the second model."""

import csv
import json
import shutil

import numpy as np
import pytest

from zfkeras.analysis.sections import feature_visualization as section
from zfkeras.analysis.sections import fig2_top9

TEST_IMAGES, STEPS, CROPS, SPECTRUM = 30, 3, 2, 20
METHOD = "fourier"  # the section's default


def run_section(run, out, **options):
    out.mkdir()
    options = {"method": METHOD, **options}
    return section.report_section(run, out, verbose=0, test_images=TEST_IMAGES, steps=STEPS, crops=CROPS,
                                  spectrum_images=SPECTRUM, **options)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from tests.report_helpers import make_tiny_run
    from zfkeras.runs import RunFolder

    folder = tmp_path_factory.mktemp("fv")
    run = RunFolder(make_tiny_run(folder / "run", evolution=False))
    second = RunFolder(make_tiny_run(folder / "second", evolution=False, seed=1))
    return folder, run, second


@pytest.fixture(scope="module")
def made(runs):
    folder, run, second = runs
    out = folder / "out"
    result = run_section(run, out, objective="neuron", second_run=str(second.path))
    with open(out / section.NUMBERS) as f:
        rows = list(csv.DictReader(f))
    return out, result, rows


def fig2_choice(run):
    """The maps the Fig. 2 section draws (its own mining and draw), with its top 1."""
    panels, _, _, layers, _ = fig2_top9.compute(run, verbose=0, test_images=TEST_IMAGES)
    maps_per_layer = fig2_top9.report_section.__kwdefaults__["maps_per_layer"]
    chosen = {layer: fig2_top9.choose_maps(panels[layer], maps_per_layer, 0 + i) for i, layer in enumerate(layers)}
    return panels, chosen


def neuron_objectives(rows):
    """The objectives of the CSV's rows (maps at their position, then classes)."""
    import zfkeras

    return [zfkeras.Unit(r["layer"], int(r["channel"]), position=(int(r["y"]), int(r["x"])))
            if r["layer"] != section.CLASS_LAYER else int(r["channel"]) for r in rows]


@pytest.fixture(scope="module")
def replayed(runs, made):
    """The section's optimisation, called again (same seed: the same images on this machine)."""
    import zfkeras

    _, run, _ = runs
    train, _ = run.load_split("train", max_examples=SPECTRUM, seed=0)
    return zfkeras.feature_visualization(run.load_model(), neuron_objectives(made[2]), inputs=run.preprocess(train),
                                         preprocess=run.preprocess, method=METHOD, steps=STEPS, crops=CROPS, seed=0,
                                         verbose=0)


def test_the_rows_are_fig2s_maps_then_every_class(runs, made):
    _, run, _ = runs
    out, result, rows = made
    assert result.key == "feature_visualization" and result.title == section.TITLE
    assert set(result.files) == {section.FIGURE, section.NUMBERS}
    assert (out / section.FIGURE).stat().st_size > 1000 and section.FIGURE in result.body_html
    panels, chosen = fig2_choice(run)
    expected = [(layer, int(c)) for layer, channels in chosen.items() for c in channels]
    expected += [(section.CLASS_LAYER, k) for k in range(len(run.class_names))]
    assert [(r["layer"], int(r["channel"])) for r in rows] == expected
    assert sum(len(c) for c in chosen.values()) > len(chosen)  # several maps per layer
    # neuron objectives: the position of Fig. 2's top 1, whose activation is the strongest test value
    for r in rows[:-len(run.class_names)]:
        top = panels[r["layer"]]
        c = int(r["channel"])
        assert (int(r["y"]), int(r["x"])) == tuple(int(v) for v in top.positions[c, 0])
        assert float(r["strongest_test_value"]) == pytest.approx(float(top.values[c, 0]), rel=1e-4, abs=1e-6)
    assert [r["objective"] for r in rows[-len(run.class_names):]] == [
        f"class {k} ({n})" for k, n in enumerate(run.class_names)]


def test_activation_reached_is_value_over_the_strongest_test_value(runs, made, replayed):
    from zfkeras.methods.feature_visualization import objective_values

    _, run, _ = runs
    _, result, rows = made
    objectives = neuron_objectives(rows)
    raw, _ = run.load_split("test", max_examples=TEST_IMAGES, seed=0)
    strongest = objective_values(run.load_model(), objectives, run.preprocess(raw)).max(axis=1)
    np.testing.assert_allclose([float(r["strongest_test_value"]) for r in rows], strongest, rtol=1e-5, atol=1e-7)
    values = replayed.values
    np.testing.assert_allclose([float(r["value"]) for r in rows], values, rtol=1e-5, atol=1e-7)
    reached = [float(r["activation_reached"]) for r in rows]
    for got, value, top in zip(reached, values, strongest):
        if top > 0:
            assert got == pytest.approx(value / top, rel=1e-5)
        else:
            assert np.isnan(got)
    # the caption's per-layer medians are those of the CSV
    for layer in ("conv1", "conv5"):
        mine = np.array([x for x, r in zip(reached, rows) if r["layer"] == layer])
        finite = mine[np.isfinite(mine)]
        assert f"{layer}: median {np.median(finite):.2f}, {(finite >= 1).mean():.0%} of {mine.size} >= 1" \
            in result.caption_html


def test_transferability_is_the_second_models_direct_prediction(runs, made, replayed):
    _, run, second = runs
    _, result, rows = made
    classes = [int(r["channel"]) for r in rows if r["layer"] == section.CLASS_LAYER]
    maps = len(rows) - len(classes)
    pixels = replayed.pixels[maps:]
    other = second.load_model()
    transferred = other.predict(second.preprocess(pixels), verbose=0).argmax(axis=1)
    itself = run.load_model().predict(run.preprocess(pixels), verbose=0).argmax(axis=1)
    assert [int(r["second_run_classified_as"]) for r in rows[maps:]] == transferred.tolist()
    assert [int(r["classified_as"]) for r in rows[maps:]] == itself.tolist()
    moved = int((transferred == np.array(classes)).sum())
    right = int((itself == np.array(classes)).sum())
    assert f"classifies {moved} of {len(classes)} " in result.caption_html
    assert f"The model classifies {right} of {len(classes)} " in result.caption_html
    assert str(second.path) in result.caption_html and "docs/BENCHMARKS.md" not in result.caption_html


def test_map_objectives_and_no_second_run(runs, made, tmp_path):
    import zfkeras
    from zfkeras.methods.feature_visualization import objective_values

    _, run, _ = runs
    _, _, neuron_rows = made
    result = run_section(run, tmp_path / "out", objective="map", method="maco")
    with open(tmp_path / "out" / section.NUMBERS) as f:
        rows = list(csv.DictReader(f))
    # the same maps; the objective is now the map's mean, and no position
    assert [(r["layer"], r["channel"]) for r in rows] == [(r["layer"], r["channel"]) for r in neuron_rows]
    maps = [r for r in rows if r["layer"] != section.CLASS_LAYER]
    assert all(r["y"] == "" and r["x"] == "" for r in maps)
    raw, _ = run.load_split("test", max_examples=TEST_IMAGES, seed=0)
    strongest = objective_values(run.load_model(), [zfkeras.Unit(r["layer"], int(r["channel"])) for r in maps],
                                 run.preprocess(raw)).max(axis=1)
    np.testing.assert_allclose([float(r["strongest_test_value"]) for r in maps], strongest, rtol=1e-5, atol=1e-7)
    assert all(r["second_run_classified_as"] == "" for r in rows)
    assert "docs/BENCHMARKS.md" in result.caption_html and "second_run" in result.caption_html
    # the caption names the optimiser that ran: MaCo here, Lucid's method by default
    assert "MaCo" in result.caption_html and "Lucid" not in result.caption_html
    assert "Lucid" in made[1].caption_html and "MaCo" not in made[1].caption_html


def test_a_second_run_of_other_data_is_refused(runs, tmp_path):
    from zfkeras.utils.errors import InputError

    _, run, second = runs
    other = tmp_path / "other"
    shutil.copytree(second.path, other)
    names = json.loads((other / "class_names.json").read_text()) if (other / "class_names.json").exists() \
        else list(run.class_names)
    (other / "class_names.json").write_text(json.dumps(names[::-1]))
    with pytest.raises(InputError, match="transferability needs a run of the same data"):
        section.load_second_run(str(other), run, run.load_model())
    with pytest.raises(InputError, match="no trained model"):
        (other / "model.keras").unlink()
        section.load_second_run(str(other), run, run.load_model())
    with pytest.raises(InputError, match="objective must be one of"):
        section.report_section(run, tmp_path, verbose=0, objective="channel")


def test_the_defaults_follow_fig2s_section():
    defaults = section.report_section.__kwdefaults__
    for name in ("test_images", "maps_per_layer", "seed"):
        assert defaults[name] == fig2_top9.report_section.__kwdefaults__[name]
    assert defaults["second_run"] is None and defaults["objective"] == "map" and defaults["method"] == "fourier" and section.INPUTS == fig2_top9.INPUTS
