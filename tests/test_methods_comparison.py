"""The methods-comparison report section on a tiny run: its table recomputed
with the library (every registered method through `zfkeras.explain`, then
`zfkeras.faithfulness` and `occlusion_drop`), its figure's panels recomputed
the same way, and its cache key following the method registry."""

import numpy as np
import pytest

from zfkeras.analysis.sections import fig2_top9, methods_comparison as mc

TEST_IMAGES, TABLE_IMAGES, STEPS = 30, 5, 4


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    from tests.report_helpers import make_tiny_run
    from zfkeras.runs import RunFolder

    folder = tmp_path_factory.mktemp("methods")
    run = RunFolder(make_tiny_run(folder / "run", evolution=False, fit=False))
    out = folder / "out"
    out.mkdir()
    result = mc.report_section(run, out, verbose=0, test_images=TEST_IMAGES, table_images=TABLE_IMAGES,
                               steps=STEPS)
    return run, out, result


@pytest.fixture(scope="module")
def inputs(section):
    run, _, _ = section
    model = run.load_model()
    raw, _ = run.load_split("test", max_examples=TEST_IMAGES, seed=0)
    return model, raw, run.preprocess(raw)


def read_rows(out):
    return np.genfromtxt(out / mc.NUMBERS, delimiter=",", names=True, dtype=None, encoding=None)


def test_the_table_lists_every_registered_method_with_its_faithfulness_recomputed(section, inputs):
    import zfkeras
    from zfkeras.methods.registry import get_method, method_names

    run, out, result = section
    model, _, images = inputs
    table = images[:TABLE_IMAGES]
    assert set(result.files) == {mc.FIGURE, mc.NUMBERS, mc.RANKING, mc.SCORES}
    rows = read_rows(out)
    # one deletion and one insertion row per registered method (occlusion included), in registry order,
    # then one occlusion-drop row per method that explains units
    expected_rows = ([(m, f"{metric} AUC") for m in method_names() for metric in ("deletion", "insertion")]
                     + [(m, "occlusion drop") for m in method_names(units=True)])
    assert list(zip(rows["method"], rows["metric"])) == expected_rows
    assert "occlusion" in method_names() and "occlusion" not in method_names(units=True)
    last = fig2_top9.conv_layers(model, zfkeras.Deconvnet(model))[-1]
    for name in method_names():
        options = {"layer": last} if "layer" in get_method(name).options else {}
        maps = zfkeras.explain(model, table, name, verbose=0, **options).maps
        for metric in ("deletion", "insertion"):
            expected = zfkeras.faithfulness(model, table, maps, metric, steps=STEPS, verbose=0)
            row = rows[(rows["method"] == name) & (rows["metric"] == f"{metric} AUC")][0]
            assert row["images"] == TABLE_IMAGES
            assert row["mean"] == pytest.approx(expected.mean, rel=1e-5, abs=1e-7), (name, metric)
            assert row["std"] == pytest.approx(expected.std, rel=1e-4, abs=1e-6), (name, metric)
    # methods differ: the table is not one number repeated
    deletion = rows[rows["metric"] == "deletion AUC"]["mean"]
    assert len(set(np.round(deletion, 6))) > 1
    assert f"over {TABLE_IMAGES} test images" in result.caption_html
    assert all(name in result.caption_html for name in method_names())


def test_the_ranking_follows_the_tables_means_and_its_paired_differences_the_per_image_scores(section):
    from zfkeras.analysis.output.ranking import FACTOR

    _, out, result = section
    rows = read_rows(out)
    scores = np.genfromtxt(out / mc.SCORES, delimiter=",", names=True, dtype=None, encoding=None)
    ranked = np.genfromtxt(out / mc.RANKING, delimiter=",", names=True, dtype=None, encoding=None)
    for metric, higher in mc.DIRECTIONS.items():
        table = rows[rows["metric"] == metric]
        # the per-image scores give the table's mean (finite ones) and image count
        per_image = {}
        for row in table:
            mine = scores[(scores["method"] == row["method"]) & (scores["metric"] == metric)]
            values = mine["score"].astype(float)
            per_image[row["method"]] = values
            finite = values[np.isfinite(values)]
            assert finite.size == row["images"], (metric, row["method"])
            if finite.size:
                assert finite.mean() == pytest.approx(row["mean"], rel=1e-6, abs=1e-9), (metric, row["method"])
        # the order: the table's means sorted (best first), NaN last
        means = {str(r["method"]): float(r["mean"]) for r in table}
        expected = sorted(means, key=lambda m: (np.isnan(means[m]), -means[m] if higher else means[m]))
        mine = ranked[ranked["metric"] == metric]
        assert list(mine["method"]) == expected, metric
        assert list(mine["rank"]) == list(range(1, len(expected) + 1))
        # each neighbour pair: the paired difference over the images both scored, recomputed
        for this, below in zip(mine[:-1], mine[1:]):
            a, b = per_image[str(this["method"])], per_image[str(below["method"])]
            both = np.isfinite(a) & np.isfinite(b)
            d = a[both] - b[both]
            assert this["next_method"] == below["method"] and this["pairs"] == d.size
            if d.size >= 2:
                se = d.std(ddof=1) / np.sqrt(d.size)
                assert this["difference"] == pytest.approx(d.mean(), rel=1e-6, abs=1e-12)
                assert this["standard_error"] == pytest.approx(se, rel=1e-6, abs=1e-12)
                assert (this["separated"] == "yes") == bool(abs(d.mean()) > FACTOR * se)
        # the caption lists the order in words
        assert f"By {metric} ({'higher' if higher else 'lower'} is better): {', '.join(expected)}." \
            in result.caption_html
    assert mc.RANKING in result.caption_html and mc.SCORES in result.caption_html


def test_the_occlusion_drop_rows_are_recomputed_from_the_units_maps(section, inputs):
    import zfkeras
    from zfkeras.measures.faithfulness import occlusion_drop
    from zfkeras.methods.registry import method_names

    run, out, _ = section
    model, _, images = inputs
    table = images[:TABLE_IMAGES]
    deconv = zfkeras.Deconvnet(model)
    last = fig2_top9.conv_layers(model, deconv)[-1]
    top = zfkeras.top_activations(model, images, [last], k=fig2_top9.K, verbose=0)[last]
    layers = fig2_top9.conv_layers(model, deconv)
    channel = int(fig2_top9.choose_maps(top, 1, 0 + layers.index(last))[0])
    field = fig2_top9.full_field_size(deconv, last)
    size = tuple(max(1, min(f, s) // 2) for f, s in zip(field, images.shape[1:3]))
    rows = read_rows(out)
    for name in method_names(units=True):
        if name in ("deconvnet", "gradient"):
            # independent of explain: the engine itself
            maps = np.abs(deconv.project(table, last, channel, method=name, verbose=0)).sum(-1)
        else:
            maps = zfkeras.explain(model, table, name, zfkeras.Unit(last, channel), verbose=0).maps
        drops = occlusion_drop(model, table, (last, channel), maps, size).scores
        drops = drops[np.isfinite(drops)]
        row = rows[(rows["method"] == name) & (rows["metric"] == "occlusion drop")][0]
        assert row["images"] == drops.size
        if drops.size:
            assert row["mean"] == pytest.approx(drops.mean(), rel=1e-5, abs=1e-7), name
        else:
            assert np.isnan(row["mean"])


def test_the_figure_panels_are_each_unit_method_of_the_unit(section, inputs):
    import zfkeras
    from PIL import Image

    from zfkeras.analysis.output import figures
    from zfkeras.methods.registry import method_names
    from zfkeras.utils.display import projection_to_image, to_rgb

    run, out, _ = section
    model, raw, images = inputs
    deconv = zfkeras.Deconvnet(model)
    layers = fig2_top9.conv_layers(model, deconv)
    layer = layers[0]
    top = zfkeras.top_activations(model, images, [layer], k=fig2_top9.K, verbose=0)[layer]
    channel = int(fig2_top9.choose_maps(top, 1, 0)[0])
    (row,) = mc.unit_panels(model, deconv, images, raw, layer, top, [channel])
    assert mc.columns() == ("patch",) + method_names(units=True)
    assert len(row) == len(mc.columns())
    image, position = int(top.image_ids[channel, 0]), tuple(int(v) for v in top.positions[channel, 0])
    t, l, b, r = box = deconv.receptive_field(layer, position)
    size = fig2_top9.full_field_size(deconv, layer)
    x = images[image:image + 1]
    expected = {
        "patch": to_rgb(raw[image, t:b, l:r] / 255.0),
        "deconvnet": projection_to_image(deconv.project(x, layer, channel, position=position, verbose=0)[0, t:b, l:r]),
        "gradient": projection_to_image(deconv.project(x, layer, channel, position=position, method="gradient",
                                                       verbose=0)[0, t:b, l:r]),
    }
    cam = zfkeras.grad_cam(model, x, layer, unit=(layer, channel, position), verbose=0)[0]
    expected["grad_cam"] = to_rgb((cam / max(cam.max(), 1e-12))[t:b, l:r, None])
    for name, picture in expected.items():
        np.testing.assert_allclose(row[mc.columns().index(name)], figures.place(picture, box, size), atol=1e-5,
                                   equal_nan=True, err_msg=name)
    # the figure: one row per conv layer's unit and one of class maps, one column per mc.columns()
    drawn = np.asarray(Image.open(out / mc.FIGURE).convert("RGB"))
    assert drawn.shape[0] / drawn.shape[1] == pytest.approx((len(layers) + 1) / len(mc.columns()), rel=0.15)


def test_the_section_is_built_by_the_report_with_its_parameters_and_the_registry_in_its_key(tmp_path):
    from zfkeras.analysis.report import build, cache
    from zfkeras.methods.registry import Method, get_method, register_method, unregister_method

    assert dict(build.SECTIONS)["methods_comparison"].startswith("The explanation methods")
    assert cache.section_parameters(mc.report_section) == {
        "test_images": 10000, "table_images": 100, "units_per_layer": 1, "steps": 10, "seed": 0}
    params = cache.section_parameters(mc.report_section)
    before = cache.section_key(tmp_path, mc, params)
    gradient = get_method("gradient")
    register_method(Method(name="keyed_gradient", function=gradient.function, summary="a test's method",
                           kind="backward rule", units=True, signed=True, channel_rule=gradient.channel_rule))
    try:
        during = cache.section_key(tmp_path, mc, params)
    finally:
        unregister_method("keyed_gradient")
    assert during != before and during["extra"][-1][0] == "keyed_gradient"
    assert cache.section_key(tmp_path, mc, params) == before
