"""The explorer's routes through TensorBoard's WSGI app, on a real trained run.

Checks the tab's listing, the unit page's top 9 (mined in the background,
stored with zfkeras.runs.mined, reused, equal to the library's mining and
projections), an upload's classes, projections and occlusion maps (equal
to the library's on the photo cut as the run's test images), and that the
bad requests of the safety tests get 400 with a message.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.explore_helpers import BASE, client, copy_run, decode, get, png_bytes, post, ready_unit
from zfkeras.methods.unit import Unit


@pytest.fixture(scope="module")
def logdir(trained_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("explore_logdir")
    copy_run(trained_run, root)
    return root


@pytest.fixture(scope="module")
def http(logdir):
    return client(logdir)[0]


@pytest.fixture(scope="module")
def run(logdir):
    from zfkeras.runs import RunFolder

    return RunFolder(logdir / "run")


@pytest.fixture(scope="module")
def photo_bytes():
    from tests.images_helpers import photos, small

    return png_bytes(small(photos()["astronaut"], 60, 50))


def test_the_tab_is_listed_for_a_log_folder_with_a_run_and_not_for_an_empty_one(http, tmp_path):
    listing = json.loads(http.get("/data/plugins_listing").get_data(as_text=True))["zfkeras"]
    assert listing["enabled"] is True and listing["tab_name"] == "zfkeras"
    assert listing["loading_mechanism"] == {"type": "IFRAME", "module_path": f"{BASE}/index.js"}
    module = http.get(f"{BASE}/index.js")
    assert module.status_code == 200 and module.mimetype == "text/javascript"
    assert "export async function render" in module.get_data(as_text=True)
    for name in ("units.js", "images.js", "common.js", "style.css"):
        assert http.get(f"{BASE}/{name}").status_code == 200
    empty, _ = client(tmp_path)
    assert json.loads(empty.get("/data/plugins_listing").get_data(as_text=True))["zfkeras"]["enabled"] is False


def test_the_plugin_starts_without_tensorflow_and_scans_a_bounded_depth(logdir, tmp_path):
    code = ("import sys\nfrom tensorboard.plugins import base_plugin\n"
            "from zfkeras.explore.plugin import ExplorerPlugin\n"
            f"p = ExplorerPlugin(base_plugin.TBContext(logdir={str(logdir)!r}))\n"
            "apps = p.get_plugin_apps()\n"
            "print(p.is_active(), sorted(apps)[:2], 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["False", "False"], done.stdout
    assert done.stdout.startswith("True")
    from zfkeras.explore.discovery import Discovery

    now = [0.0]
    found = Discovery(tmp_path, clock=lambda: now[0])
    assert found.sources() == {}
    copy_run(type("R", (), {"path": logdir / "run"}), tmp_path / "a")
    assert found.sources() == {}                       # cached for a few seconds
    now[0] += 10.0
    assert found.sources() == {"a/run": "run"}
    deep = tmp_path / "1" / "2" / "3" / "4" / "5"
    copy_run(type("R", (), {"path": logdir / "run"}), deep)
    assert "1/2/3/4/5/run" not in found.sources(refresh=True)   # deeper than MAX_DEPTH


def test_a_unit_is_mined_once_in_the_background_stored_reused_and_equal_to_the_library(logdir, run):
    import zfkeras
    from zfkeras.utils.display import projection_to_image
    from zfkeras.runs.mined import load_top_activations

    http, _ = client(logdir)
    status, first = get(http, "unit", run="run", layer="conv3", map="1")
    assert status == 200 and first["status"] == "mining" and first["images"] == 200
    unit, _ = ready_unit(http, run="run", layer="conv3", map="1")
    stored = load_top_activations(run, "conv3", k=9, split="test", max_images=10000, seed=0)
    assert stored is not None
    raw, labels = run.load_split("test", max_examples=10000, seed=0)
    model = run.load_model(compile=False)
    images = run.preprocess(raw)
    mined = zfkeras.top_activations(model, images, ["conv3"], k=9, verbose=0)["conv3"]
    np.testing.assert_array_equal(stored.image_ids, mined.image_ids)
    np.testing.assert_array_equal(stored.positions, mined.positions)
    np.testing.assert_allclose(stored.values, mined.values, rtol=1e-5)
    assert [p["image"] for p in unit["panels"]] == mined.image_ids[1].tolist()
    assert [p["label"] for p in unit["panels"]] == [run.class_names[labels[i]] for i in mined.image_ids[1]]
    deconv = zfkeras.Deconvnet(model)
    projected = deconv.project(images[mined.image_ids[1]], Unit("conv3", 1, mined.positions[1]), verbose=0)
    for i, panel in enumerate(unit["panels"]):
        t, l, b, r = panel["box"]
        assert (t, l, b, r) == deconv.receptive_field("conv3", tuple(mined.positions[1, i]))
        expected = np.round(projection_to_image(projected[i, t:b, l:r]) * 255)
        np.testing.assert_allclose(decode(panel["projection"]), expected, atol=1.01)
        np.testing.assert_array_equal(decode(panel["patch"])[..., 0], raw[panel["image"], t:b, l:r, 0])
    # a new TensorBoard (fresh plugin) reuses the stored result at once
    again, _ = client(logdir)
    status, reused = get(again, "unit", run="run", layer="conv3", map="2")
    assert status == 200 and reused["status"] == "ready"
    assert [p["image"] for p in reused["panels"]] == mined.image_ids[2].tolist()


def test_a_recorded_unit_shows_its_evolution_and_another_names_the_recorded_maps(http, run):
    status, info = get(http, "info", run="run")
    assert status == 200
    records = run.evolution()["conv1"]
    recorded = [int(c) for c in records[0]["channels"]]
    assert info["evolution"]["conv1"] == recorded
    unit, _ = ready_unit(http, run="run", layer="conv1", map=str(recorded[0]))
    assert [e["epoch"] for e in unit["evolution"]["epochs"]] == [r["epoch"] for r in records]
    assert decode(unit["evolution"]["epochs"][0]["image"]).shape[:2] == records[0]["projections"].shape[1:3]
    other = next(c for c in range(info["layers"][1]["shape"][2]) if c not in recorded)
    unit, _ = ready_unit(http, run="run", layer="conv1", map=str(other))
    assert unit["evolution"] == {"epochs": [], "recorded_maps": recorded}


def test_an_upload_is_cut_as_the_test_images_and_gives_classes_projections_and_occlusion(http, run, photo_bytes,
                                                                                         tmp_path):
    import zfkeras
    from zfkeras.utils.display import projection_to_image

    status, up = post(http, "upload", photo_bytes, run="run")
    assert status == 200 and up["image"].startswith("upload:")
    (tmp_path / "photo.png").write_bytes(photo_bytes)
    cut = run.read_image(tmp_path / "photo.png")
    np.testing.assert_array_equal(decode(up["thumb"])[..., 0], cut[..., 0])
    model = run.load_model(compile=False)
    x = run.preprocess(cut[None])
    probabilities = np.asarray(model(x, training=False))[0]
    status, analysis = get(http, "analyze", run="run", image=up["image"])
    assert status == 200
    assert [c["class"] for c in analysis["top"]] == np.argsort(-probabilities)[:5].tolist()
    np.testing.assert_allclose([c["p"] for c in analysis["top"]], np.sort(probabilities)[::-1][:5], atol=1e-5)
    assert [layer["layer"] for layer in analysis["layers"]] == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    strongest = analysis["layers"][-1]["maps"][0]["map"]
    status, projection = get(http, "project", run="run", image=up["image"], layer="conv5", map=str(strongest),
                             y="1", x="2")
    assert status == 200 and projection["position"] == [1, 2]
    expected = zfkeras.Deconvnet(model).project(x, Unit("conv5", strongest, (1, 2)), verbose=0)[0]
    np.testing.assert_allclose(decode(projection["projection"]), np.round(projection_to_image(expected) * 255),
                               atol=1.01)
    status, occluded = get(http, "occlusion", run="run", image=up["image"], size="6", stride="2")
    assert status == 200 and occluded["grid"] == [12, 12] and occluded["layer"] == "conv5"
    result = zfkeras.occlusion(model, x, 6, 2, layer="conv5", verbose=0)
    assert occluded["channel"] == int(result.strongest_channel[0])
    assert occluded["true_label"] == run.class_names[int(np.argmax(probabilities))]
    for key in ("probability", "label", "activity"):
        assert decode(occluded[key]).shape == (12, 12, 3)
    assert {item["label"] for item in occluded["legend"]} == {
        run.class_names[c] for c in np.unique(result.predicted_label[0])}


def test_the_unit_methods_of_the_registry_are_offered_and_each_is_served(http, run):
    import zfkeras
    from zfkeras.methods.registry import method_names, registered_methods
    from zfkeras.utils.display import projection_to_image

    status, info = get(http, "info", run="run")
    assert status == 200 and info["methods"] == list(method_names(units=True)) and info["methods"][0] == "deconvnet"
    assert info["explanation_methods"] == list(method_names())
    assert info["occlusion_methods"] == ["auto", "full", "incremental", "approximate"]
    model = run.load_model(compile=False)
    raw, _ = run.load_split("test", max_examples=10000, seed=0)
    x = run.preprocess(raw[5:6])
    deconv = zfkeras.Deconvnet(model)
    shown = {}
    for method in registered_methods(units=True):
        status, projection = get(http, "project", run="run", image="test:5", layer="conv4", map="3",
                                 method=method.name)
        assert status == 200 and projection["method"] == method.name
        position = tuple(projection["position"])
        if method.backward_rule:  # the engine itself
            expected = projection_to_image(
                deconv.project(x, zfkeras.Unit("conv4", 3, position), verbose=0, method=method.backward_rule)[0])
        else:
            found = zfkeras.explain(model, x, method.name, zfkeras.Unit("conv4", 3, position), verbose=0)
            if found.attributions is not None:
                expected = projection_to_image(found.attributions[0])
            else:  # a map alone (Grad-CAM): unsigned from black at 0 to white at its maximum
                assert not method.signed
                expected = found.maps[0] / found.maps[0].max()
        shown[method.name] = decode(projection["projection"])
        np.testing.assert_allclose(shown[method.name], np.round(expected * 255), atol=1.01, err_msg=method.name)
    assert not np.array_equal(shown["deconvnet"], shown["gradient"])
    status, refused = get(http, "project", run="run", image="test:5", layer="conv4", map="3", method="occlusion")
    assert status == 400 and "occlusion" not in refused["error"].split("one of")[1].split(";")[0]


def test_test_images_are_listed_with_their_labels(http, run):
    raw, labels = run.load_split("test", max_examples=10000, seed=0)
    status, page = get(http, "test_images", run="run", offset="10", count="4")
    assert status == 200 and page["total"] == len(raw)
    assert [i["image"] for i in page["images"]] == ["test:10", "test:11", "test:12", "test:13"]
    assert [i["label"] for i in page["images"]] == [run.class_names[labels[i]] for i in range(10, 14)]
    np.testing.assert_array_equal(decode(page["images"][0]["thumb"])[..., 0], raw[10, ..., 0])


def test_occlusion_takes_the_method_and_says_how_much_it_computed(http, run):
    import zfkeras
    from zfkeras.explore.pictures import colormap_uri

    raw, _ = run.load_split("test", max_examples=10000, seed=0)
    x = run.preprocess(raw[3:4])
    model = run.load_model(compile=False)
    status, approx = get(http, "occlusion", run="run", image="test:3", size="6", stride="1", method="approximate")
    assert status == 200 and approx["method"] == "approximate"
    result = zfkeras.occlusion(model, x, 6, 1, layer="conv5", method="approximate", verbose=0)
    assert approx["computed"] == int(result.computed.sum()) < approx["grid"][0] * approx["grid"][1]
    np.testing.assert_allclose(decode(approx["probability"]),
                               decode(colormap_uri(result.class_probability[0], 0.0, 1.0)), atol=1.01)
    status, full = get(http, "occlusion", run="run", image="test:3", size="6", stride="1", method="full")
    assert status == 200 and full["method"] == "full" and full["computed"] == full["grid"][0] * full["grid"][1]
