"""zfkeras.explain: every registered method by one call, on a Sequential, a
functional and a nested-base model; equal to the function it wraps."""

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras import Unit
from zfkeras.methods.builtin import deconvnet_of
from zfkeras.methods.grad_cam import class_projection, grad_cam, guided_grad_cam
from zfkeras.methods.registry import SUM_ABS, get_method, method_names
from zfkeras.utils.errors import InputError

L = keras.layers
SHAPE = (12, 12, 2)


def _sequential():
    return keras.Sequential([keras.Input(SHAPE), L.Conv2D(4, 3, activation="relu", name="conv1"),
                             L.MaxPooling2D(2, name="pool1"), L.Conv2D(5, 2, activation="relu", name="conv2"),
                             L.Flatten(), L.Dense(3, name="out")], name="sequential_net")


def _functional():
    inputs = keras.Input(SHAPE)
    a = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    b = L.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(a)
    x = L.Add(name="add")([a, b])
    x = L.Conv2D(5, 3, activation="relu", name="conv3")(x)
    outputs = L.Dense(3, activation="softmax", name="out")(L.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="functional_net")


def _nested():
    base = keras.Sequential([keras.Input(SHAPE), L.Conv2D(4, 3, activation="relu", name="c1"),
                             L.MaxPooling2D(2, name="p1"), L.Conv2D(5, 2, activation="relu", name="c2")], name="base")
    inputs = keras.Input(SHAPE)
    outputs = L.Dense(3, name="head")(L.GlobalAveragePooling2D()(base(inputs)))
    return keras.Model(inputs, outputs, name="nested_net")


MODELS = {"sequential": (_sequential, "conv2"), "functional": (_functional, "conv3"),
          "nested": (_nested, "base/c2")}


@pytest.fixture(scope="module", params=sorted(MODELS))
def case(request):
    keras.utils.set_random_seed(21)
    build, last = MODELS[request.param]
    images = np.random.RandomState(22).uniform(-1, 1, (3,) + SHAPE).astype("float32")
    return build(), last, images


def _check_explanation(explanation, method, images, targets):
    n, h, w, c = images.shape
    assert explanation.method == method and len(explanation) == n
    assert explanation.maps.shape == (n, h, w) and explanation.maps.dtype == np.float32
    assert not explanation.maps.flags.writeable
    assert np.isfinite(explanation.maps).all() and np.abs(explanation.maps).max() > 0
    if explanation.attributions is not None:
        assert explanation.attributions.shape == images.shape and explanation.attributions.dtype == np.float32
        assert not explanation.attributions.flags.writeable
        # the method's channel rule: |attributions| summed (the backward rules), or summed with their sign
        # (relevance, Integrated Gradients: their totals mean something)
        a = explanation.attributions
        expected = np.abs(a).sum(-1) if get_method(method).channel_rule == SUM_ABS else a.sum(-1)
        np.testing.assert_allclose(explanation.maps, expected, rtol=1e-5, atol=1e-7)
    if isinstance(targets, Unit):
        assert explanation.targets == targets
    else:
        np.testing.assert_array_equal(explanation.targets, targets)
        assert not explanation.targets.flags.writeable
    with pytest.raises(Exception):
        explanation.maps = None


@pytest.mark.parametrize("method", method_names())
def test_every_method_explains_the_predicted_class(case, method):
    model, _, images = case
    predicted = model.predict(images, verbose=0).argmax(axis=1)
    explanation = zfkeras.explain(model, images, method, verbose=0)
    _check_explanation(explanation, method, images, predicted)
    assert dict(explanation.options) == dict(get_method(method).options)
    given = zfkeras.explain(model, images, method, targets=[2, 0, 1], verbose=0)
    _check_explanation(given, method, images, [2, 0, 1])


@pytest.mark.parametrize("method", method_names(units=True))
def test_every_unit_method_explains_a_unit(case, method):
    model, last, images = case
    unit = Unit(last, [0, 3, 4])
    explanation = zfkeras.explain(model, images, method, targets=unit, verbose=0)
    _check_explanation(explanation, method, images, unit)


def test_explain_equals_the_functions_it_wraps(case):
    model, last, images = case
    classes = np.array([1, 2, 0])
    np.testing.assert_array_equal(zfkeras.explain(model, images, "grad_cam", classes, verbose=0).maps,
                                  grad_cam(model, images, last, classes, verbose=0))
    np.testing.assert_array_equal(
        zfkeras.explain(model, images, "guided_grad_cam", classes, verbose=0).attributions,
        guided_grad_cam(model, images, last, classes, verbose=0))
    for rule in ("deconvnet", "guided_backprop", "gradient"):
        np.testing.assert_array_equal(zfkeras.explain(model, images, rule, classes, verbose=0).attributions,
                                      class_projection(model, images, classes, method=rule, verbose=0))
    unit = Unit(last, 1, position=(1, 1))
    np.testing.assert_array_equal(zfkeras.explain(model, images, "gradient", unit, verbose=0).attributions,
                                  zfkeras.Deconvnet(model).project(images, unit, method="gradient"))
    assert deconvnet_of(model) is deconvnet_of(model)  # built once per model
    np.testing.assert_array_equal(zfkeras.explain(model, images, "grad_cam", unit, verbose=0).maps,
                                  grad_cam(model, images, last, unit=unit, verbose=0))


def test_the_occlusion_map_is_the_grid_at_the_image_size(case):
    model, _, images = case
    explanation = zfkeras.explain(model, images, "occlusion", verbose=0, size=4, stride=3, baseline=0.0)
    result = zfkeras.occlusion(model, images, 4, 3, baseline=0.0, verbose=0)
    drop = result.unoccluded_probability[:, None, None] - result.class_probability
    expected = np.zeros(images.shape[:3])
    for n in range(len(images)):  # brute force: every pixel, every square covering it
        for y in range(images.shape[1]):
            for x in range(images.shape[2]):
                values = [drop[n, i, j] for i in range(result.corners.shape[0]) for j in range(result.corners.shape[1])
                          if result.corners[i, j, 0] <= y < result.corners[i, j, 0] + 4
                          and result.corners[i, j, 1] <= x < result.corners[i, j, 1] + 4]
                expected[n, y, x] = np.mean(values) if values else 0.0
    np.testing.assert_allclose(explanation.maps, expected, rtol=1e-5, atol=1e-7)
    assert dict(explanation.options)["size"] == 4


def test_bad_requests_raise_input_errors(case):
    model, last, images = case
    with pytest.raises(InputError, match="method must be one of .*'grad_cam'.*got 'lime'"):
        zfkeras.explain(model, images, "lime")
    with pytest.raises(InputError, match="method 'grad_cam' has no option 'size'; its options: layer, interpolation"):
        zfkeras.explain(model, images, "grad_cam", size=3)
    with pytest.raises(InputError, match="'occlusion' explains classes, not units.*deconvnet"):
        zfkeras.explain(model, images, "occlusion", targets=Unit(last, 0))
    with pytest.raises(InputError, match="zfkeras.Unit"):
        zfkeras.explain(model, images, "gradient", targets=(last, 0))
    with pytest.raises(ValueError, match=r"targets must be in \[0, 3\)"):
        zfkeras.explain(model, images, "gradient", targets=3)
    with pytest.raises(ValueError, match="unknown layer 'nope'"):
        zfkeras.explain(model, images, "gradient", targets=Unit("nope", 0))


def test_the_deconvnet_explain_builds_is_kept_with_the_model_and_goes_with_it():
    import gc
    import weakref

    model = _sequential()
    images = np.random.RandomState(23).uniform(-1, 1, (2,) + SHAPE).astype("float32")
    first = zfkeras.explain(model, images, "deconvnet", targets=Unit("conv2", 1), verbose=0)
    deconv = deconvnet_of(model)
    assert deconvnet_of(model) is deconv
    np.testing.assert_array_equal(zfkeras.explain(model, images, "deconvnet", targets=Unit("conv2", 1),
                                                  verbose=0).attributions, first.attributions)
    alive = weakref.ref(model)
    del model, deconv
    gc.collect()
    assert alive() is None
