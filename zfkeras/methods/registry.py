"""The one registry of explanation methods.

`zfkeras.explain` runs them; the report's method comparison, the explorer's
method menus, the export's signatures and `faithfulness` read the registry,
so a method registered here appears in all of them with no other edit
(docs/ARCHITECTURE.md, "Adding a method").

A method is a `Method` record around one function::

    function(model, images, targets, *, batch_size, verbose, **options)
        -> (attributions or None, maps)

``images`` are checked float32 ``(N, H, W, C)``; ``targets`` is int64
``(N,)`` class indices or a `zfkeras.Unit` (only when ``Method.units``);
``options`` are the method's own, defaults filled in. It returns float32
``(N, H, W, C)`` attributions (or None) and ``(N, H, W)`` maps.

Plain Python: importing the registry imports no TensorFlow (the built-in
methods import their engines when they run).
"""

import dataclasses
import sys
import types
from typing import Any, Callable, Mapping, Optional

from zfkeras.utils.errors import InputError, InputTypeError

__all__ = ["Method", "register_method", "unregister_method", "get_method", "method_names", "registered_methods"]

# The channel rule of the backward rules: maps are the sum over channels of |attribution|.
SUM_ABS = "sum over channels of |attribution|"

# Captum's taxonomy, by what a method reads of the model.
KINDS = ("backward rule", "class activation map", "perturbation", "relevance propagation",
         "path integral", "noise average")


@dataclasses.dataclass(frozen=True)
class Method:
    """A registered explanation method.

    Attributes:
        name: the name `zfkeras.explain` takes (``"grad_cam"``).
        function: computes it (module docstring).
        summary: one line for menus, tables and ``help``.
        kind: one of `KINDS`.
        units: it explains a `zfkeras.Unit` as well as a class.
        signed: its maps can be negative (a diverging colour map shows them).
        channel_rule: how its ``(N, H, W)`` maps come from the channels.
        options: its own options and their defaults.
        deterministic: the same inputs give the same maps (export needs it).
        backward_rule: the name of the `zfkeras.Deconvnet` backward rule it
            runs (``Deconvnet.project(method=...)``, the export's
            ``project_*`` signatures), or None.
        graph: None, or the method as TensorFlow ops for a class, which the
            export traces into its ``explain_<name>`` signature (only for a
            deterministic method): ``graph(model, **options) -> fn``, where
            ``fn(images, classes) -> (attributions, maps)`` takes float32
            ``(N, H, W, C)`` and int32 ``(N,)`` tensors and returns what
            ``function`` returns for them, as float32 tensors. It may build
            nothing that needs zfkeras when the SavedModel is loaded (no
            `tf.py_function`, no Keras custom objects).
    """

    name: str
    function: Callable
    summary: str
    kind: str
    units: bool
    signed: bool
    channel_rule: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    deterministic: bool = True
    backward_rule: Optional[str] = None
    graph: Optional[Callable] = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise InputError(f"a method's name must be an identifier-like str; got {self.name!r}")
        if not callable(self.function):
            raise InputTypeError(f"method {self.name!r}: function must be callable; got {self.function!r}")
        if self.graph is not None and not callable(self.graph):
            raise InputTypeError(f"method {self.name!r}: graph must be None or callable; got {self.graph!r}")
        if self.kind not in KINDS:
            raise InputError(f"method {self.name!r}: kind must be one of {KINDS}; got {self.kind!r}")
        object.__setattr__(self, "options", types.MappingProxyType(dict(self.options)))


_METHODS = {}

# The built-in methods' modules, in the order menus and tables list them,
# whichever of them is imported first; other methods follow, as registered.
BUILTIN_MODULES = ("zfkeras.methods.builtin", "zfkeras.methods.attribution", "zfkeras.methods.lrp.methods")


_RANKS = {}  # name -> the index in BUILTIN_MODULES of the module that registered it


def _rank(method):
    return _RANKS.get(method.name, len(BUILTIN_MODULES))


def register_method(method, replace=False):
    """Adds ``method`` (a `Method`) to the registry and returns it.

    Raises:
        InputError: a method of that name exists and not ``replace``.
    """
    if not isinstance(method, Method):
        raise InputTypeError(f"register_method takes a zfkeras.methods.registry.Method; got {method!r}")
    _builtins()  # the built-ins first: they keep their names and come first in every menu
    if method.name in _METHODS and not replace:
        raise InputError(f"a method named {method.name!r} is already registered; pass replace=True")
    _METHODS[method.name] = method
    caller = sys._getframe(1).f_globals.get("__name__", "")  # who registers: a built-in module or not
    if caller in BUILTIN_MODULES:
        _RANKS[method.name] = BUILTIN_MODULES.index(caller)
    else:
        _RANKS.pop(method.name, None)
    return method


def unregister_method(name):
    """Removes the method called ``name`` (a test's temporary method, say)."""
    _builtins()
    if name not in _METHODS:
        raise InputError(f"no method named {name!r} is registered; registered: {', '.join(_METHODS)}")
    del _METHODS[name]


def get_method(name):
    """The `Method` called ``name``.

    Raises:
        InputError: no such method (the message lists the registered ones).
    """
    _builtins()
    if isinstance(name, Method):
        return name
    if not isinstance(name, str) or name not in _METHODS:
        raise InputError(f"method must be one of {', '.join(repr(m) for m in _METHODS)}; got {name!r}")
    return _METHODS[name]


def registered_methods(units=None, deterministic=None):
    """The registered `Method` records: the built-ins in a fixed order, then
    the others in registration order.

    Args:
        units: True: only those that explain units; False: only those that
            do not; None: all.
        deterministic: likewise, for `Method.deterministic`.
    """
    _builtins()
    return tuple(m for m in sorted(_METHODS.values(), key=_rank)  # a stable sort keeps registration order
                 if (units is None or m.units == units)
                 and (deterministic is None or m.deterministic == deterministic))


def method_names(units=None, deterministic=None):
    """Names of `registered_methods` (same arguments)."""
    return tuple(m.name for m in registered_methods(units, deterministic))


_LOADED = []


def _builtins():
    """Registers the built-in methods once, on first use of the registry."""
    if not _LOADED:
        _LOADED.append(True)
        from zfkeras.methods import builtin  # noqa: F401  (registers on import)
