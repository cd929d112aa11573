"""Per-model caches: traced engines kept with the model, gone with it.

Tools that trace graphs for a model (occlusion's engines, the deconvnet
`zfkeras.explain` runs) keep them so that the next call on the same model
does not trace again. The cache is a plain dict held by the model itself,
set past Keras' attribute tracking (it is neither a layer, a weight nor
saved), so it is collected with the model. A module-level
``WeakKeyDictionary`` keyed by the model would not be: the engines refer to
the model, and a value that refers to its own key keeps it alive forever.
Plain Python: no TensorFlow import.
"""

__all__ = ["model_cache"]

_ATTRIBUTE = "_zfkeras_caches"


def model_cache(model, name):
    """The dict called ``name`` cached for ``model`` (created empty once).

    Args:
        model: a Keras model (any object with a ``__dict__``).
        name: the tool's name (``"occlusion"``, ``"explain"``), so that tools
            do not share keys.
    """
    caches = vars(model).get(_ATTRIBUTE)
    if caches is None:
        caches = {}
        object.__setattr__(model, _ATTRIBUTE, caches)  # past Keras' attribute tracking
    return caches.setdefault(name, {})
