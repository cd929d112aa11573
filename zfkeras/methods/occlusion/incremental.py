"""Incremental occlusion: recompute only what the square can change.

The plan (`zfkeras.methods.occlusion.plan`) says, for every tensor of the
model graph, which rectangle of it a square position changes, or that it
is computed whole. Per image, the unoccluded maps are computed once and
cached; per batch of square positions each windowed step then computes
only its output window:

* a window op reads a region of its padded input assembled with one gather
  from a table holding the cached map and the input's recomputed window
  (the window where it lies, the cache elsewhere) and applies its kernel
  VALID to that region (``conv2d``, ``depthwise_conv2d``,
  ``separable_conv2d``, ``max_pool2d``, ``avg_pool2d`` -- with the count of
  in-bounds taps for SAME average pooling, as Keras divides);
* a pointwise step runs on the window alone; ``ZeroPadding2D`` moves it;
* a merge assembles each input over the bounding box and merges those;
* a whole step assembles its windowed inputs into full maps and runs the
  layer itself.

With exact windows (no ``tau``) the values are those of full re-inference
up to float summation order. The gather indices are computed inside the
traced graph from each window's per-position starts, so any subset of
positions runs through the same function (adaptive drill-down).
"""

import numpy as np
import tensorflow as tf

from zfkeras.graph.walk import INPUT_ID
from zfkeras.methods.occlusion import plan as planning


def _call(layer, inputs):
    """``layer`` in inference mode; its first output (a `MaxPoolWithArgmax`
    also returns switches, which nothing here reads)."""
    y = layer(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
    return y[0] if isinstance(y, (list, tuple)) else y


def gather_region(cached, patch, region_starts, region_extent, patch_starts, offset=(0, 0)):
    """Region ``(P, R, Q, C)`` of a map: the patch where it lies, the cached map elsewhere.

    Args:
        cached: ``(Hc, Wc, C)`` unoccluded map (padded as the reader pads).
        patch: ``(P, h, w, C)`` recomputed windows.
        region_starts: int32 ``(P, 2)`` top-left of the region, in ``cached``.
        region_extent: static ``(R, Q)``.
        patch_starts: int32 ``(P, 2)`` top-left of the patch in ``cached``
            minus ``offset``.
        offset: static ``(top, left)`` padding of ``cached``.
    """
    hc, wc, channels = cached.shape
    h, w = patch.shape[1:3]
    count = tf.shape(patch)[0]
    rows = region_starts[:, :1] + tf.range(region_extent[0])[None]  # (P, R)
    cols = region_starts[:, 1:] + tf.range(region_extent[1])[None]  # (P, Q)
    pr = rows - (patch_starts[:, :1] + offset[0])
    pc = cols - (patch_starts[:, 1:] + offset[1])
    inside = (((pr >= 0) & (pr < h))[:, :, None]) & (((pc >= 0) & (pc < w))[:, None, :])
    from_cache = rows[:, :, None] * wc + cols[:, None, :]
    from_patch = (hc * wc + tf.range(count)[:, None, None] * (h * w)
                  + tf.clip_by_value(pr, 0, h - 1)[:, :, None] * w + tf.clip_by_value(pc, 0, w - 1)[:, None, :])
    table = tf.concat([tf.reshape(cached, [-1, channels]), tf.reshape(patch, [-1, channels])], 0)
    return tf.gather(table, tf.where(inside, from_patch, from_cache))


def _window_op(step, region, out_starts):
    """``step`` applied VALID to its assembled padded-input ``region``."""
    layer, placed, kind = step.layer, step.placed, step.kind
    strides = [1, *placed.strides, 1]
    if kind == "maxpool":
        return tf.nn.max_pool2d(region, placed.kernel, placed.strides, "VALID")
    if kind == "avgpool":
        y = tf.nn.avg_pool2d(region, placed.kernel, placed.strides, "VALID")
        if placed.before == (0, 0) and placed.after == (0, 0):
            return y
        return y * float(np.prod(placed.kernel)) / _tap_counts(placed, out_starts, step.out.extent)
    dilations = list(placed.dilation)
    if kind == "conv":
        y = tf.nn.conv2d(region, tf.convert_to_tensor(layer.kernel), placed.strides, "VALID",
                         dilations=dilations)
    elif kind == "depthwise":
        y = tf.nn.depthwise_conv2d(region, tf.convert_to_tensor(layer.kernel), strides, "VALID",
                                   dilations=dilations)
    else:  # separable
        y = tf.nn.separable_conv2d(region, tf.convert_to_tensor(layer.depthwise_kernel),
                                   tf.convert_to_tensor(layer.pointwise_kernel), strides, "VALID",
                                   dilations=dilations)
    if layer.use_bias:
        y = tf.nn.bias_add(y, tf.convert_to_tensor(layer.bias))
    return layer.activation(y)


def _tap_counts(placed, out_starts, extent):
    """In-bounds taps of each output of the window ``(P, h, w, 1)`` (SAME average pooling)."""
    counts = []
    for axis in (0, 1):
        o = out_starts[:, axis:axis + 1] + tf.range(extent[axis])[None]
        lo = o * placed.strides[axis] - placed.before[axis]
        hi = lo + placed.kernel[axis]
        counts.append(tf.minimum(hi, placed.in_size[axis]) - tf.maximum(lo, 0))
    return tf.cast(counts[0][:, :, None, None] * counts[1][:, None, :, None], tf.float32)


class IncrementalOcclusion:
    """Occlusion of one square size at fixed corners, computed incrementally.

    Build it with `plan`; then `run` once per image.

    Attributes:
        graph_plan: the `zfkeras.methods.occlusion.plan.GraphPlan`.
        cost_ratio: estimated multiply-adds of this path / full re-inference.
        tau: the projective-field threshold (None: exact).
    """

    def __init__(self, graph_plan, size, corners, layer, tau):
        self.graph_plan, self.size, self.corners, self.layer, self.tau = graph_plan, size, corners, layer, tau
        self.cost_ratio = graph_plan.cost_ratio
        self.steps = graph_plan.steps
        windows = graph_plan.windows
        consumers = [(s, i) for s in self.steps for i in s.inputs if i in windows]
        # cached unoccluded maps: what merges, whole steps and the activity read
        self._cached = sorted({i for s, i in consumers if s.kind == "merge" or not s.windowed}
                              | {s.output for s in self.steps if s.name == layer and s.output in windows})
        self._padded = [k for k, s in enumerate(self.steps) if s.windowed and s.kind in planning.WINDOW_OPS]
        self._rows = {tensor: row for row, tensor in enumerate(sorted(windows))}
        self._starts = np.stack([windows[t].starts for t in sorted(windows)]).astype("int32")
        self._chunk_fn = tf.function(self._chunk, reduce_retracing=True)
        self._cache_fn = tf.function(self._caches, reduce_retracing=True)

    @classmethod
    def plan(cls, model, image_shape, size, corners, layer=None, switch_fraction=0.6, tau=None):
        """An engine for ``model``, or ``(None, why)`` when it cannot help.

        Args:
            model: the classifier.
            image_shape: ``(H, W, C)``.
            size: side of the square.
            corners: ``(P, 2)`` top-left corners.
            layer: qualified name of the layer whose activity is recorded, or None.
            switch_fraction: a branch switches to whole maps where a
                window exceeds this share of its map.
            tau: None (exact), or the projective-field threshold: each
                window at most ``ceil(tau * side)`` per axis (approximate).

        Returns:
            ``(engine, None)`` or ``(None, reason)``.
        """
        graph_plan, why = planning.plan(model, tuple(image_shape), size, np.asarray(corners),
                                        switch_fraction, tau)
        if graph_plan is None:
            return None, why
        if layer is not None and layer not in [s.name for s in graph_plan.steps]:
            return None, f"layer {layer!r} is not a step of the model's graph"
        return cls(graph_plan, size, np.asarray(corners), layer, tau), None

    @property
    def windowed_names(self):
        """Names of the steps computed on windows."""
        return self.graph_plan.windowed_names

    # -- TensorFlow parts ---------------------------------------------------
    def _caches(self, image):
        """Unoccluded maps: those read whole, and each window op's padded input."""
        values = {INPUT_ID: image[None]}
        for step in self.steps:
            values[step.output] = _call(step.layer, [values[i] for i in step.inputs])
        cached = {str(t): values[t][0] for t in self._cached}
        padded = {}
        for k in self._padded:
            step = self.steps[k]
            (top, left), (bottom, right) = step.placed.before, step.placed.after
            value = float("-inf") if step.kind == "maxpool" else 0.0
            padded[str(k)] = tf.pad(values[step.inputs[0]][0], [[top, bottom], [left, right], [0, 0]],
                                    constant_values=value)
        return cached, padded

    def _chunk(self, cached, padded, square, starts, channel):
        """Model outputs and layer activity for one batch of square positions."""
        rows, windows = self._rows, self.graph_plan.windows
        patches, whole = {INPUT_ID: square}, {}
        activity = tf.zeros((tf.shape(square)[0],))

        def assembled(tensor):
            if tensor not in whole:
                size = self.graph_plan.sizes[tensor]
                zeros = tf.zeros_like(starts[rows[tensor]])
                whole[tensor] = gather_region(cached[str(tensor)], patches[tensor], zeros, size,
                                              starts[rows[tensor]])
            return whole[tensor]

        for k, step in enumerate(self.steps):
            ins = step.inputs
            if not step.windowed:
                whole[step.output] = _call(step.layer, [assembled(i) if i in windows else whole[i] for i in ins])
            elif step.kind in planning.WINDOW_OPS:
                out_starts = starts[rows[step.output]]
                region = gather_region(padded[str(k)], patches[ins[0]], out_starts * step.placed.strides,
                                       step.region.extent, starts[rows[ins[0]]], step.placed.before)
                patches[step.output] = _window_op(step, region, out_starts)
            elif step.kind == "merge":
                out_starts = starts[rows[step.output]]
                patches[step.output] = _call(step.layer, [
                    gather_region(cached[str(i)], patches[i], out_starts, step.out.extent, starts[rows[i]])
                    for i in ins])
            elif step.kind == "pad":
                patches[step.output] = patches[ins[0]]
            else:  # pointwise
                patches[step.output] = _call(step.layer, [patches[ins[0]]])
            if step.name == self.layer:
                activity = self._activity(step, cached, patches, whole, starts, channel)
        output = self.graph_plan.output
        return (assembled(output) if output in windows else whole[output]), activity

    def _activity(self, step, cached, patches, whole, starts, channel):
        """Total of ``channel`` of the step's output: cached total - cached window + patch."""
        if not step.windowed:
            return tf.reduce_sum(tf.gather(whole[step.output], channel, axis=-1), axis=[1, 2])
        cached_c = tf.gather(cached[str(step.output)], channel, axis=-1)
        s = starts[self._rows[step.output]]
        rows = s[:, :1] + tf.range(step.out.extent[0])[None]
        cols = s[:, 1:] + tf.range(step.out.extent[1])[None]
        window = tf.gather(tf.gather(cached_c, rows, axis=0), cols, axis=2, batch_dims=1)
        return (tf.reduce_sum(cached_c) - tf.reduce_sum(window, axis=[1, 2])
                + tf.reduce_sum(tf.gather(patches[step.output], channel, axis=-1), axis=[1, 2]))

    def run(self, image, fill, batch_size, channel=None, progbar=None, positions=None):
        """Outputs ``(P, K)`` and activity ``(P,)`` (or None) for one image.

        Args:
            image: ``(H, W, C)`` float32.
            fill: ``(C,)`` fill value.
            batch_size: square positions per call.
            channel: channel of ``layer`` whose total is recorded, or None.
            progbar: a keras Progbar to advance, or None.
            positions: indices of the corners to compute (default all).
        """
        cached, padded = self._cache_fn(tf.constant(image))
        positions = np.arange(len(self.corners)) if positions is None else np.asarray(positions)
        square = np.broadcast_to(fill, (self.size, self.size, len(fill))).astype("float32")
        outputs, activity = [], []
        channel_t = tf.constant(0 if channel is None else int(channel), tf.int32)
        for start in range(0, len(positions), batch_size):
            chunk = positions[start:start + batch_size]
            patch = tf.constant(np.broadcast_to(square, (len(chunk),) + square.shape))
            out, act = self._chunk_fn(cached, padded, patch, tf.constant(self._starts[:, chunk]), channel_t)
            outputs.append(out.numpy())
            activity.append(act.numpy())
            if progbar is not None:
                progbar.add(len(chunk))
        return np.concatenate(outputs), (None if channel is None else np.concatenate(activity))
