"""`explain`: every explanation of the input, by one call.

``zfkeras.explain(model, images, "grad_cam")`` runs a registered method
(`zfkeras.methods.registry`) and returns an `Explanation`. ``targets``
chooses what is explained: each image's predicted class (None), given
classes (an int or one per image) or a `zfkeras.Unit`.
"""

from zfkeras.methods.explanation import Explanation
from zfkeras.methods.registry import get_method
from zfkeras.methods.unit import Unit
from zfkeras.utils.errors import InputError
from zfkeras.utils.inputs import DEFAULT_BATCH_SIZE, check_images, model_input_shape
from zfkeras.utils.progress import check_verbose
from zfkeras.utils.validation import index_array, positive_int

__all__ = ["explain", "resolve_targets"]


def resolve_targets(model, images, targets, batch_size, function_name="explain"):
    """``targets`` as int64 ``(N,)`` class indices, or the `Unit` given.

    Args:
        model: the classifier.
        images: the checked images.
        targets: None (each image's predicted class), an int, ``(N,)``
            ints, or a `zfkeras.Unit`.
        batch_size: for the prediction when ``targets`` is None.
    """
    if isinstance(targets, Unit):
        return targets
    count = int(model.outputs[0].shape[-1])
    if targets is None:
        # the argmax of logits and of probabilities is the same class
        return model.predict(images, batch_size=batch_size, verbose=0).argmax(axis=-1).astype("int64")
    if isinstance(targets, (tuple, list)) and targets and isinstance(targets[0], str):
        raise InputError(f"{function_name}(): a unit is given as zfkeras.Unit(layer, channel, position=None); "
                         f"got targets={targets!r}")
    return index_array(targets, "targets", len(images), count, "class index",
                       f"model {model.name!r}, which has {count} classes", broadcast=True)


def explain(model, inputs, method, targets=None, *, batch_size=DEFAULT_BATCH_SIZE, verbose="auto", **options):
    """Explains ``model``'s decisions (or a unit's activation) on ``inputs``.

    Args:
        model: a Keras image classifier (single input, single output).
        inputs: ``(N, H, W, C)`` images preprocessed as the model expects,
            or a `tf.data.Dataset` of them.
        method: a registered method's name (`zfkeras.methods.registry.method_names`):
            ``"deconvnet"``, ``"guided_backprop"``, ``"gradient"``,
            ``"grad_cam"``, ``"guided_grad_cam"``, ``"occlusion"``, ...
        targets: None (each image's predicted class), a class index, one
            per image, or a `zfkeras.Unit` (methods with ``units=True``).
        batch_size: images per model call.
        verbose: 0, 1 or "auto", as in Keras.
        **options: the method's own options (``Method.options`` lists them
            with their defaults, e.g. Grad-CAM's ``layer``).

    Returns:
        An `Explanation`.

    Raises:
        InputError: an unknown method or option, a unit for a method that
            explains classes only, bad images or targets.
    """
    spec = get_method(method)
    batch_size = positive_int(batch_size, "batch_size")
    check_verbose(verbose)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(spec.options) or "none"
        raise InputError(f"method {spec.name!r} has no option {', '.join(map(repr, unknown))}; "
                         f"its options: {accepted}")
    images = check_images(inputs, model_input_shape(model), model.name)
    resolved = resolve_targets(model, images, targets, batch_size)
    if isinstance(resolved, Unit) and not spec.units:
        raise InputError(f"method {spec.name!r} explains classes, not units; got targets={resolved}; "
                         f"methods that explain units: {', '.join(_unit_methods())}")
    used = {**spec.options, **options}
    attributions, maps = spec.function(model, images, resolved, batch_size=batch_size, verbose=verbose, **used)
    return Explanation(method=spec.name, maps=maps, attributions=attributions, targets=resolved,
                       options=used, channel_rule=spec.channel_rule)


def _unit_methods():
    from zfkeras.methods.registry import method_names

    return method_names(units=True)
