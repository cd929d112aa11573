"""Layer-wise relevance propagation (zfkeras.methods.lrp): oracles, closed forms, properties."""

import numpy as np
import pytest

import keras
import tensorflow as tf

import zfkeras
from zfkeras.methods.lrp import rules as lrp_rules
from zfkeras.methods.lrp.engine import LRP
from zfkeras.methods.lrp.layers import _conv_apply
from zfkeras.methods.registry import get_method, method_names
from zfkeras.utils.errors import InputError

L = keras.layers
LRP_METHODS = ("lrp_0", "lrp_epsilon", "lrp_gamma", "lrp_alpha1_beta0", "lrp_alpha2_beta1",
               "lrp_epsilon_plus_flat", "lrp_epsilon_gamma_box", "lrp_epsilon_alpha2_beta1")


def _images(n, shape, seed=0):
    return np.random.default_rng(seed).normal(size=(n,) + shape).astype("float32")


def _chain(bias=False, softmax=True):
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((12, 12, 3)),
        L.Conv2D(6, 3, activation="relu", use_bias=bias, name="c1"),
        L.MaxPooling2D(2),
        L.DepthwiseConv2D(3, padding="same", use_bias=bias, name="dw"),
        L.ReLU(),
        L.SeparableConv2D(8, 3, activation="relu", use_bias=bias, name="sep"),
        L.AveragePooling2D(2),
        L.Flatten(),
        L.Dense(10, activation="relu", use_bias=bias, name="d1"),
        L.Dense(4, activation="softmax" if softmax else None, use_bias=bias, name="out"),
    ], name="chain")


def _graph(bias=False):
    """Add, Concatenate, global pooling and a nested base."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((10, 10, 3))
    a = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=bias)(inp)
    b = L.Conv2D(4, 1, padding="same", activation="relu", use_bias=bias)(inp)
    s = L.Add()([a, b])
    c = L.Concatenate()([s, L.Conv2D(2, 3, padding="same", activation="relu", use_bias=bias)(a)])
    base = keras.Model(inp, L.MaxPooling2D(2)(c), name="base")
    outer_in = keras.Input((10, 10, 3))
    x = base(outer_in)
    x = L.Conv2D(5, 3, activation="relu", use_bias=bias)(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(3, activation="softmax", use_bias=bias)(x)
    return keras.Model(outer_in, out, name="graph")


def _logits(model, images):
    """The pre-softmax scores: the output layer's input times its weights, in numpy."""
    last = model.layers[-1]
    features = keras.Model(model.inputs, last.input).predict(images, verbose=0).astype("float64")
    z = features @ last.kernel.numpy()
    return z + last.bias.numpy() if last.use_bias else z


def _gradient_times_input(model, images, classes):
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        features = keras.Model(model.inputs, model.layers[-1].input)(x)
        score = tf.gather(features @ model.layers[-1].kernel, classes, axis=1, batch_dims=1)
    return (tape.gradient(score, x) * x).numpy()


@pytest.mark.parametrize("make", [_chain, _graph], ids=["chain", "graph"])
def test_lrp_0_is_gradient_times_input_without_biases(make):
    model = make()
    x = _images(3, model.input_shape[1:])
    classes = np.array([0, 1, 2])
    result = zfkeras.explain(model, x, "lrp_0", classes)
    expected = _gradient_times_input(model, x, classes)
    assert np.abs(expected).max() > 1e-4
    np.testing.assert_allclose(result.attributions, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    np.testing.assert_allclose(result.maps, result.attributions.sum(axis=-1), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("make", [_chain, _graph], ids=["chain", "graph"])
@pytest.mark.parametrize("method", ["lrp_0", "lrp_alpha1_beta0", "lrp_epsilon_gamma_box", "lrp_epsilon_plus_flat"])
def test_conservation_without_biases(make, method):
    model = make()
    x = _images(4, model.input_shape[1:], seed=2)
    logits = _logits(model, x)
    classes = logits.argmax(axis=1)  # alpha1-beta0 conserves where some contribution is positive
    result = zfkeras.explain(model, x, method, classes, epsilon=0.0)
    score = logits[np.arange(len(x)), classes]
    np.testing.assert_allclose(result.maps.reshape(len(x), -1).sum(axis=1), score, rtol=1e-5,
                               atol=1e-6 * np.abs(score).max())


def test_epsilon_absorbs_what_the_rule_says():
    """One layer: sum_i R_i = sum_j R_j (z_j - b_j) / (z_j + eps sign z_j)."""
    rng = np.random.default_rng(3)
    kernel = tf.constant(rng.normal(size=(3, 3, 2, 4)).astype("float32"))
    bias = tf.constant(rng.normal(size=4).astype("float32"))
    layer = L.Conv2D(4, 3)  # only for its geometry
    layer.build((None, 6, 6, 2))
    linear = lrp_rules.LinearMap(_conv_apply(layer), kernel, bias)
    x = tf.constant(rng.normal(size=(2, 6, 6, 2)).astype("float32"))
    relevance = tf.constant(rng.normal(size=(2, 4, 4, 4)).astype("float32"))
    z = linear(x).numpy()
    for epsilon in (0.0, 0.5, 3.0):
        rule = lrp_rules.Epsilon(epsilon) if epsilon else lrp_rules.Zero()
        got = rule.relevance(linear, x, relevance).numpy().reshape(2, -1).sum(axis=1)
        stabilised = z + epsilon * np.where(z >= 0, 1, -1)
        expected = (relevance.numpy() * (z - bias.numpy()) / stabilised).reshape(2, -1).sum(axis=1)
        np.testing.assert_allclose(got, expected, rtol=1e-4)
        leak = relevance.numpy().reshape(2, -1).sum(axis=1) - got
        assert np.abs(leak).max() > 1e-3  # biases (and epsilon) do absorb relevance


def _numpy_lrp(weights, biases, x, target, rule, epsilon=0.0, gamma=0.0):
    """LRP through Dense(relu) layers written out by hand (Montavon et al. 2019, eq. in sec. 10.2)."""
    activations = [x]
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = activations[-1] @ w + b
        activations.append(np.maximum(z, 0) if i < len(weights) - 1 else z)
    relevance = np.zeros_like(activations[-1])
    relevance[np.arange(len(x)), target] = activations[-1][np.arange(len(x)), target]
    for a, w, b in reversed(list(zip(activations[:-1], weights, biases))):
        if rule == "gamma":
            w, b = w + gamma * np.maximum(w, 0), b + gamma * np.maximum(b, 0)
        z = a @ w + b
        z = z + (epsilon if rule == "epsilon" else 0) * np.where(z >= 0, 1, -1)
        relevance = a * ((relevance / z) @ w.T)
    return relevance


@pytest.mark.parametrize("method, rule, options", [
    ("lrp_epsilon", "epsilon", {"epsilon": 0.3}),
    ("lrp_epsilon", "epsilon", {"epsilon": 1e-6}),
    ("lrp_gamma", "gamma", {"gamma": 0.25}),
    ("lrp_gamma", "gamma", {"gamma": 2.0}),
])
def test_rules_equal_numpy_on_a_hand_written_network(method, rule, options):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((7,)), L.Dense(6, activation="relu", bias_initializer="random_normal"),
                              L.Dense(5, activation="relu", bias_initializer="random_normal"),
                              L.Dense(3, activation="softmax", bias_initializer="random_normal")])
    x = np.random.default_rng(4).normal(size=(5, 7)).astype("float32")
    # explain() takes images; the engine takes any input the model does
    got = LRP(model, method, **options)(x, np.array([0, 1, 2, 0, 1]))
    weights = [layer.kernel.numpy().astype("float64") for layer in model.layers]
    biases = [layer.bias.numpy().astype("float64") for layer in model.layers]
    expected = _numpy_lrp(weights, biases, x.astype("float64"), np.array([0, 1, 2, 0, 1]), rule, **options)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-5 * np.abs(expected).max())


def test_gamma_to_zero_is_lrp_0():
    model = _chain(bias=True)
    x = _images(2, (12, 12, 3), seed=5)
    zero = zfkeras.explain(model, x, "lrp_0", 1)
    small = zfkeras.explain(model, x, "lrp_gamma", 1, gamma=1e-7)
    large = zfkeras.explain(model, x, "lrp_gamma", 1, gamma=1.0)
    scale = np.abs(zero.attributions).max()
    np.testing.assert_allclose(small.attributions, zero.attributions, atol=1e-3 * scale)
    assert np.abs(large.attributions - zero.attributions).max() > 1e-2 * scale


def _batch_norm_model():
    keras.utils.set_random_seed(6)
    inp = keras.Input((10, 10, 3))
    x = L.Conv2D(6, 3, use_bias=True, name="conv")(inp)
    x = L.BatchNormalization(name="bn_folded")(x)
    x = L.ReLU()(x)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, use_bias=False, name="dw")(x)
    x = L.BatchNormalization(name="bn_dw")(x)
    x = L.ReLU()(x)
    x = L.BatchNormalization(name="bn_alone")(x)  # after a ReLU: nothing to fold into
    x = L.Conv2D(4, 3, activation="relu", name="conv2")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(8, name="dense")(x)
    x = L.BatchNormalization(name="bn_dense")(x)
    out = L.Dense(3, activation="softmax", name="out")(L.ReLU()(x))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(6)
    for layer in model.layers:  # non-trivial statistics, as after training
        if isinstance(layer, L.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2, c), rng.normal(0, 0.5, c), rng.normal(0, 0.5, c),
                               rng.uniform(0.5, 2, c)])
    return model


def test_folded_batch_norm_computes_the_models_forward_pass():
    model = _batch_norm_model()
    engine = LRP(model, "lrp_epsilon")
    assert engine.folded == {"bn_folded", "bn_dw", "bn_dense"}
    assert "bn_alone" in engine.rules and "bn_folded" not in engine.rules
    x = _images(3, (10, 10, 3), seed=6)
    np.testing.assert_allclose(engine.forward(tf.constant(x)).numpy(), _logits(model, x), rtol=1e-4, atol=1e-5)
    unfolded = LRP(model, "lrp_epsilon", canonize=False)
    assert not unfolded.folded
    np.testing.assert_allclose(unfolded.forward(tf.constant(x)).numpy(), _logits(model, x), rtol=1e-4, atol=1e-5)


def test_alpha1_beta0_is_non_negative():
    model = _batch_norm_model()
    x = _images(4, (10, 10, 3), seed=7)
    logits = _logits(model, x)
    classes = logits.argmax(axis=1)
    assert (logits[np.arange(4), classes] > 0).all()
    result = zfkeras.explain(model, x, "lrp_alpha1_beta0", classes)
    assert result.attributions.min() >= 0 and result.attributions.max() > 0
    signed = zfkeras.explain(model, x, "lrp_alpha2_beta1", classes)
    assert signed.attributions.min() < 0  # the beta part does subtract


def test_flat_input_rule_spreads_evenly():
    keras.utils.set_random_seed(8)
    model = keras.Sequential([keras.Input((5, 5, 2)), L.Conv2D(3, 5, use_bias=False, name="first"), L.Flatten(),
                              L.Dense(2, use_bias=False)])
    x = _images(2, (5, 5, 2), seed=8)
    result = zfkeras.explain(model, x, "lrp_0", 0, rules={"first": "flat"})
    expected = _logits(model, x)[:, 0] / 50  # the whole receptive field, every channel
    np.testing.assert_allclose(result.attributions, np.broadcast_to(expected[:, None, None, None], x.shape),
                               rtol=1e-5)


def test_composites_choose_zennits_rules():
    model = _chain(bias=True)
    rules = {name: type(r).__name__ for name, r in LRP(model, "lrp_epsilon_plus_flat").rules.items()}
    assert rules == {"c1": "Flat", "dw": "AlphaBeta", "sep": "AlphaBeta", "d1": "Epsilon", "out": "Epsilon"}
    box = LRP(model, "lrp_epsilon_gamma_box", low=-3, high=3).rules
    assert [type(box[n]).__name__ for n in ("c1", "dw", "d1")] == ["ZBox", "Gamma", "Epsilon"]
    mixed = LRP(model, "lrp_epsilon_alpha2_beta1", rules={"c1": "wsquare", "out": "zero"}).rules
    assert (type(mixed["c1"]).__name__, type(mixed["out"]).__name__) == ("WSquare", "Zero")
    assert mixed["sep"].alpha == 2 and mixed["sep"].beta == 1


def test_registry_and_explanation():
    for name in LRP_METHODS:
        method = get_method(name)
        assert method.kind == "relevance propagation" and method.deterministic and not method.units
    assert set(LRP_METHODS) <= set(method_names())
    model = _chain(bias=True)
    x = _images(5, (12, 12, 3), seed=9)
    a = zfkeras.explain(model, x, "lrp_epsilon_gamma_box", batch_size=2)
    b = zfkeras.explain(model, x, "lrp_epsilon_gamma_box", batch_size=8)
    np.testing.assert_allclose(a.attributions, b.attributions, rtol=1e-5, atol=1e-7)
    assert a.maps.shape == (5, 12, 12) and a.targets.shape == (5,)


@pytest.mark.parametrize("options, error", [
    ({"rules": {"nope": "zero"}}, "'nope'"),
    ({"rules": {"c1": "zplus"}}, "'zplus'"),
    ({"rules": ["c1"]}, "rules must be"),
    ({"epsilon": -1}, "epsilon"),
])
def test_bad_options(options, error):
    with pytest.raises((InputError, TypeError), match=error):
        zfkeras.explain(_chain(), _images(1, (12, 12, 3)), "lrp_epsilon", 0, **options)


def test_unsupported_layer_is_named():
    inp = keras.Input((6, 6, 2))
    x = L.Conv2D(3, 3)(inp)
    x = L.LayerNormalization(name="ln")(x)
    out = L.Dense(2)(L.Flatten()(x))
    with pytest.raises(InputError, match="'ln' of type LayerNormalization"):
        zfkeras.explain(keras.Model(inp, out), _images(1, (6, 6, 2)), "lrp_0", 0)


_APPLICATIONS = ["VGG16", "ResNet50", "MobileNetV2"]


@pytest.mark.parametrize("name", _APPLICATIONS)
def test_keras_applications_conserve(name):
    """weights=None: zero biases, identity batch statistics, so LRP-0 and
    alpha1-beta0 conserve the class score through every block."""
    keras.utils.set_random_seed(10)
    model = getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=5)
    x = _images(2, (32, 32, 3), seed=10)
    engine = LRP(model, "lrp_0")
    logits = engine.forward(tf.constant(x)).numpy()
    probabilities = model.predict(x, verbose=0)
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), probabilities, rtol=1e-4, atol=1e-6)
    classes = logits.argmax(axis=1)
    score = logits[np.arange(2), classes]
    for method in ("lrp_0", "lrp_alpha1_beta0"):
        relevance = LRP(model, method)(x, classes)
        np.testing.assert_allclose(relevance.reshape(2, -1).sum(axis=1), score, rtol=1e-4)
