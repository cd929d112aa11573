"""zfkeras: Zeiler & Fergus (2014) for Keras.

The public API is small and imported lazily, so that ``import zfkeras``
(and the ``zfkeras`` command's ``--help``) does not pay for importing
TensorFlow until a name is used. Everything else lives in submodules:
`zfkeras.layers`, `zfkeras.models` (ablations), `zfkeras.data`,
`zfkeras.deconv`, `zfkeras.utils.validation`, ...; `zfkeras.plot` draws
any result (and is reached as an attribute too).
"""

from zfkeras.utils.lazy import lazy_exports

__version__ = "0.3.0"

_EXPORTS = {
    # layers and constraint
    "MaxPoolWithArgmax": "zfkeras.layers",
    "MaxUnpool2D": "zfkeras.layers",
    "LocalResponseNormalization": "zfkeras.layers",
    "FilterRMSClip": "zfkeras.keras_objects.constraints",
    # model builders
    "zfnet": "zfkeras.models",
    "zfnet_small": "zfkeras.models",
    "alexnet_dense": "zfkeras.models",
    # the deconvnet and saving
    "Deconvnet": "zfkeras.deconv",
    "load_model": "zfkeras.keras_objects.saving",
    # the tools built on them: one entry point per method
    "top_activations": "zfkeras.methods.top_activations",
    "features": "zfkeras.methods.features",
    "occlusion": "zfkeras.methods.occlusion",
    "grad_cam": "zfkeras.methods.grad_cam",
    "feature_visualization": "zfkeras.methods.feature_visualization",
    "faithfulness": "zfkeras.measures.faithfulness",
    "RunFolder": "zfkeras.runs",
    # the method contract: one call, one result, one unit selector
    "explain": "zfkeras.methods.explain",
    "Explanation": "zfkeras.methods.explanation",
    "Unit": "zfkeras.methods.unit",
    # what bad input raises
    "InputError": "zfkeras.utils.errors",
}

__all__ = sorted(_EXPORTS)

# Subpackages reached as attributes (``zfkeras.plot.explanations(...)``
# after a plain ``import zfkeras``): imported on first use, not in __all__.
_SUBPACKAGES = ("plot",)

_getattr, _dir = lazy_exports(__name__, globals(), _EXPORTS)


def __getattr__(name):
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    return _getattr(name)


def __dir__():
    return sorted(set(_dir()) | set(_SUBPACKAGES))


def _show_results_in_notebooks():
    """In IPython (Jupyter), results show themselves: `zfkeras.plot.inline`."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    if shell is not None and hasattr(shell, "display_formatter"):
        import importlib

        # by name, not an import statement: the report's cache follows import
        # statements, and how a notebook displays results changes no figure
        importlib.import_module("zfkeras.plot.inline").register_ipython(shell)


_show_results_in_notebooks()
