"""Which ``project_*`` and ``explain_*`` signatures an export serves, from the method registry.

Plain Python (no TensorFlow), so the export record (`zfkeras.export.record`)
can name them without loading TensorFlow.
"""

from zfkeras.methods.registry import get_method, registered_methods
from zfkeras.utils.errors import InputError

__all__ = ["project_signatures", "explain_signatures", "explain_record", "explainable_methods",
           "DEFAULT_EXPLAIN_LEFT_OUT"]

# Methods with an in-graph form that an export leaves out unless asked for
# (``explain_methods=`` / ``zfkeras export --explain``): the uniform LRP rules
# a composite or lrp_epsilon covers (each signature costs export time and
# SavedModel size; docs/EXPORT.md, "Cost").
DEFAULT_EXPLAIN_LEFT_OUT = ("lrp_0", "lrp_gamma", "lrp_alpha1_beta0", "lrp_alpha2_beta1")


def project_signatures():
    """The ``project`` signatures: signature name -> `Deconvnet` backward rule.

    One per deterministic method of the registry
    (`zfkeras.methods.registry`) that runs a backward rule
    (``Method.backward_rule``): ``project`` for the deconvnet,
    ``project_<method>`` for the others (``project_guided_backprop``,
    ``project_gradient``, and any such method registered later). TF Serving
    and other SavedModel clients must feed every input of a signature, so a
    ``method`` input would break every existing ``project`` request;
    separate signatures keep ``project`` (the deconvnet) as it was.

    Returns:
        dict, in registration order.
    """
    return {("project" if m.name == "deconvnet" else f"project_{m.name}"): m.backward_rule
            for m in registered_methods(deterministic=True) if m.backward_rule}


def explainable_methods():
    """Names of the methods an ``explain_*`` signature can serve: the
    deterministic methods of the registry with an in-graph form
    (``Method.graph``), in registration order."""
    return tuple(m.name for m in registered_methods(deterministic=True) if m.graph is not None)


def explain_signatures(methods=None):
    """The ``explain`` signatures: signature name -> method name.

    Args:
        methods: None (every `explainable_methods` but
            `DEFAULT_EXPLAIN_LEFT_OUT`: a method registered later with a
            ``Method.graph`` gets its signature), ``"all"`` (every one),
            or a list of method names (empty: none).

    Returns:
        dict ``{"explain_<method>": method}``, in registration order.

    Raises:
        InputError: a name that is not an explainable method.
    """
    available = explainable_methods()
    if methods is None:
        chosen = [m for m in available if m not in DEFAULT_EXPLAIN_LEFT_OUT]
    elif methods == "all":
        chosen = list(available)
    else:
        if isinstance(methods, str) or not hasattr(methods, "__iter__"):
            raise InputError(f"explain_methods must be None, 'all' or a list of method names; got {methods!r}")
        methods = list(methods)
        unknown = [m for m in methods if m not in available]
        if unknown:
            raise InputError(f"explain_methods: {', '.join(map(repr, unknown))} cannot be exported; methods with "
                             f"an explain signature (deterministic, in-graph): {', '.join(available)}")
        chosen = [m for m in available if m in methods]
    return {f"explain_{name}": name for name in chosen}


def explain_record(methods=None):
    """The ``explain`` signatures with the options each serves (the method's
    defaults), JSON-friendly: ``{signature: {"method": name, "options": {...}}}``."""
    return {signature: {"method": name, "options": {k: _plain(v) for k, v in get_method(name).options.items()}}
            for signature, name in explain_signatures(methods).items()}


def _plain(value):
    """``value`` when JSON writes it as itself, else its repr."""
    return value if value is None or isinstance(value, (str, int, float, bool)) else repr(value)
