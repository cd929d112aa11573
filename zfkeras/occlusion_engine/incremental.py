"""Incremental exact occlusion: recompute only what the square can change.

A square changes a small window of each early layer's output. For a chain
of conv/pool/pad/pointwise layers, the unoccluded activations are computed
once per image; for a batch of square positions each layer then computes
only its affected output window, from a region of its input assembled out
of the cached map and the previous layer's recomputed window (gathers and
a select, so the values are exactly those of full re-inference up to float
summation order). From the first layer whose window covers more than
``switch_fraction`` of its map, the occluded maps are assembled in full and
the rest of the network (its remaining layers and the head) runs normally.
"""

import numpy as np
import tensorflow as tf

from zfkeras.occlusion_engine import geometry
from zfkeras.occlusion_engine.chain import split_trunk


def _call(layer, x):
    """``layer`` in inference mode; its first output (a `MaxPoolWithArgmax`
    also returns switches, which nothing in a chain reads)."""
    y = layer(x, training=False)
    return y[0] if isinstance(y, (list, tuple)) else y


class IncrementalOcclusion:
    """Occlusion of one square size at fixed corners, computed incrementally.

    Build it with `plan`; then `run` once per image.

    Attributes:
        switch: index of the first step computed in full.
        cost_ratio: estimated multiply-adds of this path / full re-inference.
    """

    def __init__(self, steps, head, image_shape, size, corners, layer, switch_fraction):
        self.steps, self.head = steps, head
        self.image_shape, self.size, self.corners = tuple(image_shape), size, corners
        self.layer = layer
        patch = geometry.Window(np.asarray(corners), (size, size))
        self._patches, self._regions, self.switch = [patch], [], len(steps)
        for index, step in enumerate(steps):
            if step.kind == "pad":
                patch = geometry.Window(patch.starts + np.array(step.window.before), patch.extent)
            elif step.kind in ("conv", "pool"):
                out = geometry.affected_output(step.window, patch)
                if out.fraction_of(step.window.out_size) > switch_fraction:
                    self.switch = index
                    break
                self._regions.append((index, geometry.input_region(step.window, out), patch))
                patch = out
            self._patches.append(patch)
        self.cost_ratio = self._cost_ratio()
        self._chunk_fn = tf.function(self._chunk, reduce_retracing=True)
        self._cache_fn = tf.function(self._caches, reduce_retracing=True)
        self._index_cache = {}

    @classmethod
    def plan(cls, model, image_shape, size, corners, layer=None, switch_fraction=0.6):
        """An engine for ``model``, or ``(None, why)`` when it cannot help.

        Args:
            model: the classifier.
            image_shape: ``(H, W, C)``.
            size: side of the square.
            corners: ``(P, 2)`` top-left corners.
            layer: name of the layer whose activity is recorded, or None.
            switch_fraction: switch to full maps when a layer's affected
                window exceeds this share of its output.

        Returns:
            ``(engine, None)`` or ``(None, reason)``.
        """
        steps, head, why = split_trunk(model, image_shape)
        if steps is None:
            return None, why
        if not any(s.kind in ("conv", "pool") for s in steps):
            return None, "the model does not start with conv/pool layers"
        names = [s.name for s in steps + head]
        if layer is not None and layer not in names:
            return None, f"layer {layer!r} is not in the model's chain"
        engine = cls(steps, head, image_shape, size, np.asarray(corners), layer, switch_fraction)
        if engine.switch == 0:
            return None, "the square changes most of the first layer's output"
        return engine, None

    # -- cost model ---------------------------------------------------------
    def _cost_ratio(self):
        """Multiply-adds per position: incremental / full (conv and head)."""
        full = incremental = 0.0
        windows = {index: self._patches[index + 1] for index, _, _ in self._regions}
        for index, step in enumerate(self.steps):
            if step.kind != "conv":
                continue
            per_output = np.prod(step.window.kernel) * step.channels_in * step.shape[-1]
            area = np.prod(step.window.out_size)
            full += area * per_output
            if index in windows:
                # the region assembly (gathers, select) costs like a few MACs per input value
                region = [r for i, r, _ in self._regions if i == index][0]
                incremental += np.prod(windows[index].extent) * per_output
                incremental += 4.0 * np.prod(region.extent) * step.channels_in
            else:
                incremental += area * per_output
        head = 0.0
        for step in self.head:
            spatial = int(np.prod([d or 1 for d in step.shape[:2]])) if len(step.shape) == 3 else 1
            head += spatial * step.layer.count_params()
        return float((incremental + head) / max(full + head, 1.0))

    # -- TensorFlow parts ---------------------------------------------------
    def _caches(self, image):
        """Unoccluded maps: the padded input of each windowed step, and more."""
        x, padded, boundary = image[None], {}, [image[None]]
        for index, step in enumerate(self.steps):
            if index == self.switch:
                break
            if step.kind in ("conv", "pool"):
                (top, left), (bottom, right) = step.window.before, step.window.after
                value = 0.0 if step.kind == "conv" else float("-inf")
                padded[index] = tf.pad(x[0], [[top, bottom], [left, right], [0, 0]], constant_values=value)
            x = _call(step.layer, x)
            boundary.append(x)
        return padded, [b[0] for b in boundary]

    @staticmethod
    def _assemble(cached, patch, source):
        """Region ``(P, R, Q, C)``: the patch where it lies, the cached map elsewhere."""
        channels = tf.shape(cached)[-1]
        table = tf.concat([tf.reshape(cached, [-1, channels]), tf.reshape(patch, [-1, channels])], 0)
        return tf.gather(table, source)

    @staticmethod
    def _window_op(step, region):
        layer = step.layer
        window = step.window
        if step.kind == "pool":
            return tf.nn.max_pool2d(region, window.kernel, window.strides, "VALID")
        y = tf.nn.conv2d(region, tf.convert_to_tensor(layer.kernel), window.strides, "VALID")
        if layer.use_bias:
            y = tf.nn.bias_add(y, tf.convert_to_tensor(layer.bias))
        return layer.activation(y)

    def _chunk(self, padded, boundary, patch, indices, window_rows_cols, channel):
        """Model outputs and layer activity for one batch of square positions."""
        activity = tf.zeros((tf.shape(patch)[0],))
        region_index = 0
        for index, step in enumerate(self.steps[: self.switch]):
            if step.kind in ("conv", "pool"):
                region = self._assemble(padded[index], patch, indices[region_index])
                patch = self._window_op(step, region)
                region_index += 1
            elif step.kind == "pointwise":
                patch = _call(step.layer, patch)
            if step.name == self.layer:
                activity = self._window_activity(boundary[index + 1], patch, window_rows_cols, channel)
        x = self._assemble(boundary[self.switch], patch, indices[region_index])
        for step in self.steps[self.switch:] + list(self.head):
            x = _call(step.layer, x)
            if step.name == self.layer:
                activity = tf.reduce_sum(tf.gather(x, channel, axis=-1), axis=[1, 2])
        return x, activity

    @staticmethod
    def _window_activity(cached, patch, rows_cols, channel):
        """Total of ``channel`` over the map: cached total - cached window + patch."""
        rows, cols = rows_cols
        cached_c = tf.gather(cached, channel, axis=-1)
        window = tf.gather(tf.gather(cached_c, rows, axis=0), cols, axis=2, batch_dims=1)
        return (tf.reduce_sum(cached_c) - tf.reduce_sum(window, axis=[1, 2])
                + tf.reduce_sum(tf.gather(patch, channel, axis=-1), axis=[1, 2]))

    def _indices(self, start, stop):
        """Gather indices of positions ``[start, stop)`` (cached: same for every image)."""
        key = (start, stop)
        if key not in self._index_cache:
            sub = slice(start, stop)
            chunk = []
            for index, region, patch in self._regions:
                window = self.steps[index].window
                padded = tuple(s + b + a for s, b, a in zip(window.in_size, window.before, window.after))
                chunk.append(tf.constant(geometry.region_indices(
                    geometry.Window(region.starts[sub], region.extent),
                    geometry.Window(patch.starts[sub], patch.extent), padded, window.before)))
            last = self._patches[-1]
            size = self._boundary_size(self.switch)
            whole = geometry.Window(np.zeros((stop - start, 2), "int64"), size)
            chunk.append(tf.constant(geometry.region_indices(
                whole, geometry.Window(last.starts[sub], last.extent), size)))
            self._index_cache[key] = (chunk, self._activity_window(sub))
        return self._index_cache[key]

    def _boundary_size(self, index):
        if index < len(self.steps):
            return self.steps[index].window.in_size
        return self.steps[-1].window.out_size

    def _activity_window(self, sub):
        """Rows/cols of the activity layer's recomputed window (when windowed)."""
        for index, step in enumerate(self.steps[: self.switch]):
            if step.name == self.layer:
                window = self._patches[index + 1]
                return tuple(tf.constant((window.starts[sub, axis, None] + np.arange(window.extent[axis])).astype("int32"))
                             for axis in (0, 1))
        return (tf.zeros((0, 0), tf.int32), tf.zeros((0, 0), tf.int32))

    def run(self, image, fill, batch_size, channel=None, progbar=None):
        """Outputs ``(P, K)`` and activity ``(P,)`` (or None) for one image.

        Args:
            image: ``(H, W, C)`` float32.
            fill: ``(C,)`` fill value.
            batch_size: square positions per call.
            channel: channel of ``layer`` whose total is recorded, or None.
            progbar: a keras Progbar to advance, or None.
        """
        padded, boundary = self._cache_fn(tf.constant(image))
        square = np.broadcast_to(fill, (self.size, self.size, len(fill))).astype("float32")
        outputs, activity = [], []
        channel_t = tf.constant(0 if channel is None else int(channel), tf.int32)
        for start in range(0, len(self.corners), batch_size):
            stop = min(start + batch_size, len(self.corners))
            indices, rows_cols = self._indices(start, stop)
            patch = tf.constant(np.broadcast_to(square, (stop - start,) + square.shape))
            out, act = self._chunk_fn(padded, boundary, patch, indices, rows_cols, channel_t)
            outputs.append(out.numpy())
            activity.append(act.numpy())
            if progbar is not None:
                progbar.add(stop - start)
        return np.concatenate(outputs), (None if channel is None else np.concatenate(activity))
