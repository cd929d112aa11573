"""``unpooling="auto"``: pick the faster of the two unpooling paths.

Both paths give the same projections (the max-pool gradient kernel keeps
the same switches internally; tests/test_deconvnet_methods.py): which is
faster depends on the CPU's kernels. On a 2-core x86_64 with AVX-512 the
switch path (``max_pool_with_argmax`` up, ``MaxPoolGradWithArgmax`` down)
made zfnet_small's projection cost 1.44 gradients, the fused path
(``max_pool2d`` up, ``MaxPoolGrad`` down) 1.02; on an AMD EPYC without
AVX-512 the two were equal (docs/BENCHMARKS.md). So the choice is measured,
once per `Deconvnet`, on the model's own max pools: a few milliseconds,
each path's pools up and down at the model's shapes, calls interleaved.
"""

import statistics
import time

import numpy as np
import tensorflow as tf

from zfkeras.deconv.rules_pool import MaxPoolRule

SWITCHES, MAX_POOL_GRAD, AUTO = "switches", "max_pool_grad", "auto"
UNPOOLING_MODES = (AUTO, SWITCHES, MAX_POOL_GRAD)

# Images per timed call and timed calls per path: enough to see a 1.4x
# kernel difference through a loaded machine's noise, small enough to cost
# milliseconds.
PROBE_BATCH = 8
PROBE_REPEATS = 5


def _pools_function(rules, shapes):
    """A tf.function running each pool up and its way down, as a projection does."""

    @tf.function(autograph=False)
    def run(inputs):
        total = tf.constant(0.0)
        for rule, x in zip(rules, inputs):
            y, saved = rule.up([x])
            total += tf.reduce_sum(rule.down(y, saved)[0])
        return total

    inputs = [tf.constant(np.random.RandomState(0).rand(PROBE_BATCH, *s).astype("float32"))
              for s in shapes]
    return lambda: run(inputs).numpy()


def timed(fns, repeats=PROBE_REPEATS):
    """Median seconds per call of each function, calls interleaved."""
    for fn in fns:
        fn()  # tracing
    spent = [[] for _ in fns]
    for _ in range(repeats):
        for fn, times in zip(fns, spent):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in spent]


def choose(plans, sizes):
    """The faster unpooling for the max pools of ``plans[SWITCHES]``.

    Args:
        plans: callable ``mode -> Plan`` (the deconvnet's plans per mode).
        sizes: tensor id -> ``(H, W)`` at the model's input size, or None
            when the model's size is not fixed.

    Returns:
        ``"switches"`` or ``"max_pool_grad"``; ``"switches"`` when the model
        has no max pool (nothing to choose), ``"max_pool_grad"`` when the
        sizes are unknown (the path never slower in our measurements).
    """
    pools = [i for i, step in enumerate(plans(SWITCHES).steps) if isinstance(step.rule, MaxPoolRule)]
    if not pools:
        return SWITCHES
    if sizes is None:
        return MAX_POOL_GRAD
    steps = plans(SWITCHES).steps
    # a max pool keeps its input's channels
    shapes = [(*sizes[steps[i].inputs[0]], steps[i].shape[-1]) for i in pools]
    fns = [_pools_function([plans(mode).steps[i].rule for i in pools], shapes)
           for mode in (SWITCHES, MAX_POOL_GRAD)]
    switches_s, fused_s = timed(fns)
    return SWITCHES if switches_s < fused_s else MAX_POOL_GRAD
