"""Receptive fields, from the model graph's windows (no probing).

Every step of `zfkeras.graph.walk` describes each spatial axis as a
`zfkeras.graph.window.Window`: output position ``i`` sees input positions
``[i * stride - before, i * stride - before + span)``. A box on a layer's
output maps to the input box spanned by its first and last positions'
windows, clipped to the input (positions outside it are padding, which has
no receptive field of its own). A dilated window counts as its whole span:
at the image border its first or last tap may fall on padding, so the box
can exceed the pixels that really matter by up to ``dilation - 1``.

After branches the receptive field is the **union** (the bounding box) of
the boxes reached along every path from the layer down to the image: e.g.
in a residual block, the larger of the two paths' boxes.
"""

import numpy as np

from zfkeras.graph.walk import INPUT_ID

_EMPTY = 2**62  # an empty interval is (_EMPTY, -_EMPTY): neutral for the union


def _map_interval(lo, hi, span, stride, before, size):
    """Input interval of an output interval, clipped to ``[0, size)``."""
    empty = lo >= hi
    new_lo = np.clip(lo * stride - before, 0, size)
    new_hi = np.clip((hi - 1) * stride - before + span, 0, size)
    empty |= new_lo >= new_hi
    return np.where(empty, _EMPTY, new_lo), np.where(empty, -_EMPTY, new_hi)


def receptive_boxes(steps, sizes, target, positions):
    """Input boxes of the units at ``positions`` of tensor ``target``.

    Args:
        steps: graph steps up to the target (topological order).
        sizes: tensor id -> ``(H, W)``, from ``ModelGraph.spatial_sizes``.
        target: id of the layer's output tensor.
        positions: ``(N, 2)`` int array of ``(y, x)``.

    Returns:
        ``(N, 4)`` int64 array ``(top, left, bottom, right)``, end-exclusive;
        all zeros for a unit whose window covers only padding.
    """
    y = positions[:, 0].astype(np.int64)
    x = positions[:, 1].astype(np.int64)
    boxes = {target: [y, x, y + 1, x + 1]}
    for step in reversed(steps):
        box = boxes.pop(step.output, None)
        if box is None:
            continue  # not on a path from the target down to the image
        in_hw = sizes[step.inputs[0]]
        window = step.window.at(in_hw)
        (top, bottom), (left, right) = (
            _map_interval(box[axis], box[axis + 2], window.span[axis], window.strides[axis],
                          window.before[axis], in_hw[axis])
            for axis in (0, 1))
        for tensor_id in step.inputs:
            if tensor_id in boxes:  # fan-out: the union over paths
                old = boxes[tensor_id]
                boxes[tensor_id] = [np.minimum(old[0], top), np.minimum(old[1], left),
                                    np.maximum(old[2], bottom), np.maximum(old[3], right)]
            else:
                boxes[tensor_id] = [top, left, bottom, right]
    result = np.stack(boxes[INPUT_ID], axis=1)
    empty = (result[:, 0] >= result[:, 2]) | (result[:, 1] >= result[:, 3])
    result[empty] = 0
    return result
