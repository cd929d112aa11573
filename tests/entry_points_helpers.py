"""The public entry points, discovered from ``zfkeras.__all__``, and the
arguments to call them with (scikit-learn's ``estimator_checks`` habit:
no hand list of functions, a table of arguments keyed by parameter name).

An entry point is a function of ``zfkeras.__all__``, an exported class, or a
public method of an exported class that is built from a model
(``Deconvnet.project``). `call_arguments` gives the arguments of a working
call, looked up by parameter name in `GOOD` (required parameters) and
`SMALL` (defaults too large for the tiny test data); an entry point that
needs a parameter neither table knows fails the tests that call it, with a
message saying to add it, so that a new entry point is never skipped
silently.
"""

import dataclasses
import inspect
from collections.abc import Mapping

import keras
import numpy as np

import zfkeras

SIZE = 8  # the test models take (SIZE, SIZE, 1) images
IMAGES = np.random.default_rng(0).uniform(0, 1, (5, SIZE, SIZE, 1)).astype("float32")
TARGETS = np.array([0, 1, 2, 0, 1])
MAPS = np.random.default_rng(1).uniform(0, 1, (5, SIZE, SIZE)).astype("float32")


def _layers():
    return [
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, activation="softmax", name="fc"),
    ]


def sequential_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((SIZE, SIZE, 1)), *_layers()], name="tiny_sequential")


def functional_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = inputs
    for layer in _layers():
        x = layer(x)
    return keras.Model(inputs, x, name="tiny_functional")


def nested_model():
    """A classifier on a nested base model (a fine-tuned backbone): its layers are ``base/conv``, ..."""
    keras.utils.set_random_seed(0)
    conv, pool, flat, fc = _layers()
    base_inputs = keras.Input((SIZE, SIZE, 1))
    base = keras.Model(base_inputs, pool(conv(base_inputs)), name="base")
    inputs = keras.Input((SIZE, SIZE, 1))
    return keras.Model(inputs, fc(flat(base(inputs))), name="tiny_nested")


@dataclasses.dataclass
class Context:
    """A model and how its layers are named (``prefix`` + ``conv``)."""

    model: keras.Model
    prefix: str = ""


_MODELS = {}


def context(kind):
    """The (cached) `Context` of a model kind: "sequential", "functional" or "nested"."""
    if kind not in _MODELS:
        build = {"sequential": sequential_model, "functional": functional_model, "nested": nested_model}[kind]
        _MODELS[kind] = Context(build(), "base/" if kind == "nested" else "")
    return _MODELS[kind]


MODEL_KINDS = ("sequential", "functional", "nested")

# Values of required parameters, by name: a working call on any of the models (and the
# value a renamed keyword's new name is given in test_calling_convention).
GOOD = {
    "model": lambda c: c.model,
    "inputs": lambda c: IMAGES,
    "layer": lambda c: c.prefix + "conv",
    "layers": lambda c: [c.prefix + "conv"],
    "channel": lambda c: 1,
    "position": lambda c: (1, 1),
    "size": lambda c: 3,
    "stride": lambda c: 2,
    "maps": lambda c: MAPS,
    "explanation": lambda c: MAPS,  # faithfulness: maps of one's own (an Explanation and a name also work)
    "unit": lambda c: zfkeras.Unit(c.prefix + "conv", 1),
    "method": lambda c: "grad_cam",  # explain's method, and the method an Explanation records
    "attributions": lambda c: None,  # an Explanation of maps only (Grad-CAM's, occlusion's)
    "options": lambda c: {},
    "channel_rule": lambda c: "the maps as given",
    "targets": lambda c: TARGETS,
    "labels": lambda c: TARGETS,
    "classes": lambda c: TARGETS,
    "baseline": lambda c: 0.5,  # the value occluded or deleted pixels take
    "path": lambda c: "/nonexistent/zfkeras-test",
    "objectives": lambda c: [zfkeras.Unit(c.prefix + "conv", 1), 0],  # a feature map and a class
}
# Optional parameters whose default does not fit the five test images.
SMALL = {"k": lambda c: 2, "crops": lambda c: 2}
# Optional parameters given to one entry point only (another reads the same name otherwise).
SMALL_FOR = {"feature_visualization": {"steps": lambda c: 2}}


@dataclasses.dataclass
class EntryPoint:
    """One public callable: ``name`` as users write it, and how to get it for a model."""

    name: str
    owner: object  # the exported function or class
    method: str = None  # a method of the class built from a model

    def signature(self):
        target = getattr(self.owner, self.method) if self.method else self.owner
        parameters = dict(_parameters_or_empty(target))
        parameters.pop("self", None)
        return parameters

    def bind(self, ctx):
        """The callable: the function, the class, or the method of an instance built from ``ctx``."""
        if self.method is None:
            return self.owner
        return getattr(self.owner(**call_arguments(EntryPoint(self.owner.__name__, self.owner), ctx)),
                       self.method)

    @property
    def takes_images(self):
        return "inputs" in self.signature()


def _public_methods(cls):
    return sorted(name for name, member in vars(cls).items()
                  if inspect.isfunction(member) and not name.startswith("_"))


def discover():
    """Every entry point of ``zfkeras.__all__``, by name."""
    found = {}
    for name in zfkeras.__all__:
        value = getattr(zfkeras, name)
        if not callable(value):
            continue
        found[name] = EntryPoint(name, value)
        if inspect.isclass(value) and "model" in _parameters_or_empty(value):
            for method in _public_methods(value):
                found[f"{name}.{method}"] = EntryPoint(f"{name}.{method}", value, method)
    return found


def _parameters_or_empty(value):
    try:
        return inspect.signature(value).parameters
    except (TypeError, ValueError):  # builtins (an exception class) have none to inspect
        return {}


def call_arguments(entry, ctx):
    """Keyword arguments of a working call of ``entry`` on ``ctx``'s model."""
    kwargs = {}
    for name, parameter in entry.signature().items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            assert name in GOOD, (
                f"{entry.name} has a required parameter {name!r} that tests/entry_points_helpers.py "
                "has no value for: add one to GOOD"
            )
            kwargs[name] = GOOD[name](ctx)
        elif name in SMALL_FOR.get(entry.name, {}):
            kwargs[name] = SMALL_FOR[entry.name][name](ctx)
        elif name in SMALL:
            kwargs[name] = SMALL[name](ctx)
        elif name == "inputs":  # optional images (feature visualisation's spectrum): given, as users do
            kwargs[name] = GOOD[name](ctx)
    return kwargs


def assert_same_result(got, expected):
    """The results of two calls are equal: arrays, mappings, dataclasses (compared field by field)."""
    if isinstance(expected, Mapping):  # a dict, or a result's read-only details
        assert got.keys() == expected.keys()
        for key in expected:
            assert_same_result(got[key], expected[key])
    elif hasattr(expected, "__dataclass_fields__"):
        for field in expected.__dataclass_fields__:
            assert_same_result(getattr(got, field), getattr(expected, field))
    elif isinstance(expected, (list, tuple)) and not isinstance(expected, str):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_same_result(g, e)
    else:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))



ENTRY_POINTS = discover()
IMAGE_ENTRY_POINTS = sorted(name for name, entry in ENTRY_POINTS.items() if entry.takes_images)
