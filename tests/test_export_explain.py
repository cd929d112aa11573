"""The export's ``explain_<method>`` signatures (issue 26, deliverable 5): one
per deterministic registered method with an in-graph form (the LRP rules and
composites, Integrated Gradients), equal to `zfkeras.explain` with the
method's default options, in a process where zfkeras cannot be imported; a
bad target is refused inside the graph."""

import pathlib
import warnings

import numpy as np
import pytest

from tests import export_helpers as helpers
from tests.test_registry_consumers import registered

SHAPE = (10, 10, 3)
CLASSES = ["a", "b", "c", "d", "e"]
LRP_UNIFORM = ("lrp_0", "lrp_gamma", "lrp_alpha1_beta0", "lrp_alpha2_beta1")
DEFAULT = ("integrated_gradients", "lrp_epsilon", "lrp_epsilon_plus_flat", "lrp_epsilon_gamma_box",
           "lrp_epsilon_alpha2_beta1")


def _randomise_batch_norms(model, seed):
    """Non-trivial moving statistics and affine weights, as after training."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.5, c), rng.normal(0, 0.5, c),
                               rng.uniform(0.5, 2, c)])
    return model


def chain_with_batch_norm():
    """Conv, batch norm folded into it, max pool, conv, batch norm after a ReLU
    (not folded: a rule of its own), dense softmax."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(11)
    model = keras.Sequential([
        keras.Input(SHAPE),
        L.Conv2D(4, 3, name="conv1"),
        L.BatchNormalization(name="bn1"),
        L.ReLU(),
        L.MaxPooling2D(2),
        L.Conv2D(6, 3, padding="same", activation="relu", name="conv2"),
        L.BatchNormalization(name="bn2"),
        L.Flatten(),
        L.Dense(len(CLASSES), activation="softmax", name="out"),
    ], name="chain_bn")
    return _randomise_batch_norms(model, 11)


def residual_graph():
    """A conv, a residual block (conv + skip, Add), global pooling and a
    linear (logits) head."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(12)
    inp = keras.Input(SHAPE)
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    y = L.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(x)
    x = L.ReLU()(L.Add()([x, y]))
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(len(CLASSES), name="logits")(x), name="residual")


def scaled_gradient_graph(model):
    """An in-graph method registered by the test: gradient times input, halved."""
    import tensorflow as tf

    from zfkeras.methods.attribution import score_gradient

    gradient = score_gradient(model)

    def run(images, classes):
        attributions = 0.5 * images * gradient(images, classes)[1]
        return attributions, tf.reduce_sum(attributions, axis=-1)

    return run


def _scaled_gradient(model, images, targets, *, batch_size, verbose):
    from zfkeras.methods.attribution import class_gradient

    attributions = 0.5 * images * class_gradient(model)(images, targets)[1]
    return attributions, attributions.sum(axis=-1)


def _refused(model):
    from zfkeras.utils.errors import InputError

    raise InputError("this model has a layer the test's method does not support")


def _test_methods():
    from zfkeras.methods.registry import Method

    common = dict(kind="backward rule", units=False, signed=True, channel_rule="sum over channels")
    return (Method(name="scaled_gradient", function=_scaled_gradient, summary="a test's", graph=scaled_gradient_graph,
                   **common),
            Method(name="refused_method", function=_scaled_gradient, summary="a test's", graph=_refused, **common),
            Method(name="noisy_in_graph", function=_scaled_gradient, summary="a test's", graph=scaled_gradient_graph,
                   deterministic=False, **common))


def _preprocessing():
    import keras

    return keras.layers.Rescaling(1 / 127.5, offset=-1.0)  # inputs in [-1, 1]: signs matter to the rules


def _raw(n, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE)).astype(np.uint8)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Both models exported (the chain with every explain signature, the
    residual graph with the default ones while the test's methods are
    registered), and the responses of tests/export_explain_client.py in a
    process without zfkeras."""
    from zfkeras.export import export_model

    tmp = tmp_path_factory.mktemp("explain_export")
    models = {"chain": chain_with_batch_norm(), "residual": residual_graph()}
    raw = {"chain": _raw(4, 0), "residual": _raw(4, 1)}
    target = {"chain": np.array([0, -1, 3, -1], np.int32), "residual": np.array([-1, 4, -1, 1], np.int32)}
    paths = {"chain": export_model(models["chain"], tmp / "chain", CLASSES, preprocessing=_preprocessing(),
                                   deconvnet_layers=["conv1"], explain_methods="all")}
    with registered(*_test_methods()), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths["residual"] = export_model(models["residual"], tmp / "residual", CLASSES,
                                         preprocessing=_preprocessing(), deconvnet_layers=["conv1"])
    args = []
    for name in models:
        np.savez(tmp / f"{name}_request.npz", images=raw[name], target=target[name])
        args += [paths[name], tmp / f"{name}_request.npz", tmp / f"{name}_response.npz"]
    client = pathlib.Path(helpers.__file__).with_name("export_explain_client.py")
    result = helpers.run_without_zfkeras(client, args, cwd=tmp)
    assert result.returncode == 0, result.stderr[-3000:]
    responses = {name: dict(np.load(tmp / f"{name}_response.npz")) for name in models}
    return models, raw, target, responses, [str(w.message) for w in caught]


def _expected(model, raw, target):
    """The classes explained: ``target``, the model's prediction where -1."""
    x = _preprocessing()(raw.astype(np.float32)).numpy()
    predicted = model.predict(x, verbose=0).argmax(axis=-1)
    return x, np.where(target < 0, predicted, target)


@pytest.mark.parametrize("name, methods", [("chain", DEFAULT + LRP_UNIFORM),
                                           ("residual", DEFAULT + ("scaled_gradient",))])
def test_each_signature_equals_explain_without_zfkeras(served, name, methods):
    import zfkeras

    models, raw, target, responses, _ = served
    model, response = models[name], responses[name]
    signatures = {s.decode() for s in response["signatures"]}
    assert {s for s in signatures if s.startswith("explain_")} == {f"explain_{m}" for m in methods}
    assert {"serving_default", "features", "project"} <= signatures  # the others are still there
    x, classes = _expected(model, raw[name], target[name])
    assert len(set(classes)) > 1
    with registered(_test_methods()[0]):  # scaled_gradient, as during the export
        expected = {m: zfkeras.explain(model, x, m, classes, verbose=0) for m in methods}
    for method in methods:
        prefix = f"explain_{method}/"
        assert [s.decode() for s in response[f"inputs/explain_{method}"]] == ["images:uint8", "target:int32"]
        np.testing.assert_array_equal(response[prefix + "explained_class"], classes)
        for key, shape in (("attributions", (4, *SHAPE)), ("maps", (4, *SHAPE[:2]))):
            reference = getattr(expected[method], key)
            assert response[prefix + key].shape == shape and response[prefix + key].dtype == np.float32
            scale = np.abs(reference).max()
            assert scale > 0
            np.testing.assert_allclose(response[prefix + key], reference, rtol=1e-4, atol=1e-5 * scale,
                                       err_msg=f"{name} {method} {key}")
            # and it is that method's answer, not another's (unless theirs agree here)
            for other in methods:
                theirs = getattr(expected[other], key)
                if not np.allclose(theirs, reference, rtol=1e-3, atol=1e-3 * scale):
                    assert not np.allclose(response[prefix + key], theirs, rtol=1e-3, atol=1e-3 * scale)


def test_integrated_gradients_signature_is_complete(served):
    """The IG signature's attributions sum to f(x) - f(0) (its defaults: zeros
    baseline in the model's input space, 50 trapezoid steps), a check that
    needs no zfkeras."""
    models, raw, target, responses, _ = served
    model = models["residual"]  # logits out: f is the served score
    x, classes = _expected(model, raw["residual"], target["residual"])
    logits = model.predict(x, verbose=0)
    zero = model.predict(np.zeros_like(x), verbose=0)
    change = logits[np.arange(4), classes] - zero[np.arange(4), classes]
    total = responses["residual"]["explain_integrated_gradients/attributions"].sum(axis=(1, 2, 3))
    np.testing.assert_allclose(total, change, rtol=0.02, atol=0.02 * np.abs(change).max())


@pytest.mark.parametrize("name", ["chain", "residual"])
def test_a_bad_target_is_refused_in_the_graph(served, name):
    _, _, _, responses, _ = served
    response = responses[name]
    explain = [s.decode() for s in response["signatures"] if s.decode().startswith("explain_")]
    assert explain
    for signature in explain:
        message = response[f"{signature}/error_range"].item().decode()
        assert "target out of range: the model has 5 classes (0 .. 4; -1: the predicted class)" in message
        assert "1000" in message
        message = response[f"{signature}/error_shape"].item().decode()
        assert "target must be int32 (N,), one class index per image" in message
        assert "images have N =" in message and "[4]" in message and "[3]" in message


def test_a_method_the_model_does_not_support_is_left_out_with_a_warning(served):
    *_, caught = served
    assert any("explain_refused_method" in m and "does not support" in m for m in caught)
    assert not any("scaled_gradient" in m for m in caught)


def test_which_signatures_the_registry_gives():
    from zfkeras.export.projections import explain_record, explain_signatures, explainable_methods
    from zfkeras.utils.errors import InputError

    assert set(explain_signatures()) == {f"explain_{m}" for m in DEFAULT}
    assert set(explain_signatures("all")) == {f"explain_{m}" for m in DEFAULT + LRP_UNIFORM}
    assert explain_signatures([]) == {}
    assert explain_signatures(["lrp_gamma"]) == {"explain_lrp_gamma": "lrp_gamma"}
    with registered(*_test_methods()):
        # a deterministic method with a graph gets one; a noisy one does not
        assert "scaled_gradient" in explainable_methods() and "noisy_in_graph" not in explainable_methods()
        assert explain_signatures()["explain_scaled_gradient"] == "scaled_gradient"
        with pytest.raises(InputError, match="'noisy_in_graph' cannot be exported"):
            explain_signatures(["noisy_in_graph"])
    assert "scaled_gradient" not in explainable_methods()
    for bad in (["grad_cam"], ["smoothgrad"], ["no_such"]):
        with pytest.raises(InputError, match="cannot be exported; methods with an explain signature"):
            explain_signatures(bad)
    with pytest.raises(InputError, match="explain_methods must be None, 'all' or a list"):
        explain_signatures("lrp_epsilon")
    record = explain_record()
    assert record["explain_integrated_gradients"] == {
        "method": "integrated_gradients", "options": {"steps": 50, "baseline": None, "rule": "riemann_trapezoid"}}
    assert record["explain_lrp_epsilon"]["options"]["epsilon"] == 1e-6


def test_the_run_record_names_the_explain_signatures_and_their_options(tmp_path):
    from zfkeras.export import record as export_record
    from zfkeras.runs.folder import RunFolder

    run = RunFolder(helpers.write_run_folder(tmp_path / "run", helpers.tiny_model()))
    record = export_record.run_record(run)
    assert sorted(record["explain_signatures"]) == sorted(f"explain_{m}" for m in DEFAULT)
    assert record["explain_signatures"]["explain_integrated_gradients"]["options"]["steps"] == 50
    assert export_record.run_record(run, explain_methods="all") != record


def test_unknown_or_unsupported_explain_methods_are_refused_before_writing(tmp_path):
    from zfkeras.export import export_model
    from zfkeras.utils.errors import InputError

    model = residual_graph()
    with pytest.raises(InputError, match="'vargrad' cannot be exported"):
        export_model(model, tmp_path / "out", CLASSES, explain_methods=["vargrad"])
    assert not (tmp_path / "out").exists()
    with registered(*_test_methods()):
        with pytest.raises(InputError, match="explain signature for 'refused_method': .*does not support"):
            export_model(model, tmp_path / "out2", CLASSES, deconvnet_layers=["conv1"],
                         explain_methods=["refused_method"])
    assert not any(p.name.isdigit() for p in (tmp_path / "out2").iterdir())
