"""Which part of every tensor a square changes: the plan of incremental occlusion.

Plain numpy on the one model graph (`zfkeras.graph.walk`). Every trunk
tensor is either *windowed* -- per square position, one rectangle of it
differs from the unoccluded map (`geometry.Patches`), and only that
rectangle is recomputed -- or *whole*: the occluded maps are computed in
full. The model's input is windowed (the square). Then, in topological
order:

* a window op (conv, depthwise/separable conv, max/average pool) on a
  windowed input gets the output window its input window can reach; a
  ``ZeroPadding2D`` shifts it; a pointwise step (batch norm, activations,
  LRN, dropout, ... : the identity window) keeps it;
* a merge (``Add``, ``Concatenate``) of windowed inputs gets the bounding
  box of its inputs' windows;
* a window covering more than ``switch_fraction`` of its map, any step
  with a whole input, a step of unknown geometry and the head are whole:
  that branch switches to full inference there (per branch, not per
  model).

Approximate occlusion (Krypton's projective-field thresholding) caps each
window op's and merge's output window at ``tau`` of its map's side per
axis, centred on the uncapped window: changes outside it are dropped (the
unoccluded values are used there).
"""

import dataclasses
import math
from typing import Optional

import numpy as np

from zfkeras.deconv.rules_conv import Conv2DRule, DepthwiseConv2DRule, SeparableConv2DRule
from zfkeras.deconv.rules_pool import AveragePoolRule, MaxPoolRule
from zfkeras.deconv.rules_structure import AddRule, ConcatenateRule, ZeroPadding2DRule
from zfkeras.graph.walk import INPUT_ID, Step, walk
from zfkeras.methods.occlusion import geometry

# Steps computed on a region of their (padded) input, by kind.
WINDOW_OPS = ("conv", "depthwise", "separable", "maxpool", "avgpool")
# Cost of assembling a region (gathers, select), in multiply-adds per value.
GATHER_COST = 4.0


@dataclasses.dataclass(frozen=True)
class PlannedStep(Step):
    """A graph step with how incremental occlusion computes it.

    Attributes:
        kind: one of `WINDOW_OPS`, ``"pad"``, ``"pointwise"``, ``"merge"``,
            or None (only whole).
        windowed: computed on windows (else on whole maps).
        out: its output `geometry.Patches` (map coordinates) when windowed.
        region: window ops: the padded-input `geometry.Patches` it reads.
        placed: its `zfkeras.graph.window.Window` on the occluded images'
            sizes (None for steps of unknown geometry and the head).
        macs: multiply-adds of the step on whole maps, per image.
        incremental_macs: its multiply-adds as planned, per position.
    """

    kind: Optional[str] = None
    windowed: bool = False
    out: Optional[geometry.Patches] = None
    region: Optional[geometry.Patches] = None
    placed: object = None
    macs: float = 0.0
    incremental_macs: float = 0.0


def step_kind(step):
    """How the engine computes ``step`` on a window, or None (only whole)."""
    layer, window = step.layer, step.window
    if window is None:
        return None
    if AddRule.matches(layer) or ConcatenateRule.matches(layer):
        return "merge"
    if len(step.inputs) != 1:
        return None
    if Conv2DRule.matches(layer):
        return "conv" if layer.groups == 1 else None
    if DepthwiseConv2DRule.matches(layer):
        return "depthwise"
    if SeparableConv2DRule.matches(layer):
        return "separable"
    if MaxPoolRule.matches(layer):
        return "maxpool"
    if AveragePoolRule.matches(layer):
        return "avgpool"
    if ZeroPadding2DRule.matches(layer):
        return "pad"
    return "pointwise" if window.is_identity else None


def cap(window, size, tau, centre):
    """``window`` with each extent at most ``ceil(tau * side)``, centred on the
    square's ``centre`` (``(P, 2)`` in this map's coordinates), inside the map."""
    if tau is None:
        return window
    limits = [max(1, math.ceil(tau * side)) for side in size]
    if all(e <= m for e, m in zip(window.extent, limits)):
        return window
    extent = np.array([min(e, m) for e, m in zip(window.extent, limits)])
    starts = np.floor(centre - (extent - 1) / 2.0).astype("int64")
    starts = np.clip(starts, window.starts, window.starts + np.array(window.extent) - extent)
    return geometry.Patches(np.clip(starts, 0, np.array(size) - extent), tuple(int(e) for e in extent))


def centre_through(placed, centre):
    """The square's centre ``(P, 2)`` carried through a window op (its output coordinates)."""
    span = np.array(placed.span, "float64")
    return (centre + np.array(placed.before) - (span - 1) / 2.0) / np.array(placed.strides)


def bounding_box(windows, size):
    """Per position, the smallest rectangle holding every window (one shared extent)."""
    lo = np.min([w.starts for w in windows], axis=0)
    hi = np.max([w.starts + np.array(w.extent) for w in windows], axis=0)
    extent = tuple(int(v) for v in np.minimum((hi - lo).max(axis=0), size))
    return geometry.Patches(np.minimum(lo, np.array(size) - np.array(extent)), extent)


def _spatial_elements(shape):
    if len(shape) != 3:
        return float(np.prod([d or 1 for d in shape]))
    return float(np.prod([d or 1 for d in shape[:2]])) * (shape[2] or 1)


def step_macs(step, kind, channels_in, out_area):
    """Multiply-adds of one step on ``out_area`` output positions (per image)."""
    layer = step.layer
    out_channels = (step.shape[-1] or 1) if step.shape else 1
    if kind in ("conv", "depthwise", "separable"):
        taps = float(np.prod(layer.kernel_size)) * channels_in
        if kind == "conv":
            return out_area * taps * out_channels
        multiplier = layer.depth_multiplier
        pointwise = channels_in * multiplier * out_channels if kind == "separable" else 0
        return out_area * (taps * multiplier + pointwise)
    if kind in ("maxpool", "avgpool"):
        return out_area * float(np.prod(layer.pool_size)) * out_channels
    if kind is None and step.window is None:
        # the head and unknown layers: their weights once per output row, or elementwise
        params = float(layer.count_params()) if layer.built else 0.0
        rows = _spatial_elements(step.shape[:-1] + (1,)) if len(step.shape) == 3 else 1.0
        return max(params * rows, _spatial_elements(step.shape))
    return out_area * out_channels  # elementwise


class GraphPlan:
    """Windows of every tensor for one square size at fixed corners.

    Attributes:
        steps: `PlannedStep`s of trunk and head in topological order.
        output: tensor id of the model output.
        windows: tensor id -> `geometry.Patches` of the windowed tensors.
        sizes: tensor id -> ``(H, W)`` of 4-D tensors.
        cost_ratio: estimated multiply-adds, planned / full re-inference.
    """

    def __init__(self, graph, image_shape, size, corners, switch_fraction, tau):
        channels = {INPUT_ID: int(image_shape[2])}
        self.sizes = {INPUT_ID: tuple(image_shape[:2])}
        self.windows = {INPUT_ID: geometry.Patches(np.asarray(corners), (size, size))}
        # the square's centre in each windowed map (where a capped window is centred)
        self._centres = {INPUT_ID: np.asarray(corners, "float64") + (size - 1) / 2.0}
        ordered = sorted(graph.steps + graph.head, key=lambda s: s.output)
        head_ids = {s.output for s in graph.head}
        self.steps, full, incremental = [], 0.0, 0.0
        for step in ordered:
            kind = None if step.output in head_ids else step_kind(step)
            placed = None
            if step.window is not None and step.output not in head_ids and step.inputs[0] in self.sizes:
                placed = step.window.at(self.sizes[step.inputs[0]])
                if min(placed.out_size) < 1:
                    kind, placed = None, None
            if placed is not None:
                self.sizes[step.output] = placed.out_size
            ins = [self.windows.get(i) for i in step.inputs]
            out = region = None
            if kind is not None and all(w is not None for w in ins):
                centre = self._centres[step.inputs[0]]
                if kind in WINDOW_OPS or kind == "pad":
                    centre = centre_through(placed, centre)
                out, region = self._window(kind, placed, ins, switch_fraction, tau, centre)
            if out is not None:
                self.windows[step.output] = out
                self._centres[step.output] = centre
            cin = channels.get(step.inputs[0], 1)
            if len(step.shape) == 3 and step.shape[-1]:
                channels[step.output] = int(step.shape[-1])
            area = float(np.prod(placed.out_size)) if placed else 1.0
            macs = step_macs(step, kind, cin, area)
            if out is None:
                spent = macs
            else:
                spent = step_macs(step, kind, cin, float(np.prod(out.extent)))
                if region is not None:
                    spent += GATHER_COST * float(np.prod(region.extent)) * cin
                elif kind == "merge":
                    spent += GATHER_COST * float(np.prod(out.extent)) * cin * len(ins)
            for i, w in zip(step.inputs, ins):  # whole step on a windowed input: assembly
                if out is None and w is not None and i in self.sizes:
                    spent += GATHER_COST * float(np.prod(self.sizes[i])) * channels.get(i, 1)
            full += macs
            incremental += spent
            self.steps.append(step.extended(
                PlannedStep, kind=kind, windowed=out is not None, out=out, region=region,
                placed=placed, macs=macs, incremental_macs=spent))
        self.output = ordered[-1].output if ordered else INPUT_ID
        self.cost_ratio = float(incremental / max(full, 1.0))

    def _window(self, kind, placed, ins, switch_fraction, tau, centre):
        """``(output window, input region)`` of a step on windowed inputs, or ``(None, None)``."""
        if kind == "pointwise":
            return ins[0], None
        if kind == "pad":
            return geometry.Patches(ins[0].starts + np.array(placed.before), ins[0].extent), None
        size = placed.out_size
        if kind == "merge":
            out = cap(bounding_box(ins, size), size, tau, centre)
        else:
            out = cap(geometry.affected_output(placed, ins[0]), size, tau, centre)
        if out.fraction_of(size) > switch_fraction:
            return None, None
        region = geometry.input_region(placed, out) if kind in WINDOW_OPS else None
        return out, region

    @property
    def windowed_names(self):
        """Names of the steps computed on windows, in order."""
        return [s.name for s in self.steps if s.windowed]


def plan(model, image_shape, size, corners, switch_fraction=0.6, tau=None):
    """A `GraphPlan` for ``model``, or ``(None, why)`` when no step can be windowed.

    Returns:
        ``(plan, None)`` or ``(None, reason)``.
    """
    try:
        graph = walk(model, unknown="keep")
    except (TypeError, ValueError) as error:
        return None, str(error)
    if any(d is None for d in image_shape):
        return None, f"the images' shape {tuple(image_shape)} is not known"
    result = GraphPlan(graph, image_shape, size, corners, switch_fraction, tau)
    if not any(s.windowed and s.kind in WINDOW_OPS for s in result.steps):
        first = next((s for s in result.steps if s.kind is not None), None)
        if first is None:
            return None, "no layer of the model is one the engine computes on windows"
        return None, "the square changes most of the first layers' outputs"
    return result, None
