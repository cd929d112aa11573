"""One calling convention: every entry point takes ``inputs``, ``layer`` or
``layers``, ``batch_size`` (one default) and Keras' ``verbose``; the old
keyword names still work for one release and warn, naming the new one."""

import inspect
import re
import warnings

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras.measures.correspondence import correspondence
from zfkeras.measures.evaluation import predict_ten_crop, ten_crop_metrics
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE
from zfkeras.measures.invariance import invariance

SIZE = 8


def _model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="fc")(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs, name="tiny")


MODEL = _model()
IMAGES = np.random.default_rng(0).uniform(0, 1, (5, SIZE, SIZE, 1)).astype("float32")
LARGE = np.random.default_rng(1).uniform(0, 1, (5, SIZE + 2, SIZE + 2, 1)).astype("float32")
LABELS = np.array([0, 1, 2, 0, 1])

# name -> (function, arguments with the new names, what to compare, the old names -> new)
ENTRY_POINTS = {
    "top_activations": (
        zfkeras.top_activations, dict(model=MODEL, inputs=IMAGES, layers=["conv"], k=2),
        lambda r: r["conv"].values, {"data": "inputs", "progress": "verbose"}),
    "features": (
        zfkeras.features, dict(model=MODEL, inputs=IMAGES, layers="pool"),
        lambda r: r, {"data": "inputs", "layer": "layers", "progress": "verbose"}),
    "occlusion": (
        zfkeras.occlusion, dict(model=MODEL, inputs=IMAGES, size=3, stride=2, targets=LABELS, baseline=0.5),
        lambda r: r.class_probability, {"labels": "targets", "fill": "baseline"}),
    "grad_cam": (
        zfkeras.grad_cam, dict(model=MODEL, inputs=IMAGES, layer="conv", targets=LABELS),
        lambda r: r, {"classes": "targets"}),
    "faithfulness": (
        zfkeras.faithfulness, dict(model=MODEL, inputs=IMAGES, explanation=IMAGES[..., 0], targets=LABELS,
                                   baseline=0.5, steps=2),
        lambda r: r.scores, {"maps": "explanation", "classes": "targets", "fill": "baseline"}),
    "invariance": (
        invariance, dict(model=MODEL, inputs=IMAGES, labels=LABELS, transform="rotate", amounts=[0, 90],
                         layers=("conv", "fc")),
        lambda r: r.distance["conv"], {"images": "inputs"}),
    "correspondence": (
        correspondence, dict(model=MODEL, inputs=IMAGES, boxes=(0, 0, 3, 3), layers=["conv"]),
        lambda r: r["conv"].pair_fractions, {"images": "inputs"}),
    "predict_ten_crop": (
        predict_ten_crop, dict(model=MODEL, inputs=LARGE, crop_size=SIZE),
        lambda r: r, {"dataset": "inputs"}),
    "ten_crop_metrics": (
        ten_crop_metrics, dict(model=MODEL, inputs=[(LARGE, LABELS)], crop_size=SIZE),
        lambda r: np.array(list(r.values())), {"dataset": "inputs"}),
    "Deconvnet.project": (
        zfkeras.Deconvnet(MODEL).project, dict(inputs=IMAGES, unit=zfkeras.Unit("conv", 1)),
        lambda r: r, {}),
}

OLD_NAMES = [(name, old, new) for name, entry in ENTRY_POINTS.items() for old, new in entry[3].items()]


def _old_value(new, value):
    return {"verbose": False}.get(new, value)


@pytest.mark.parametrize("name, old, new", OLD_NAMES, ids=[f"{n}-{o}" for n, o, _ in OLD_NAMES])
def test_old_names_warn_naming_the_new_one_and_give_the_same_result(name, old, new):
    function, kwargs, key, _ = ENTRY_POINTS[name]
    kwargs = {**kwargs, "verbose": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names do not warn
        expected = key(function(**kwargs))
    old_kwargs = {k: v for k, v in kwargs.items() if k != new}
    old_kwargs[old] = _old_value(new, kwargs[new])
    with pytest.warns(DeprecationWarning, match=rf"the argument '{old}' is deprecated .*; use '{new}'"):
        got = key(function(**old_kwargs))
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(TypeError, match=rf"got both '{old}' \(deprecated\) and '{new}'; pass only '{new}'"):
        function(**{**old_kwargs, new: kwargs[new]})


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_the_same_words_and_one_batch_size_default(name):
    function = ENTRY_POINTS[name][0]
    parameters = inspect.signature(function).parameters
    names = [p for p in parameters if p != "self"]
    assert names[:2] == ["model", "inputs"] if name != "Deconvnet.project" else names[0] == "inputs"
    assert parameters["batch_size"].default == DEFAULT_BATCH_SIZE == 64
    assert parameters["verbose"].default == "auto"
    assert not {"data", "images", "dataset", "progress"} & set(parameters)
    given = {"layer", "layers"} & set(parameters)
    assert given == (set() if name.startswith(("predict", "ten_crop")) else given) and len(given) <= 1
    if name in ("top_activations", "features", "invariance", "correspondence"):
        assert given == {"layers"}  # one name or several
    elif name in ("occlusion", "grad_cam"):
        assert given == {"layer"}  # exactly one
    elif name == "Deconvnet.project":
        assert given == set() and "unit" in parameters  # a zfkeras.Unit names the layer


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_verbose_is_keras_verbose(name, capsys):
    function, kwargs, _, _ = ENTRY_POINTS[name]
    function(**kwargs, verbose=0)
    assert capsys.readouterr().out == ""
    function(**kwargs, verbose=1)
    bar = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # without colours
    assert re.search(r"\b(\d+)/\1\b", bar), bar  # a Keras Progbar that reached its target
    function(**kwargs)  # "auto": a few steps, no bar
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match=r"verbose must be one of 0, 1, 'auto'; got 'loud'"):
        function(**kwargs, verbose="loud")


@pytest.mark.parametrize("name", [n for n in ENTRY_POINTS if not n.startswith(("predict", "ten_crop"))])
def test_every_entry_point_uses_the_shared_image_check(name):
    function, kwargs, _, _ = ENTRY_POINTS[name]
    wrong = np.zeros((5, SIZE, SIZE + 1, 1), "float32")
    with pytest.raises(ValueError, match=rf"have width {SIZE + 1} but the model expects {SIZE} .*model 'tiny' takes"):
        function(**{**kwargs, "inputs": wrong, "verbose": 0})
    with pytest.raises(ValueError, match=r"must be 4-D, .*got shape \(8, 8, 1\) and dtype float32"):
        function(**{**kwargs, "inputs": IMAGES[0], "verbose": 0})
    with pytest.raises(TypeError, match=r"got dtype bool \(shape \(5, 8, 8, 1\)\)"):
        function(**{**kwargs, "inputs": IMAGES > 0.5, "verbose": 0})
    nan = IMAGES.copy()
    nan[3, 2, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"contain NaN or infinite values \(first in image 3"):
        function(**{**kwargs, "inputs": nan, "verbose": 0})


def test_ten_crop_checks_channels_of_full_size_images():
    with pytest.raises(ValueError, match=r"channel count 3 but the model expects 1"):
        predict_ten_crop(MODEL, np.zeros((2, 10, 10, 3), "float32"), SIZE, verbose=0)
    one_by_one = predict_ten_crop(MODEL, LARGE, SIZE, batch_size=1, verbose=0)
    np.testing.assert_allclose(one_by_one, predict_ten_crop(MODEL, LARGE, SIZE, verbose=0), rtol=1e-6)
