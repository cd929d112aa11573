"""The method registry's consumers (issue 23 items 1-2): a method registered
inside a test appears in the report's methods comparison, the explorer's
menus and routes and (when it runs a backward rule) the export's ``project_*``
signatures with no other change; the explorer and the export turn a logits
model's and a softmax model's outputs into the same probabilities (the one
output policy, `zfkeras.graph.output`)."""

import contextlib
import shutil

import numpy as np
import pytest

from tests.explore_helpers import client, decode, get


def _doubled_gradient(model, images, targets, *, batch_size, verbose):
    """Twice the gradient: a method no engine knows, built on `zfkeras.explain`."""
    import zfkeras

    found = zfkeras.explain(model, images, "gradient", targets, batch_size=batch_size, verbose=verbose)
    return 2 * found.attributions, 2 * found.maps


def doubled_gradient():
    from zfkeras.methods.registry import Method

    return Method(name="doubled_gradient", function=_doubled_gradient, summary="twice the gradient (a test's)",
                  kind="backward rule", units=True, signed=True, channel_rule="sum over channels of |attribution|")


@contextlib.contextmanager
def registered(*methods):
    """``methods`` registered for the ``with`` block, then removed."""
    from zfkeras.methods.registry import register_method, unregister_method

    done = []
    try:
        for method in methods:
            register_method(method)
            done.append(method.name)
        yield
    finally:
        for name in done:
            unregister_method(name)


def softmax(logits):
    logits = np.asarray(logits, np.float64)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def logits_twin(model):
    """The same network and weights with its last softmax taken off (it outputs logits)."""
    import keras

    last = model.layers[-1]

    def clone(layer):
        config = layer.get_config()
        if layer is last:
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    twin = keras.models.clone_model(model, clone_function=clone)
    twin.set_weights(model.get_weights())
    return twin


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A log folder with a tiny trained run (softmax head) and its logits twin."""
    from tests.report_helpers import make_tiny_run
    from zfkeras.runs import RunFolder

    logdir = tmp_path_factory.mktemp("registry_logdir")
    make_tiny_run(logdir / "softmax", evolution=False, fit=True)
    shutil.copytree(logdir / "softmax", logdir / "logits")
    softmax_run, logits_run = RunFolder(logdir / "softmax"), RunFolder(logdir / "logits")
    logits_twin(softmax_run.load_model(compile=False)).save(logits_run.path / "model.keras")
    return logdir, softmax_run, logits_run


def test_a_registered_method_is_in_the_methods_comparison_with_its_faithfulness(runs, tmp_path):
    import zfkeras
    from zfkeras.analysis.sections import methods_comparison as mc

    _, run, _ = runs
    with registered(doubled_gradient()):
        assert mc.columns()[-1] == "doubled_gradient" and mc.class_methods()[-1] == "doubled_gradient"
        result = mc.report_section(run, tmp_path, verbose=0, test_images=30, table_images=4, steps=3)
        model = run.load_model()
        raw, _ = run.load_split("test", max_examples=30, seed=0)
        images = run.preprocess(raw)[:4]
        maps = zfkeras.explain(model, images, "doubled_gradient", verbose=0).maps
        expected = {metric: zfkeras.faithfulness(model, images, maps, metric, steps=3, verbose=0)
                    for metric in ("deletion", "insertion")}
    assert "doubled_gradient" not in mc.class_methods()
    assert "doubled_gradient" in result.caption_html and "twice the gradient" in result.caption_html
    assert "doubled_gradient" in result.body_html
    rows = np.genfromtxt(tmp_path / mc.NUMBERS, delimiter=",", names=True, dtype=None, encoding=None)

    def row(method, metric):
        (found,) = rows[(rows["method"] == method) & (rows["metric"] == metric)]
        return found

    for metric, result_ in expected.items():
        assert row("doubled_gradient", f"{metric} AUC")["mean"] == pytest.approx(result_.mean, rel=1e-5, abs=1e-7)
        assert row("doubled_gradient", f"{metric} AUC")["std"] == pytest.approx(result_.std, rel=1e-4, abs=1e-7)
    # deletion, insertion and the occlusion drop rank pixels: twice the gradient scores as the gradient
    for metric in ("deletion AUC", "insertion AUC", "occlusion drop"):
        assert row("doubled_gradient", metric)["mean"] == pytest.approx(row("gradient", metric)["mean"], rel=1e-6,
                                                                         abs=1e-9), metric


def test_a_registered_method_is_offered_and_served_by_the_explorer(runs):
    import zfkeras
    from zfkeras.explore.pictures import map_uri
    from zfkeras.methods.registry import method_names
    from zfkeras.utils.display import projection_to_image

    logdir, run, _ = runs
    http, _ = client(logdir)
    status, info = get(http, "info", run="softmax")
    assert status == 200 and "doubled_gradient" not in info["methods"] + info["explanation_methods"]
    model = run.load_model(compile=False)
    raw, _ = run.load_split("test", max_examples=10000, seed=0)
    x = run.preprocess(raw[5:6])
    with registered(doubled_gradient()):
        status, info = get(http, "info", run="softmax")  # the same loaded session: read at each request
        assert status == 200
        assert info["methods"] == list(method_names(units=True)) and info["methods"][-1] == "doubled_gradient"
        assert info["explanation_methods"] == list(method_names())
        assert "occlusion" in info["explanation_methods"] and "occlusion" not in info["methods"]
        assert info["method_summaries"]["doubled_gradient"] == "twice the gradient (a test's)"
        status, projection = get(http, "project", run="softmax", image="test:5", layer="conv3", map="1",
                                 method="doubled_gradient")
        assert status == 200 and projection["method"] == "doubled_gradient", projection
        position = tuple(projection["position"])
        gradient = zfkeras.Deconvnet(model).project(x, "conv3", 1, position=position, method="gradient", verbose=0)
        np.testing.assert_allclose(decode(projection["projection"]),
                                   np.round(projection_to_image(2 * gradient[0]) * 255), atol=1.01)
        status, explained = get(http, "explain", run="softmax", image="test:5", method="doubled_gradient",
                                target="3")
        assert status == 200 and explained["class"] == 3 and explained["label"] == run.class_names[3]
        class_maps = zfkeras.explain(model, x, "gradient", targets=3, verbose=0).maps
        np.testing.assert_allclose(decode(explained["map"]), decode(map_uri(2 * class_maps[0], True)), atol=1.01)
    status, refused = get(http, "project", run="softmax", image="test:5", layer="conv3", map="1",
                          method="doubled_gradient")
    assert status == 400 and "doubled_gradient" in refused["error"]
    status, info = get(http, "info", run="softmax")
    assert "doubled_gradient" not in info["methods"] + info["explanation_methods"]


def test_the_explorer_explains_a_class_by_each_built_in_method(runs):
    import zfkeras
    from zfkeras.explore.pictures import map_uri
    from zfkeras.methods.registry import registered_methods

    logdir, run, _ = runs
    http, _ = client(logdir)
    model = run.load_model(compile=False)
    raw, _ = run.load_split("test", max_examples=10000, seed=0)
    x = run.preprocess(raw[7:8])
    predicted = int(np.argmax(model.predict(x, verbose=0)))
    for method in registered_methods():
        status, explained = get(http, "explain", run="softmax", image="test:7", method=method.name)
        assert status == 200, explained
        assert explained["class"] == predicted and explained["signed"] == method.signed
        maps = zfkeras.explain(model, x, method.name, verbose=0).maps
        np.testing.assert_allclose(decode(explained["map"]), decode(map_uri(maps[0], method.signed)), atol=1.01,
                                   err_msg=method.name)
    status, refused = get(http, "explain", run="softmax", image="test:7", method="no_such_method")
    assert status == 400 and "no_such_method" in refused["error"]
    status, refused = get(http, "explain", run="softmax", image="test:7", method="gradient", target="10")
    assert status == 400 and "target" in refused["error"]


def test_the_explorer_gives_a_logits_model_and_its_softmax_twin_the_same_probabilities(runs):
    logdir, run, logits_run = runs
    http, _ = client(logdir)
    raw, _ = run.load_split("test", max_examples=10000, seed=0)
    x = run.preprocess(raw[4:5])
    probabilities = np.asarray(run.load_model(compile=False)(x, training=False), np.float64)[0]
    logits = np.asarray(logits_run.load_model(compile=False)(x, training=False), np.float64)[0]
    assert not np.allclose(logits, probabilities)  # the twin does output logits
    np.testing.assert_allclose(softmax(logits), probabilities, atol=1e-6)
    answers = {}
    for name in ("softmax", "logits"):
        status, analysis = get(http, "analyze", run=name, image="test:4")
        assert status == 200
        assert [c["class"] for c in analysis["top"]] == np.argsort(-probabilities)[:5].tolist()
        np.testing.assert_allclose([c["p"] for c in analysis["top"]], np.sort(probabilities)[::-1][:5], atol=2e-5)
        status, occluded = get(http, "occlusion", run=name, image="test:4", size="7", stride="7")
        assert status == 200
        assert occluded["unoccluded_probability"] == pytest.approx(probabilities.max(), abs=2e-5)
        status, explained = get(http, "explain", run=name, image="test:4", method="occlusion")
        assert status == 200
        answers[name] = (occluded, explained)
    np.testing.assert_allclose(decode(answers["softmax"][0]["probability"]), decode(answers["logits"][0]["probability"]),
                               atol=1.01)
    # occlusion's map (the probability drops) of the two: equal up to float32 rounding (the drops of this
    # briefly trained model are small, so its picture is compared by its range)
    ranges = [answers[name][1]["range"] for name in ("softmax", "logits")]
    assert ranges[0][1] > ranges[0][0]
    np.testing.assert_allclose(ranges[0], ranges[1], atol=2e-6)


def test_the_export_serves_registered_backward_rules_and_the_same_probabilities_for_logits_and_softmax(runs, tmp_path):
    import tensorflow as tf

    import zfkeras
    from zfkeras.export import export_model
    from zfkeras.export import record as export_record
    from zfkeras.export.projections import project_signatures
    from zfkeras.methods.registry import Method, get_method, registered_methods

    _, run, logits_run = runs
    gradient = get_method("gradient")
    signed = Method(name="signed_gradient", function=gradient.function, summary="the gradient again",
                    kind="backward rule", units=True, signed=True, channel_rule=gradient.channel_rule,
                    backward_rule="gradient")
    noisy = Method(name="noisy_gradient", function=gradient.function, summary="not deterministic",
                   kind="backward rule", units=True, signed=True, channel_rule=gradient.channel_rule,
                   deterministic=False, backward_rule="gradient")
    raw, _ = run.load_split("test", max_examples=10000, seed=0)
    raw = raw[:6]
    x = raw.astype(np.float32)  # exported without preprocessing: the model sees float32 pixels
    names = list(run.class_names)
    with registered(doubled_gradient(), signed, noisy):
        expected = {"project"} | {f"project_{m.name}" for m in registered_methods(deterministic=True)
                                  if m.backward_rule and m.name != "deconvnet"}
        assert expected == {"project", "project_guided_backprop", "project_gradient", "project_signed_gradient"}
        assert set(project_signatures()) == expected
        # the export record names them: a reused version serves what the registry offers now
        assert export_record.run_record(run)["project_signatures"] == sorted(expected)
        paths = {name: export_model(r.load_model(compile=False), tmp_path / name, names, deconvnet_layers=["conv2"],
                                    explain_methods=[])
                 for name, r in (("softmax", run), ("logits", logits_run))}
    assert set(project_signatures()) == {"project", "project_guided_backprop", "project_gradient"}
    assert export_record.run_record(run)["project_signatures"] == ["project", "project_gradient",
                                                                   "project_guided_backprop"]
    model = run.load_model(compile=False)
    probabilities = np.asarray(model(x, training=False), np.float64)
    logits = np.asarray(logits_run.load_model(compile=False)(x, training=False), np.float64)
    for name, path in paths.items():
        loaded = tf.saved_model.load(str(path))
        assert {s for s in loaded.signatures if s.startswith("project")} == expected
        served = loaded.signatures["serving_default"](images=tf.constant(raw))["probabilities"].numpy()
        np.testing.assert_allclose(served, probabilities, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(served, softmax(logits), atol=1e-5, err_msg=name)
    loaded = tf.saved_model.load(str(paths["logits"]))
    channels = np.array([0, 1, 2, 3, 0, 1], np.int32)
    out = loaded.signatures["project_signed_gradient"](images=tf.constant(raw), layer=tf.constant("conv2"),
                                                       channel=tf.constant(channels))["projection"].numpy()
    reference = zfkeras.Deconvnet(model).project(x, "conv2", channels, method="gradient", verbose=0)
    assert np.abs(reference).max() > 0
    np.testing.assert_allclose(out, reference, rtol=1e-4, atol=1e-5 * np.abs(reference).max())
