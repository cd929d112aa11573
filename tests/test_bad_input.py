"""Every public entry point refuses bad input with `InputError`, quoting
what it received.

The entry points are discovered from ``zfkeras.__all__``
(`tests/entry_points_helpers.py`); the bad values come from a table keyed
by parameter name (`BAD`), applied to every entry point that has that
parameter, so that an entry point added later is fed bad input without
editing this file. Each bad value comes with the part of it the message
must quote (``repr`` of the value, of the shape received, ...).
"""

import contextlib
import dataclasses
import inspect

import keras
import numpy as np
import pytest

import zfkeras
from tests.entry_points_helpers import (
    ENTRY_POINTS, GOOD, IMAGES, MAPS, SIZE, call_arguments, context,
)
from zfkeras.utils.errors import InputError, InputTypeError


@dataclasses.dataclass
class Bad:
    """A bad value of a parameter and what the message must quote."""

    case: str
    value: object  # or a function of the model's `Context`
    quoted: str
    error: type = InputError
    of_the_model: bool = False  # bad only for a model (a layer it lacks): fed where there is one

    def make(self, ctx):
        return self.value(ctx) if callable(self.value) else self.value


def _nan_images():
    nan = IMAGES.copy()
    nan[3, 2, 2, 0] = np.nan
    return nan


BAD = {
    "model": [Bad("not-a-model", "not a model", "'not a model'", InputTypeError)],
    "inputs": [
        Bad("wrong-rank", IMAGES[0], repr(IMAGES[0].shape)),  # one image without its batch axis
        Bad("wrong-size", np.zeros((5, SIZE, SIZE + 1, 1), "float32"), repr((SIZE, SIZE + 1, 1))),
        Bad("nan", _nan_images(), repr(IMAGES.shape)),
    ],
    "layer": [Bad("unknown", lambda c: c.prefix + "no_such_layer", "'no_such_layer'", of_the_model=True),
              Bad("not-a-name", 3, "3", InputTypeError)],
    "layers": [Bad("unknown", lambda c: [c.prefix + "conv", c.prefix + "no_such_layer"], "'no_such_layer'",
                   of_the_model=True)],
    "channel": [Bad("out-of-range", 999, "999", of_the_model=True), Bad("negative", -1, "-1")],
    "position": [Bad("out-of-range", (99, 99), "(99, 99)", of_the_model=True)],
    "batch_size": [Bad("string", "2", "'2'", InputTypeError), Bad("fraction", 2.5, "2.5", InputTypeError)],
    "verbose": [Bad("seven", 7, "7")],
    "k": [Bad("negative", -3, "-3")],
    "size": [Bad("negative", -3, "-3")],
    "stride": [Bad("negative", -3, "-3")],
    "maps": [Bad("wrong-rank", MAPS[0], repr(MAPS[0].shape)),  # one map without its batch axis
             Bad("wrong-count", MAPS[:3], repr(MAPS[:3].shape))],  # 3 maps for 5 targets
    "attributions": [Bad("not-the-maps-images", np.zeros((5, SIZE, SIZE - 1, 1), "float32"),
                         repr((5, SIZE, SIZE - 1, 1)))],  # per-channel attributions of other images than the maps
    "explanation": [Bad("wrong-shape", MAPS[:, :, :-1], repr(MAPS[:, :, :-1].shape)),  # not the images' size
                    Bad("unknown-method", "no_such_method", "'no_such_method'"),
                    Bad("not-an-explanation", 2.5, "2.5", InputTypeError)],
    "unit": [Bad("unknown-layer", lambda c: zfkeras.Unit(c.prefix + "no_such_layer", 1), "'no_such_layer'",
                 of_the_model=True),
             Bad("channel-out-of-range", lambda c: zfkeras.Unit(c.prefix + "conv", 999), "999", of_the_model=True),
             Bad("position-out-of-range", lambda c: zfkeras.Unit(c.prefix + "conv", 1, (99, 99)), "(99, 99)",
                 of_the_model=True),
             Bad("not-a-unit", 2.5, "2.5", InputTypeError)],
    "labels": [Bad("out-of-range", [99] * 5, "99", of_the_model=True)],
    "targets": [Bad("out-of-range", [99] * 5, "99", of_the_model=True)],
    "classes": [Bad("out-of-range", [99] * 5, "99", of_the_model=True)],
    "method": [Bad("unknown", "no_such_method", "'no_such_method'")],
    "metric": [Bad("unknown", "no_such_metric", "'no_such_metric'")],
    "pool": [Bad("unknown", "median", "'median'")],
    "grid": [Bad("negative", (-1, 2), "-1")],
    "strategy": [Bad("not-a-strategy", "mirrored", "'mirrored'", InputTypeError)],
    "interpolation": [Bad("unknown", "cubic-ish", "'cubic-ish'")],
    "unpooling": [Bad("unknown", "fast", "'fast'")],
    "image_shape": [Bad("negative", (-8, 8), "-8")],
    "path": [Bad("missing", lambda c: "/nonexistent/zfkeras-test", "'/nonexistent/zfkeras-test'")],
    "input_shape": [Bad("not-an-image", (8, 8), "(8, 8)")],
    "num_classes": [Bad("negative", -5, "-5")],
    "radius": [Bad("negative", -1.0, "-1.0")],
    "pool_size": [Bad("negative", -1, "-1")],
    "strides": [Bad("negative", -1, "-1")],
    "padding": [Bad("unknown", "full", "'full'")],
    "output_size": [Bad("negative", (-2, 4), "-2")],
}

# Exported names that take no input, and why (asserted below).
NO_INPUT = {"InputError": "the exception bad input raises"}
# Optional parameters an entry point reads only in another mode, and that mode: given in this one,
# even a good value is refused, naming the parameter (asserted below).
READ_ONLY_IN = {("faithfulness", "size"): "metric='occlusion_drop'",
                ("faithfulness", "unit"): "metric='occlusion_drop'"}
# Parameters kept only for a deprecated calling form, and the arguments of that form: their bad
# values are fed in it (with its DeprecationWarning), and must still be refused.
OLD_FORM = {("Deconvnet.project", "channel"): lambda c: {"unit": c.prefix + "conv"},
            ("Deconvnet.project", "position"): lambda c: {"unit": c.prefix + "conv", "channel": 1}}


def _has_model(entry):
    return entry.method is not None or "model" in entry.signature()


CASES = [(name, parameter, bad) for name, entry in sorted(ENTRY_POINTS.items())
         for parameter in entry.signature() if parameter in BAD and (name, parameter) not in READ_ONLY_IN
         for bad in BAD[parameter] if _has_model(entry) or not bad.of_the_model]


def test_every_entry_point_is_fed_bad_input():
    fed = {name for name, _, _ in CASES}
    assert set(ENTRY_POINTS) - fed == set(NO_INPUT)
    assert issubclass(zfkeras.InputError, ValueError) and zfkeras.InputError is InputError  # NO_INPUT's reason
    assert not _parameters(zfkeras.InputError)


def _parameters(value):
    try:
        return inspect.signature(value).parameters
    except ValueError:  # a builtin's constructor (an exception's message) has no signature to read
        return {}


@pytest.mark.parametrize("name, parameter, bad", CASES, ids=[f"{n}-{p}-{b.case}" for n, p, b in CASES])
def test_bad_input_raises_input_error_quoting_it(name, parameter, bad):
    entry, ctx = ENTRY_POINTS[name], context("functional")
    kwargs = call_arguments(entry, ctx)
    if "verbose" in entry.signature():
        kwargs["verbose"] = 0
    old_form = OLD_FORM.get((name, parameter))
    if old_form is not None:
        kwargs.update(old_form(ctx))
    kwargs[parameter] = bad.make(ctx)
    with pytest.warns(DeprecationWarning) if old_form else contextlib.nullcontext():
        with pytest.raises(bad.error) as error:
            entry.bind(ctx)(**kwargs)
    assert bad.quoted in str(error.value), f"{name}({parameter}=...): the message does not quote {bad.quoted}"


@pytest.mark.parametrize("name, parameter", sorted(READ_ONLY_IN))
def test_parameters_of_another_mode_are_refused_in_this_one(name, parameter):
    entry, ctx = ENTRY_POINTS[name], context("functional")
    assert entry.signature()[parameter].default is None
    kwargs = {**call_arguments(entry, ctx), "verbose": 0}
    function = entry.bind(ctx)
    function(**kwargs)  # this mode works without it
    with pytest.raises(InputError, match=rf"does not use {parameter}\b"):
        function(**kwargs, **{parameter: GOOD[parameter](ctx)})


def test_the_boundaries_pass_on_the_input_error_raised_at_the_source(tmp_path):
    # explore's upload reader and model check, export's occluder: no wrapper turns a ValueError into one
    from zfkeras.explore.cli import check_model
    from zfkeras.explore.uploads import cut
    from zfkeras.runs.sources import read_image_file

    class Source:
        @staticmethod
        def read_image(path):
            return read_image_file(path, SIZE, SIZE, 1)

    with pytest.raises(InputError, match=r"cannot read image file the upload: ") as error:
        cut(Source(), b"\x89PNG\r\n\x1a\n" + b"not the rest of a png", ".png")
    assert "zfkeras-upload-" not in str(error.value)   # the server's temporary file is not named
    inputs = keras.Input((SIZE, SIZE, 1))
    upsampled = keras.layers.UpSampling2D(name="up")(keras.layers.Conv2D(2, 3, name="conv")(inputs))
    unmirrorable = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(upsampled)), name="up_model")
    with pytest.raises(InputError, match=r"Deconvnet cannot mirror layer 'up' of type UpSampling2D"):
        check_model(unmirrorable)
    from zfkeras.export.archive import _occluder

    with pytest.raises(InputError, match=r"the occluding square \(size=9\) is larger than the image \(8, 8\)"):
        _occluder(context("functional").model, ["conv"], 9, 1, "conv", softmax=False)
