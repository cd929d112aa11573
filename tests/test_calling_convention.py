"""One calling convention, checked on every entry point of ``zfkeras.__all__``
that takes images (discovered, not listed: `tests/entry_points_helpers.py`),
each on a ``keras.Sequential``, a functional model and a model with a nested
base: the names (``model, inputs``, ``layer`` or ``layers``, one
``batch_size`` default, Keras' ``verbose``), the shared image check, an
`InputError` for bad input and ``verbose``. Renamed keywords (discovered
from `zfkeras.utils.compat.renamed_arguments`) still work for one release
and warn, naming the new one."""

import re
import warnings

import numpy as np
import pytest

import zfkeras
from tests.entry_points_helpers import (
    ENTRY_POINTS, GOOD, IMAGE_ENTRY_POINTS, IMAGES, MODEL_KINDS, SIZE, assert_same_result, call_arguments,
    context,
)
from zfkeras.utils.errors import InputError, InputTypeError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE

CASES = [(name, kind) for name in IMAGE_ENTRY_POINTS for kind in MODEL_KINDS]
PREVIOUS_NAMES = {"data", "images", "dataset", "progress"}  # the names of release 0.1, gone from signatures


def _call(name, kind, **changes):
    entry, ctx = ENTRY_POINTS[name], context(kind)
    kwargs = {**call_arguments(entry, ctx), "verbose": 0, **changes}
    return entry.bind(ctx)(**kwargs)


def test_discovery_finds_every_tool_that_takes_images():
    # a lower bound: the entry points known when this test was written (new ones are found too)
    assert {"top_activations", "features", "occlusion", "grad_cam", "faithfulness",
            "Deconvnet.project"} <= set(IMAGE_ENTRY_POINTS)


@pytest.mark.parametrize("name", IMAGE_ENTRY_POINTS)
def test_the_same_words_and_one_batch_size_default(name):
    entry = ENTRY_POINTS[name]
    parameters = entry.signature()
    first = ["inputs"] if entry.method else ["model", "inputs"]
    optimises = parameters["inputs"].default is not parameters["inputs"].empty
    if optimises:  # optional images (feature visualisation's spectrum) come after what is optimised
        first = first[:-1]
    assert list(parameters)[:len(first)] == first
    # images explained: 64 per call; images optimised: None (all at once) or 64
    assert parameters["batch_size"].default in ((DEFAULT_BATCH_SIZE, None) if optimises else (DEFAULT_BATCH_SIZE,))
    assert DEFAULT_BATCH_SIZE == 64
    assert parameters["verbose"].default == "auto"
    assert not PREVIOUS_NAMES & set(parameters)
    assert len({"layer", "layers"} & set(parameters)) <= 1  # one layer is `layer`, one or several `layers`


def _layer_parameter(name):
    """``"layer"`` or ``"layers"``: the parameter naming the entry point's layers, or None."""
    given = {"layer", "layers"} & set(ENTRY_POINTS[name].signature())
    return given.pop() if given else None


@pytest.mark.parametrize("name, kind", [(name, kind) for name, kind in CASES if _layer_parameter(name)])
def test_the_layer_names_of_the_model(name, kind):
    which, ctx = _layer_parameter(name), context(kind)
    qualified = ctx.prefix + "conv"
    _call(name, kind, **{which: qualified})  # one name: `layer`, or `layers` given one
    if which == "layers":
        _call(name, kind, layers=[qualified, ctx.prefix + "pool"])
    else:  # `layer` is exactly one
        with pytest.raises(InputTypeError) as error:
            _call(name, kind, layer=[qualified])
        assert repr([qualified]) in str(error.value)
    unknown = ctx.prefix + "no_such_layer"
    with pytest.raises(InputError) as error:
        _call(name, kind, **{which: unknown if which == "layer" else [unknown]})
    assert repr(unknown) in str(error.value)
    if kind == "nested":  # the inner name alone is not a layer of the outer model
        with pytest.raises(InputError) as error:
            _call(name, kind, **{which: "conv" if which == "layer" else ["conv"]})
        assert "'conv'" in str(error.value)


# The arguments that put an entry point in the mode that reads its ``unit`` (others refuse one).
UNIT_MODE = {"faithfulness": {"metric": "occlusion_drop", "size": 3}}


@pytest.mark.parametrize("name, kind", [(name, kind) for name, kind in CASES
                                        if "unit" in ENTRY_POINTS[name].signature()])
def test_the_layer_names_of_the_model_in_a_unit(name, kind):
    ctx = context(kind)
    mode = UNIT_MODE.get(name, {})
    _call(name, kind, unit=zfkeras.Unit(ctx.prefix + "conv", 1), **mode)  # the qualified name works
    unknown = ctx.prefix + "no_such_layer"
    with pytest.raises(InputError) as error:
        _call(name, kind, unit=zfkeras.Unit(unknown, 1), **mode)
    assert repr(unknown) in str(error.value)
    if kind == "nested":  # the inner name alone is not a layer of the outer model
        with pytest.raises(InputError) as error:
            _call(name, kind, unit=zfkeras.Unit("conv", 1), **mode)
        assert "'conv'" in str(error.value)


@pytest.mark.parametrize("name, kind", CASES)
def test_every_entry_point_uses_the_shared_image_check(name, kind):
    model_name = context(kind).model.name
    wrong = np.zeros((5, SIZE, SIZE + 1, 1), "float32")
    with pytest.raises(InputError, match=rf"have width {SIZE + 1} but the model expects {SIZE} \(got images "
                                         rf"shaped \(8, 9, 1\); model '{model_name}' takes"):
        _call(name, kind, inputs=wrong)
    with pytest.raises(InputError, match=r"must be 4-D, .*got shape \(8, 8, 1\) and dtype float32"):
        _call(name, kind, inputs=IMAGES[0])
    with pytest.raises(InputTypeError, match=r"got dtype bool \(shape \(5, 8, 8, 1\)\)"):
        _call(name, kind, inputs=IMAGES > 0.5)
    nan = IMAGES.copy()
    nan[3, 2, 2, 0] = np.nan
    with pytest.raises(InputError, match=r"contain NaN or infinite values \(first in image 3 of the batch of shape "
                                         r"\(5, 8, 8, 1\)"):
        _call(name, kind, inputs=nan)


@pytest.mark.parametrize("name, kind", CASES)
def test_verbose_is_keras_verbose(name, kind, capsys):
    _call(name, kind, verbose=0)
    assert capsys.readouterr().out == ""
    _call(name, kind, verbose=1)
    bar = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)  # without colours
    assert re.search(r"\b(\d+)/\1\b", bar), bar  # a Keras Progbar that reached its target
    _call(name, kind, verbose="auto")  # a few steps: no bar
    assert capsys.readouterr().out == ""
    for bad in (7, "loud"):
        with pytest.raises(InputError, match=rf"verbose must be one of 0, 1, 'auto'; got {re.escape(repr(bad))}"):
            _call(name, kind, verbose=bad)


# Every rename the entry points still accept: (entry point, old name, new name).
RENAMES = sorted(
    (name, old, new)
    for name, entry in ENTRY_POINTS.items()
    for old, new in getattr(entry.bind(context("functional")) if entry.method else entry.owner,
                            "renamed_arguments", {}).items()
)
# The old value that means the new one, where the old keyword took other values.
OLD_VALUES = {("progress", "verbose"): (False, 0)}


@pytest.mark.parametrize("name, old, new", RENAMES, ids=[f"{n}-{o}" for n, o, _ in RENAMES])
def test_old_names_warn_naming_the_new_one_and_give_the_same_result(name, old, new):
    entry, ctx = ENTRY_POINTS[name], context("functional")
    function = entry.bind(ctx)
    kwargs = {**call_arguments(entry, ctx), "verbose": 0}
    if new not in kwargs:
        assert new in GOOD, f"add a value of {new!r} to GOOD to test the rename {old!r} -> {new!r}"
        kwargs[new] = GOOD[new](ctx)
    old_value, new_value = OLD_VALUES.get((old, new), (kwargs[new], kwargs[new]))
    kwargs[new] = new_value
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names do not warn
        expected = function(**kwargs)
    old_kwargs = {k: v for k, v in kwargs.items() if k != new}
    old_kwargs[old] = old_value
    with pytest.warns(DeprecationWarning, match=rf"the argument '{old}' is deprecated .*; use '{new}'"):
        got = function(**old_kwargs)
    assert_same_result(got, expected)
    with pytest.raises(InputTypeError, match=rf"got both '{old}' \(deprecated\) and '{new}'; pass only '{new}'"):
        function(**{**old_kwargs, new: kwargs[new]})


def test_ten_crop_checks_channels_of_full_size_images():
    # predict_ten_crop takes images larger than the crops the model takes: the check compares channels only
    from zfkeras.measures.evaluation import predict_ten_crop

    model, large = context("functional").model, np.random.default_rng(1).uniform(0, 1, (5, SIZE + 2, SIZE + 2, 1))
    with pytest.raises(InputError, match=r"channel count 3 but the model expects 1"):
        predict_ten_crop(model, np.zeros((2, SIZE + 2, SIZE + 2, 3), "float32"), SIZE, verbose=0)
    one_by_one = predict_ten_crop(model, large, SIZE, batch_size=1, verbose=0)
    np.testing.assert_allclose(one_by_one, predict_ten_crop(model, large, SIZE, verbose=0), rtol=1e-6)
