"""The one output policy (zfkeras.graph.output): a logits model and its softmax
twins give the same class maps and probabilities in every tool."""

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras.graph.output import output_policy
from zfkeras.utils.errors import InputError

L = keras.layers
SHAPE = (10, 10, 2)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def twins():
    """The same network ending in logits, in Dense(softmax), in a Softmax layer,
    and as a nested model followed by Activation("softmax")."""
    keras.utils.set_random_seed(11)
    inputs = keras.Input(SHAPE)
    x = L.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Conv2D(5, 2, activation="relu", name="conv2")(x)
    features = L.GlobalAveragePooling2D(name="gap")(x)
    logits = keras.Model(inputs, L.Dense(3, name="out")(features), name="logits")
    dense_softmax = keras.models.clone_model(logits)
    dense_softmax.set_weights(logits.get_weights())
    dense_softmax.get_layer("out").activation = keras.activations.softmax
    softmax_layer = keras.Model(inputs, L.Softmax(name="probabilities")(logits.outputs[0]), name="softmax_layer")
    nested_inputs = keras.Input(SHAPE)
    nested = keras.Model(nested_inputs, L.Activation("softmax")(logits(nested_inputs)), name="nested")
    images = np.random.RandomState(12).uniform(-1, 1, (3,) + SHAPE).astype("float32")
    return logits, {"dense_softmax": dense_softmax, "softmax_layer": softmax_layer, "nested": nested}, images


def test_the_policy_detects_a_softmax_head(twins):
    logits, softmax_twins, images = twins
    assert output_policy(logits).from_logits and not output_policy(logits).softmax_head
    for name, twin in softmax_twins.items():
        policy = output_policy(twin)
        assert policy.softmax_head and not policy.from_logits, name
        np.testing.assert_allclose(policy.probabilities(twin.predict(images, verbose=0)),
                                   _softmax(logits.predict(images, verbose=0).astype("float64")), rtol=1e-5)
    assert output_policy(logits, from_logits=False).from_logits is False  # the override wins
    with pytest.raises(InputError, match="not probabilities.*from_logits=True"):
        output_policy(logits, from_logits=False).probabilities(np.array([[3.0, -1.0, 0.5]]))
    with pytest.raises(TypeError, match="from_logits must be None, True or False"):
        output_policy(logits, from_logits="yes")


def test_occlusion(twins):
    logits, softmax_twins, images = twins
    ours = zfkeras.occlusion(logits, images, 3, 2, verbose=0)
    z = logits.predict(images, verbose=0).astype("float64")
    np.testing.assert_allclose(ours.unoccluded_probability, _softmax(z)[np.arange(3), ours.true_label], rtol=1e-5)
    for name, twin in softmax_twins.items():
        other = zfkeras.occlusion(twin, images, 3, 2, method="full", verbose=0)
        np.testing.assert_allclose(other.class_probability, ours.class_probability, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(other.true_label, ours.true_label)
    with pytest.raises(InputError, match="from_logits=True"):
        zfkeras.occlusion(logits, images, 3, 2, from_logits=False, verbose=0)


def test_faithfulness(twins):
    logits, softmax_twins, images = twins
    maps = np.random.RandomState(13).uniform(0, 1, images.shape[:3]).astype("float32")
    ours = zfkeras.faithfulness(logits, images, maps, steps=4, verbose=0)
    for twin in softmax_twins.values():
        other = zfkeras.faithfulness(twin, images, maps, steps=4, verbose=0)
        np.testing.assert_allclose(other.details["curves"], ours.details["curves"], rtol=1e-4, atol=1e-6)
    # the curve starts at the class probability of the untouched image: the softmax of the logits
    z = logits.predict(images, verbose=0).astype("float64")
    np.testing.assert_allclose(ours.details["curves"][:, 0], _softmax(z)[np.arange(3), ours.details["classes"]],
                               rtol=1e-5)


def test_grad_cam_reads_the_logit_before_any_softmax(twins):
    logits, softmax_twins, images = twins
    ours = zfkeras.grad_cam(logits, images, "conv2", targets=[0, 1, 2], verbose=0)
    assert ours.max() > 0
    for name in ("dense_softmax", "softmax_layer"):
        other = zfkeras.grad_cam(softmax_twins[name], images, "conv2", targets=[0, 1, 2], verbose=0)
        np.testing.assert_allclose(other, ours, rtol=1e-4, atol=1e-6)


def test_explain(twins):
    logits, softmax_twins, images = twins
    for method in ("grad_cam", "occlusion"):
        ours = zfkeras.explain(logits, images, method, verbose=0)
        other = zfkeras.explain(softmax_twins["dense_softmax"], images, method, verbose=0)
        np.testing.assert_array_equal(other.targets, ours.targets)
        np.testing.assert_allclose(other.maps, ours.maps, rtol=1e-4, atol=1e-6)


def test_invariance_and_ten_crop_evaluation(twins):
    from zfkeras.measures.evaluation import predict_ten_crop
    from zfkeras.measures.invariance import invariance

    logits, softmax_twins, images = twins
    a = invariance(logits, images, [0, 1, 2], "rotate", amounts=[0, 30], layers=("conv",), verbose=0)
    b = invariance(softmax_twins["dense_softmax"], images, [0, 1, 2], "rotate", amounts=[0, 30], layers=("conv",),
                   verbose=0)
    np.testing.assert_allclose(a.probability, b.probability, rtol=1e-4, atol=1e-6)
    assert np.all((a.probability > 0) & (a.probability < 1))
    larger = np.random.RandomState(14).uniform(-1, 1, (3, 12, 12, 2)).astype("float32")
    p = predict_ten_crop(logits, larger, crop_size=10, verbose=0)
    q = predict_ten_crop(softmax_twins["dense_softmax"], larger, crop_size=10, verbose=0)
    np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
