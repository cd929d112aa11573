"""The built-in methods of `zfkeras.explain`, registered on import.

Each wraps one engine: the deconvnet's three backward rules
(`zfkeras.Deconvnet`, `zfkeras.methods.grad_cam.class_projection`),
Grad-CAM and guided Grad-CAM (`zfkeras.methods.grad_cam`) and occlusion
(`zfkeras.methods.occlusion`). Engines are imported when a method runs.
"""

import numpy as np

from zfkeras.methods.registry import SUM_ABS, Method, register_method
from zfkeras.methods.unit import Unit
from zfkeras.utils.errors import InputError
from zfkeras.utils.model_cache import model_cache


def deconvnet_of(model):
    """The `zfkeras.Deconvnet` of ``model``, built once per model and gone
    with it (`zfkeras.utils.model_cache`)."""
    from zfkeras.deconv import Deconvnet

    cache = model_cache(model, "explain")
    if "deconvnet" not in cache:
        cache["deconvnet"] = Deconvnet(model)
    return cache["deconvnet"]


def last_feature_map(model):
    """The name of the model's last feature-map layer (Grad-CAM's default)."""
    from zfkeras.graph.walk import walk

    steps = walk(model, unknown="keep").steps
    if not steps:
        raise InputError(f"model {model.name!r} has no feature-map layer")
    return steps[-1].name


def _sum_abs(attributions):
    return np.abs(attributions).sum(axis=-1)


def _backward_rule(rule):
    def run(model, images, targets, *, batch_size, verbose):
        if isinstance(targets, Unit):
            attributions = deconvnet_of(model).project(images, targets, batch_size=batch_size, verbose=verbose,
                                                       method=rule)
        else:
            from zfkeras.methods.grad_cam import class_projection

            attributions = class_projection(model, images, targets, method=rule, batch_size=batch_size,
                                            verbose=verbose)
        return attributions, _sum_abs(attributions)

    run.__name__ = rule
    return run


def _grad_cam(model, images, targets, *, batch_size, verbose, layer, interpolation):
    from zfkeras.methods.grad_cam import grad_cam

    layer = layer or (targets.layer if isinstance(targets, Unit) else last_feature_map(model))
    return None, grad_cam(model, images, layer, targets, batch_size=batch_size, verbose=verbose,
                          interpolation=interpolation)


def _guided_grad_cam(model, images, targets, *, batch_size, verbose, layer, interpolation):
    from zfkeras.methods.grad_cam import guided_grad_cam

    layer = layer or (targets.layer if isinstance(targets, Unit) else last_feature_map(model))
    attributions = guided_grad_cam(model, images, layer, targets, batch_size=batch_size, verbose=verbose,
                                   interpolation=interpolation)
    return attributions, _sum_abs(attributions)


def _occlusion(model, images, targets, *, batch_size, verbose, size, stride, baseline, engine, from_logits):
    from zfkeras import occlusion

    h, w = images.shape[1:3]
    size = size or max(1, min(h, w) // 4)
    stride = stride or max(1, size // 2)
    result = occlusion(model, images, size, stride, baseline=baseline, targets=targets, batch_size=batch_size,
                       from_logits=from_logits, method=engine, verbose=verbose)
    return None, result.image_maps()


for _rule, _summary in (
        ("deconvnet", "Zeiler & Fergus' deconvnet: the signal rectified at every ReLU on the way down"),
        ("guided_backprop", "guided backpropagation (Springenberg et al.): rectified and masked by the forward ReLU"),
        ("gradient", "the gradient of the score (Simonyan et al.'s saliency before its absolute value)")):
    register_method(Method(name=_rule, function=_backward_rule(_rule), summary=_summary, kind="backward rule",
                           units=True, signed=True, channel_rule=SUM_ABS, backward_rule=_rule))

register_method(Method(
    name="grad_cam", function=_grad_cam, kind="class activation map", units=True, signed=False,
    summary="Grad-CAM (Selvaraju et al.): the layer's maps weighted by their mean gradient, rectified, upsampled",
    channel_rule="the layer's maps weighted by their mean gradient and summed, rectified",
    options={"layer": None, "interpolation": "bilinear"}))
register_method(Method(
    name="guided_grad_cam", function=_guided_grad_cam, kind="class activation map", units=True, signed=True,
    summary="guided Grad-CAM: Grad-CAM times guided backpropagation", channel_rule=SUM_ABS,
    options={"layer": None, "interpolation": "bilinear"}))
register_method(Method(
    name="occlusion", function=_occlusion, kind="perturbation", units=False, signed=True,
    summary="occlusion (Zeiler & Fergus Fig. 7): the drop of the class probability under a sliding square",
    channel_rule="each pixel's mean probability drop over the squares covering it",
    options={"size": None, "stride": None, "baseline": "mean", "engine": "auto", "from_logits": None}))
from zfkeras.methods import attribution  # noqa: E402,F401  (registers integrated_gradients, smoothgrad, vargrad)
from zfkeras.methods.lrp import methods  # noqa: E402,F401  (registers the lrp_* methods)
