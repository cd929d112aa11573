"""zfkeras.plot: each function draws the values it is given, one image or many, and refuses bad input."""

import dataclasses
import io
import subprocess
import sys
import types

import matplotlib
import numpy as np
import pytest

from zfkeras import Unit, plot
from zfkeras.methods.explanation import Explanation
from zfkeras.methods.unit import Unit
from zfkeras.plot import canvas, inline
from zfkeras.utils.display import projection_to_image
from zfkeras.utils.errors import InputError, InputTypeError


def pixel(figure, ax, x, y):
    """RGB in [0, 1] of the figure's pixel at data point (x, y) of ``ax`` (drawn at the figure's size)."""
    rgba = canvas.figure_pixels(figure)
    px, py = ax.transData.transform((x, y))
    return rgba[int(rgba.shape[0] - py), int(px), :3] / 255.0


def signed_maps(n):
    """``(n, 8, 8)`` maps: +1 at (1, 1), -1 at (6, 6), 0 elsewhere (scaled by image index)."""
    maps = np.zeros((n, 8, 8), np.float32)
    for i in range(n):
        maps[i, 1, 1], maps[i, 6, 6] = 1.0 + i, -1.0 - i
    return maps


def explanation(method, maps, attributions=None):
    return Explanation(method, maps, attributions, np.zeros(len(maps), np.int64), {}, "sum")


def test_zfkeras_plot_is_an_attribute_of_zfkeras_and_imports_no_tensorflow():
    code = ("import sys, zfkeras; f = zfkeras.plot.explanations; import zfkeras.plot as p; "
            "assert f is p.explanations; assert 'plot' in dir(zfkeras); "
            "print('tensorflow' in sys.modules, 'matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("n", [1, 3])
def test_a_signed_map_shows_its_sign_in_the_diverging_colour_map_centred_on_zero(n):
    figure = plot.explanations(explanation("occlusion", signed_maps(n)))
    axes = np.asarray(figure.axes).reshape(n, 1)
    for i in range(n):
        ax = axes[i, 0]
        red, blue, zero = pixel(figure, ax, 1, 1), pixel(figure, ax, 6, 6), pixel(figure, ax, 3, 4)
        assert red[0] > 0.2 + max(red[1], red[2]), red  # positive: the red end
        assert blue[2] > 0.2 + blue[0], blue  # negative: the blue end
        np.testing.assert_allclose(zero, matplotlib.colormaps["RdBu_r"](0.5)[:3], atol=2 / 255)
        # +peak and -peak are the colour map's two ends
        np.testing.assert_allclose(red, matplotlib.colormaps["RdBu_r"](1.0)[:3], atol=2 / 255)
        np.testing.assert_allclose(blue, matplotlib.colormaps["RdBu_r"](0.0)[:3], atol=2 / 255)


def test_attributions_are_drawn_as_deconvnet_projections_through_zfkeras_display():
    rng = np.random.RandomState(0)
    attributions = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    figure = plot.explanations(explanation("deconvnet", attributions.sum(-1), attributions))
    expected = [projection_to_image(a) for a in attributions]
    for i, ax in enumerate(figure.axes):
        for y, x in [(0, 0), (3, 5), (7, 2)]:
            np.testing.assert_allclose(pixel(figure, ax, x, y), expected[i][y, x], atol=2 / 255)


def test_an_unsigned_map_goes_from_black_at_zero_to_white_at_its_maximum():
    maps = np.zeros((1, 8, 8), np.float32)
    maps[0, 2, 3], maps[0, 5, 5] = 4.0, 2.0
    figure = plot.explanations(explanation("grad_cam", maps))
    ax = figure.axes[0]
    np.testing.assert_allclose(pixel(figure, ax, 3, 2), [1, 1, 1], atol=2 / 255)
    np.testing.assert_allclose(pixel(figure, ax, 5, 5), [0.5, 0.5, 0.5], atol=2 / 255)
    np.testing.assert_allclose(pixel(figure, ax, 0, 0), [0, 0, 0], atol=2 / 255)


def test_several_methods_side_by_side_with_their_images():
    images = np.zeros((3, 8, 8, 1), np.uint8)
    images[:, :4] = 255  # top half white
    methods = {"occlusion": explanation("occlusion", signed_maps(3)),
               "grad_cam": explanation("grad_cam", np.abs(signed_maps(3)))}
    figure = plot.explanations(methods, images, max_images=2)
    axes = np.asarray(figure.axes).reshape(2, 3)
    assert [a.get_title() for a in axes[0]] == ["image", "occlusion", "grad cam"]
    for i in range(2):
        np.testing.assert_allclose(pixel(figure, axes[i, 0], 3, 1), [1, 1, 1], atol=2 / 255)
        np.testing.assert_allclose(pixel(figure, axes[i, 0], 3, 6), [0, 0, 0], atol=2 / 255)
        assert pixel(figure, axes[i, 1], 6, 6)[2] > 0.2 + pixel(figure, axes[i, 1], 6, 6)[0]
        np.testing.assert_allclose(pixel(figure, axes[i, 2], 6, 6), [1, 1, 1], atol=2 / 255)
    # into the caller's axes
    figure2, own = canvas.new_figure((4, 4), 1, 2)
    assert plot.explanations(explanation("occlusion", signed_maps(1)), images[:1], ax=own) is figure2
    assert own[0, 1].images


def test_explanations_refuse_bad_input():
    one = explanation("occlusion", signed_maps(2))
    with pytest.raises(InputError, match="same images"):
        plot.explanations([one, explanation("occlusion", signed_maps(3))])
    with pytest.raises(InputError, match=r"shape \(3, 8, 8, 1\)"):
        plot.explanations(one, np.zeros((3, 8, 8, 1)))
    with pytest.raises(InputError, match="kind must be one of"):
        plot.explanations(one, kind="heat")
    with pytest.raises(InputError, match="no per-channel attributions"):
        plot.explanations(one, kind="attributions")
    with pytest.raises(InputTypeError, match="ndarray"):
        plot.explanations(np.zeros((2, 8, 8)))
    with pytest.raises(InputError, match="at least one"):
        plot.explanations({})


def colour_panels(m, k, colour, size=5):
    panels = np.empty((m, k, size, size, 3), np.float32)
    panels[...] = colour
    return panels


def test_top_k_draws_projections_left_of_patches_for_each_unit():
    projections = colour_panels(2, 9, (1.0, 0.0, 0.0))
    projections[1, 4] = (0.0, 1.0, 0.0)  # unit 1's 5th projection: the centre of its block
    patches = colour_panels(2, 9, (0.0, 0.0, 1.0))
    patches[0, 0, :2, :2] = np.nan  # the field cut by the border: pale blue
    panels = plot.TopKPanels("conv1", np.array([3, 7]), np.ones((2, 9)), projections, patches)
    figure = plot.top_k(panels)
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["map 3: projections | patches",
                                                            "map 7: projections | patches"]
    assert ax.get_ylabel() == "conv1"
    block, tile = 3 * 6 - 1, 2 * (3 * 6 - 1) + 3
    step = tile + max(2, tile // 8)
    np.testing.assert_allclose(pixel(figure, ax, 2, 2), [1, 0, 0], atol=2 / 255)
    np.testing.assert_allclose(pixel(figure, ax, block + 3 + 2 + 2, 2 + 2), [0, 0, 1], atol=2 / 255)
    np.testing.assert_allclose(pixel(figure, ax, block + 3, 0), (0.80, 0.86, 0.95), atol=2 / 255)
    np.testing.assert_allclose(pixel(figure, ax, step + 6 + 2, 6 + 2), [0, 1, 0], atol=2 / 255)
    # one unit
    single = plot.top_k(panels, channels=[7])
    assert len(single.axes[0].get_xticklabels()) == 1
    np.testing.assert_allclose(pixel(single, single.axes[0], 8, 8), [0, 1, 0], atol=2 / 255)


def test_top_k_refuses_bad_input():
    good = colour_panels(1, 9, 0.5)
    with pytest.raises(InputError, match="one shape"):
        plot.top_k(types.SimpleNamespace(projections=good, patches=colour_panels(1, 4, 0.5)))
    with pytest.raises(InputError, match="not among"):
        plot.top_k(types.SimpleNamespace(projections=good, patches=good), channels=[5])
    with pytest.raises(InputError, match=r"\(M, k, h, w, 3\)"):
        plot.top_k(types.SimpleNamespace(projections=good[0], patches=good[0]))


def test_top_k_panels_cut_the_deconvnet_projection_to_the_receptive_field():
    from tests.report_helpers import tiny_model
    from zfkeras import Deconvnet, top_activations

    model = tiny_model()
    inputs = np.random.RandomState(0).normal(size=(12,) + tuple(model.input_shape[1:])).astype(np.float32)
    layer = "conv1"
    top = top_activations(model, inputs, layer, k=4, verbose=0)[layer]
    deconv = Deconvnet(model)
    panels = plot.top_k_panels(deconv, layer, top, [0, 2], inputs)
    assert panels.projections.shape[:2] == (2, 4)
    image, position = int(top.image_ids[2, 1]), top.positions[2, 1]
    t, l, b, r = deconv.receptive_field(layer, position)
    projected = deconv.project(inputs[image:image + 1], Unit(layer, 2, position=tuple(position)), verbose=0)[0]
    expected = projection_to_image(projected[t:b, l:r])
    placed = panels.projections[1, 1]
    covered = ~np.isnan(placed[..., 0])
    np.testing.assert_allclose(placed[covered].reshape(expected.shape), expected, atol=1e-5)
    with pytest.raises(InputError, match="channels must be"):
        plot.top_k_panels(deconv, layer, top, [99], inputs)
    assert plot.top_k(panels).axes[0].images


def occlusion_result(n=2):
    rows = cols = 4
    probability = np.linspace(0, 1, n * rows * cols, dtype=np.float32).reshape(n, rows, cols)
    corners = np.stack(np.meshgrid(np.arange(rows) * 2, np.arange(cols) * 2, indexing="ij"), -1)
    return types.SimpleNamespace(
        class_probability=probability, predicted_label=np.arange(n * rows * cols).reshape(n, rows, cols) % 3,
        layer_activity=probability * 10, strongest_channel=np.array([5] * n), corners=corners, size=4, stride=2,
        true_label=np.zeros(n, np.int64), unoccluded_probability=np.ones(n))


@pytest.mark.parametrize("n", [1, 3])
def test_occlusion_draws_p_true_class_at_each_square_centre(n):
    result = occlusion_result(n)
    images = np.zeros((n, 10, 10, 1), np.float32)
    figure = plot.occlusion(result, images, layer="conv5", class_names=["a", "b", "c"], colorbars=False)
    axes = np.asarray(figure.axes).reshape(n, 4)
    jet = matplotlib.colormaps["jet"]
    for i in range(n):
        assert axes[i, 2].get_title() == "(c) p(a)"
        assert axes[i, 1].get_title() == "(b) conv5 map 5 activity"
        for r, c in [(0, 0), (1, 3), (3, 2)]:
            y, x = result.corners[r, c] + result.size / 2.0
            np.testing.assert_allclose(pixel(figure, axes[i, 2], x, y), jet(result.class_probability[i, r, c])[:3],
                                       atol=3 / 255)
        # (a): the square at the centre position is grey on the black image
        t, l = result.corners[2, 2]
        np.testing.assert_allclose(pixel(figure, axes[i, 0], l + 1, t + 1), [0.5] * 3, atol=2 / 255)
        np.testing.assert_allclose(pixel(figure, axes[i, 0], 0, 0), [0, 0, 0], atol=2 / 255)


def test_occlusion_refuses_bad_input():
    result = occlusion_result(2)
    with pytest.raises(InputTypeError, match="OcclusionResult"):
        plot.occlusion(types.SimpleNamespace(class_probability=np.zeros((1, 2, 2))))
    with pytest.raises(InputError, match="2 occluded images"):
        plot.occlusion(result, np.zeros((3, 10, 10, 1)))
    with pytest.raises(InputError, match="show must"):
        plot.occlusion(result, show=[2])


@dataclasses.dataclass(frozen=True)
class StandInFeatureVisualization:
    """The fields zfkeras.plot reads of issue 25's FeatureVisualization (pixels uint8 there)."""

    images: np.ndarray
    pixels: np.ndarray
    values: np.ndarray
    transparency: np.ndarray
    objectives: tuple = ()


def test_feature_visualization_shows_pixels_through_the_transparency():
    k = 3
    pixels = np.zeros((k, 8, 8, 3), np.float32)
    pixels[..., 1] = 1.0  # green pictures
    transparency = np.zeros((k, 8, 8), np.float32)
    transparency[:, :, 4:] = 2.0  # right half opaque (the peak), left half transparent
    transparency[:, 0, 0] = 1.0  # half
    objectives = (Unit("conv2", 3), 7, Unit("conv1", 0, (2, 5)))
    result = StandInFeatureVisualization(pixels * 7 - 3, (pixels * 255).astype(np.uint8),
                                         np.arange(k, dtype=np.float32), transparency, objectives)
    figure = plot.feature_visualization(result)
    assert len([a for a in figure.axes if a.images]) == k
    assert [a.get_title() for a in figure.axes] == ["conv2:3\n0", "class 7\n1", "conv1:0@2,5\n2"]
    for ax in figure.axes:
        np.testing.assert_allclose(pixel(figure, ax, 6, 3), [0, 1, 0], atol=2 / 255)
        np.testing.assert_allclose(pixel(figure, ax, 1, 3), [1, 1, 1], atol=2 / 255)
        np.testing.assert_allclose(pixel(figure, ax, 0, 0), [0.5, 1, 0.5], atol=2 / 255)
    plain = plot.feature_visualization(result, transparency=False, titles=["a", "b", "c"])
    np.testing.assert_allclose(pixel(plain, plain.axes[0], 1, 3), [0, 1, 0], atol=2 / 255)
    assert plain.axes[2].get_title() == "c"
    # no pixels: the model-space images, stretched to [0, 1]
    stretched = plot.feature_visualization(StandInFeatureVisualization(pixels * 7 - 3, None, None, None))
    np.testing.assert_allclose(pixel(stretched, stretched.axes[0], 1, 3), [0, 1, 0], atol=2 / 255)
    one = plot.feature_visualization(StandInFeatureVisualization(pixels[:1], pixels[:1], np.zeros(1),
                                                                 transparency[:1]))
    assert len(one.axes) == 1


def test_feature_visualization_refuses_bad_input():
    pixels = np.zeros((2, 8, 8, 3), np.float32)
    with pytest.raises(InputError, match="transparency must be"):
        plot.feature_visualization(StandInFeatureVisualization(pixels, pixels, np.zeros(2), np.zeros((2, 4, 4))))
    with pytest.raises(InputError, match=r"pixels must be displayable"):
        plot.feature_visualization(StandInFeatureVisualization(pixels, pixels - 2, np.zeros(2), np.ones((2, 8, 8))))
    with pytest.raises(InputError, match="titles must name the 2 pictures"):
        plot.feature_visualization(StandInFeatureVisualization(pixels, pixels, np.zeros(2), None), titles=["a"])
    with pytest.raises(InputTypeError, match="feature visualisation"):
        plot.feature_visualization(object())


def evolution_records():
    rng = np.random.RandomState(0)
    return {layer: [{"epoch": e, "channels": np.array([1, 4]), "image_ids": np.array([0, 1]),
                     "projections": rng.normal(size=(2, 6, 6, 1)).astype(np.float32)} for e in (1, 3)]
            for layer in ("conv1", "conv2")}


def test_evolution_draws_each_projection_in_its_map_row_and_epoch_column():
    records = evolution_records()
    figure = plot.evolution(records)
    for ax, layer in zip(figure.axes, records):
        assert ax.get_title() == layer
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3"]
        for column, record in enumerate(records[layer]):
            for row in range(2):
                expected = projection_to_image(record["projections"][row])
                for y, x in [(0, 0), (2, 5)]:
                    np.testing.assert_allclose(pixel(figure, ax, column * 7 + x, row * 7 + y), expected[y, x],
                                               atol=2 / 255)
    with pytest.raises(InputError, match="non-empty dict"):
        plot.evolution({})
    bad = evolution_records()
    bad["conv1"][1]["channels"] = np.array([2, 4])
    with pytest.raises(InputError, match="different maps"):
        plot.evolution(bad)


def test_invariance_draws_one_curve_per_image_and_layer():
    from zfkeras.measures.invariance import InvarianceResult

    rng = np.random.RandomState(0)
    results = {kind: InvarianceResult(kind, np.linspace(0, 1, 4), {"conv1": rng.rand(2, 4), "fc7": rng.rand(2, 4)},
                                      rng.rand(2, 4), np.zeros((2, 4), np.int64))
               for kind in ("translate", "rotate")}
    figure = plot.invariance(results, labels=[1, 0], class_names=["cat", "dog"])
    axes = np.asarray(figure.axes).reshape(2, 3)
    for row, r in enumerate(results.values()):
        for col, values in enumerate([r.distance["conv1"], r.distance["fc7"], r.probability]):
            lines = axes[row, col].lines
            assert len(lines) == 2
            for i in range(2):
                np.testing.assert_allclose(lines[i].get_xdata(), r.amounts)
                np.testing.assert_allclose(lines[i].get_ydata(), values[i])
    assert [t.get_text() for t in axes[0, 2].get_legend().get_texts()] == ["dog", "cat"]
    one = plot.invariance(results["rotate"], layers=["fc7"])
    assert len(one.axes) == 2
    with pytest.raises(InputError, match="no distances of layer 'conv5'"):
        plot.invariance(results, layers=["conv5"])
    with pytest.raises(InputTypeError, match="InvarianceResult"):
        plot.invariance({"translate": object()})


def png_size(data):
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data)).shape[:2]


def test_results_show_themselves_as_a_bounded_png_and_a_one_line_summary():
    from zfkeras.methods.top_activations import TopActivations

    many = explanation("occlusion", signed_maps(20))
    top = TopActivations(np.sort(np.random.RandomState(0).rand(100, 9))[:, ::-1].copy(),
                         np.zeros((100, 9), np.int64), np.zeros((100, 9, 2), np.int64))
    pixels = np.random.RandomState(1).rand(12, 8, 8, 3).astype(np.float32)
    featvis = StandInFeatureVisualization(pixels, pixels, np.zeros(12), np.ones((12, 8, 8)))
    for result, text in [(many, "<Explanation 'occlusion': 20 maps 8x8>"),
                         (occlusion_result(5), "<SimpleNamespace: 5 images, 4x4 square positions (size 4, "
                                               "stride 2), with a layer's activity>"),
                         (top, "<TopActivations: top 9 of 100 feature maps>"),
                         (featvis, "<StandInFeatureVisualization: 12 pictures 8x8>")]:
        height, width = png_size(inline.repr_png(result))
        assert 30 <= height <= 288 and 30 <= width <= 432, (type(result), height, width)
        assert inline.summary(result) == text
    assert inline.repr_png(object()) is None

    @dataclasses.dataclass(frozen=True, eq=False, repr=False)
    class Shown(inline.ShowsItself):
        values: np.ndarray
        image_ids: np.ndarray
        positions: np.ndarray

    shown = Shown(top.values, top.image_ids, top.positions)
    assert repr(shown) == "<Shown: top 9 of 100 feature maps>"
    assert shown._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_returned_figure_shows_itself_as_png():
    figure = plot.explanations(explanation("occlusion", signed_maps(1)))
    assert figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_in_ipython_the_result_classes_show_themselves_by_name():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        inline.register_ipython(shell)
        data, _ = shell.display_formatter.format(explanation("occlusion", signed_maps(2)))
        assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
        assert data["text/plain"] == "<Explanation 'occlusion': 2 maps 8x8>"
        data, _ = shell.display_formatter.format(
            __import__("zfkeras.methods.top_activations", fromlist=["x"]).TopActivations(
                np.ones((3, 2)), np.zeros((3, 2), np.int64), np.zeros((3, 2, 2), np.int64)))
        assert data["text/plain"] == "<TopActivations: top 2 of 3 feature maps>" and "image/png" in data
    finally:
        InteractiveShell.clear_instance()
