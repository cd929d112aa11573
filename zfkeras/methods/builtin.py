"""The built-in methods of `zfkeras.explain`, registered on import.

Each wraps one engine: the deconvnet's three backward rules
(`zfkeras.Deconvnet`, `zfkeras.methods.grad_cam.class_projection`),
Grad-CAM and guided Grad-CAM (`zfkeras.methods.grad_cam`) and occlusion
(`zfkeras.methods.occlusion`). Engines are imported when a method runs.
"""

import weakref

import numpy as np

from zfkeras.methods.registry import Method, register_method
from zfkeras.methods.unit import Unit
from zfkeras.utils.errors import InputError

SUM_ABS = "sum over channels of |attribution|"

_DECONVNETS = weakref.WeakKeyDictionary()


def deconvnet_of(model):
    """The `zfkeras.Deconvnet` of ``model``, built once per model."""
    from zfkeras.deconv import Deconvnet

    if model not in _DECONVNETS:
        _DECONVNETS[model] = Deconvnet(model)
    return _DECONVNETS[model]


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
            n = len(images)
            positions = targets.positions(n)
            attributions = deconvnet_of(model).project(
                images, targets.layer, np.asarray(targets.channels(n)),
                position=None if positions is None else np.asarray(positions),
                batch_size=batch_size, verbose=verbose, method=rule)
        else:
            from zfkeras.methods.grad_cam import class_projection

            attributions = class_projection(model, images, targets, method=rule, batch_size=batch_size,
                                            verbose=verbose)
        return attributions, _sum_abs(attributions)

    run.__name__ = rule
    return run


def _grad_cam_unit(targets):
    if targets.per_image:
        raise InputError(f"Grad-CAM explains one unit for every image; got per-image values in {targets}")
    return (targets.layer, targets.channel) + (() if targets.position is None else (targets.position,))


def _grad_cam(model, images, targets, *, batch_size, verbose, layer, interpolation):
    from zfkeras.methods.grad_cam import grad_cam

    layer = layer or (targets.layer if isinstance(targets, Unit) else last_feature_map(model))
    if isinstance(targets, Unit):
        maps = grad_cam(model, images, layer, unit=_grad_cam_unit(targets), batch_size=batch_size,
                        verbose=verbose, interpolation=interpolation)
    else:
        maps = grad_cam(model, images, layer, classes=targets, batch_size=batch_size, verbose=verbose,
                        interpolation=interpolation)
    return None, maps


def _guided_grad_cam(model, images, targets, *, batch_size, verbose, layer, interpolation):
    from zfkeras.methods.grad_cam import guided_grad_cam

    layer = layer or (targets.layer if isinstance(targets, Unit) else last_feature_map(model))
    if isinstance(targets, Unit):
        attributions = guided_grad_cam(model, images, layer, unit=_grad_cam_unit(targets),
                                       batch_size=batch_size, verbose=verbose, interpolation=interpolation)
    else:
        attributions = guided_grad_cam(model, images, layer, classes=targets, batch_size=batch_size,
                                       verbose=verbose, interpolation=interpolation)
    return attributions, _sum_abs(attributions)


def _occlusion(model, images, targets, *, batch_size, verbose, size, stride, baseline, engine, from_logits):
    from zfkeras import occlusion

    h, w = images.shape[1:3]
    size = size or max(1, min(h, w) // 4)
    stride = stride or max(1, size // 2)
    fill = images.mean(axis=(0, 1, 2)) if isinstance(baseline, str) and baseline == "mean" else baseline
    result = occlusion(model, images, size, stride, fill=fill, labels=targets, batch_size=batch_size,
                       from_logits=bool(from_logits) if from_logits is not None else
                       not _softmax_head(model), method=engine, verbose=verbose)
    return None, occlusion_drop_map(result, (h, w))


def _softmax_head(model):
    from zfkeras.graph.output import output_policy

    return output_policy(model).softmax_head


def occlusion_drop_map(result, image_size):
    """Occlusion's maps at the image size: each pixel's mean drop of the
    class probability over the squares that cover it (0 where none does)."""
    n = result.class_probability.shape[0]
    h, w = image_size
    total = np.zeros((n, h, w), "float64")
    count = np.zeros((h, w), "float64")
    drop = result.unoccluded_probability[:, None, None] - result.class_probability
    size = result.size
    for i in range(result.corners.shape[0]):
        for j in range(result.corners.shape[1]):
            y, x = result.corners[i, j]
            total[:, y:y + size, x:x + size] += drop[:, i, j, None, None]
            count[y:y + size, x:x + size] += 1
    return (total / np.maximum(count, 1)).astype("float32")


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
