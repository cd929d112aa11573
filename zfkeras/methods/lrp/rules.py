"""The LRP rules of a linear map: how relevance at its output goes to its input.

A layer with weights (Dense, Conv2D, DepthwiseConv2D, each half of a
SeparableConv2D, an unfolded BatchNormalization) is one or more
`LinearMap` ``z = apply(x, W, b)``. A rule redistributes the relevance
``R`` of the outputs ``z_j`` over the inputs ``x_i`` in proportion to the
contributions ``x_i w_ij`` (or modified ones), by the gradient-times-input
identity: for a linear map, ``sum_j w_ij s_j`` is the vector-Jacobian
product of ``apply(., W, 0)`` at ``s``, so every rule costs one forward of
the (modified) map and one transposed map (Montavon et al. 2019, Zennit's
and Captum's implementation).

=================  ======================================================
rule               ``R_i``
=================  ======================================================
``zero``           ``x_i sum_j w_ij R_j / z_j`` (LRP-0)
``epsilon``        ``x_i sum_j w_ij R_j / (z_j + eps sign(z_j))``
``gamma``          LRP-0 with ``w + gamma w+`` and ``b + gamma b+``
``alpha_beta``     ``alpha R+_i - beta R-_i``: LRP-0 of the positive
                   contributions (``x+ w+``, ``x- w-``, ``b+``) and of the
                   negative ones (``x+ w-``, ``x- w+``, ``b-``) apart
``flat``           ``sum_j R_j / |receptive field of j|`` (all weights 1,
                   inputs 1, no bias)
``wsquare``        ``sum_j w_ij^2 R_j / sum_i w_ij^2``
``zbox``           ``(x_i w_ij - l_i w+_ij - h_i w-_ij)`` in proportion
                   (z^B, inputs bounded by ``low <= x <= high``)
=================  ======================================================

``sign(0)`` is +1. Rules other than ``epsilon`` (and ``epsilon=0``) give
0 where ``z = 0`` (a unit nothing contributes to; its relevance is 0 in a
ReLU network). Nothing else is added to the denominators, so a model with
tiny activations (an untrained deep one) is explained at its own scale.
"""

import dataclasses
from typing import Callable, Optional

import tensorflow as tf

from zfkeras.utils.errors import InputError

__all__ = ["LinearMap", "Zero", "Epsilon", "Gamma", "AlphaBeta", "Flat", "WSquare", "ZBox", "RULE_NAMES",
           "rule_from_name", "divide"]

_SAME = object()  # "the map's own bias"


@dataclasses.dataclass
class LinearMap:
    """``z = apply(x, kernel, bias)``, linear in ``x`` for a fixed kernel.

    Attributes:
        apply: ``(x, kernel, bias or None) -> z``.
        kernel: the weights (a tensor).
        bias: the bias (a tensor) or None.
    """

    apply: Callable
    kernel: tf.Tensor
    bias: Optional[tf.Tensor]

    def __call__(self, x, kernel=None, bias=_SAME):
        return self.apply(x, self.kernel if kernel is None else kernel, self.bias if bias is _SAME else bias)

    def transposed(self, x, kernel, s):
        """``sum_j kernel_ij s_j`` at every input ``i`` (the map's vector-Jacobian
        product; ``x`` gives only the input's shape)."""
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = self.apply(x, kernel, None)
        return tape.gradient(z, x, output_gradients=s)


def stabilize(z, epsilon):
    """``z + epsilon sign(z)``, ``sign(0) = 1``.

    ``z + (epsilon or -epsilon)``, chosen by one select between two scalars:
    three elementwise ops (compare, select, add), not the six of
    ``epsilon * where(z >= 0, ones, -ones)`` (two fills, a negation, a
    multiplication); the same numbers, ``epsilon * +-1`` being exact.
    """
    return z + tf.where(z >= 0, tf.constant(epsilon, z.dtype), tf.constant(-epsilon, z.dtype))


def divide(relevance, z, epsilon=0.0):
    """``relevance / (z + epsilon sign(z))``; with ``epsilon = 0``, 0 where ``z = 0``."""
    if not epsilon:
        return tf.math.divide_no_nan(relevance, z)
    return relevance / stabilize(z, epsilon)


def _positive(t):
    return None if t is None else tf.nn.relu(t)


def _negative(t):
    return None if t is None else tf.minimum(t, 0.0)


class Rule:
    """Base class. ``relevance(linear, x, R) -> R_in``."""

    name = ""

    def relevance(self, linear, x, relevance, output=None):
        """``R_in`` at ``x``; ``output``: the map's value at ``x`` when known
        (saves recomputing it)."""
        raise NotImplementedError

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class Epsilon(Rule):
    """LRP-epsilon (Bach et al. 2015)."""

    name = "epsilon"

    def __init__(self, epsilon=1e-6):
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon >= 0:
            raise InputError(f"epsilon must be a number >= 0; got {epsilon!r}")
        self.epsilon = float(epsilon)

    def relevance(self, linear, x, relevance, output=None):
        z = linear(x) if output is None else output
        return x * linear.transposed(x, linear.kernel, divide(relevance, z, self.epsilon))


class Zero(Epsilon):
    """LRP-0: contributions in proportion, nothing absorbed."""

    name = "zero"

    def __init__(self):
        super().__init__(0.0)


class Gamma(Rule):
    """LRP-gamma (Montavon et al. 2019): positive weights (and bias) favoured."""

    name = "gamma"

    def __init__(self, gamma=0.25):
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma >= 0:
            raise InputError(f"gamma must be a number >= 0; got {gamma!r}")
        self.gamma = float(gamma)

    def relevance(self, linear, x, relevance, output=None):
        kernel = linear.kernel + self.gamma * tf.nn.relu(linear.kernel)
        bias = None if linear.bias is None else linear.bias + self.gamma * tf.nn.relu(linear.bias)
        z = linear(x, kernel, bias)
        return x * linear.transposed(x, kernel, divide(relevance, z))


class AlphaBeta(Rule):
    """LRP-alpha-beta (Bach et al. 2015), ``alpha - beta = 1``."""

    def __init__(self, alpha, beta):
        if alpha - beta != 1 or beta < 0:
            raise InputError(f"alpha-beta needs alpha - beta = 1 and beta >= 0; got alpha={alpha!r}, beta={beta!r}")
        self.alpha, self.beta = float(alpha), float(beta)
        self.name = f"alpha{alpha:g}_beta{beta:g}"

    def _part(self, linear, x, relevance, same, other, bias):
        """LRP-0 on the contributions ``x+ same + x- other (+ bias)``."""

        def non_negative():  # after a ReLU: half the work
            return x * linear.transposed(x, same, divide(relevance, linear(x, same, bias)))

        def signed():
            x_pos, x_neg = tf.nn.relu(x), tf.minimum(x, 0.0)
            s = divide(relevance, linear(x_pos, same, bias) + linear(x_neg, other, None))
            return x_pos * linear.transposed(x, same, s) + x_neg * linear.transposed(x, other, s)

        return tf.cond(tf.reduce_min(x) >= 0, non_negative, signed)

    def relevance(self, linear, x, relevance, output=None):
        w_pos, w_neg = tf.nn.relu(linear.kernel), tf.minimum(linear.kernel, 0.0)
        out = self.alpha * self._part(linear, x, relevance, w_pos, w_neg, _positive(linear.bias))
        if self.beta:
            out -= self.beta * self._part(linear, x, relevance, w_neg, w_pos, _negative(linear.bias))
        return out


class Flat(Rule):
    """Flat: relevance spread evenly over each output's receptive field."""

    name = "flat"

    def relevance(self, linear, x, relevance, output=None):
        ones, kernel = tf.ones_like(x), tf.ones_like(linear.kernel)
        z = linear(ones, kernel, None)
        return linear.transposed(x, kernel, divide(relevance, z))


class WSquare(Rule):
    """w-square (Montavon et al. 2017): in proportion to the squared weights."""

    name = "wsquare"

    def relevance(self, linear, x, relevance, output=None):
        kernel = tf.square(linear.kernel)
        z = linear(tf.ones_like(x), kernel, None)
        return linear.transposed(x, kernel, divide(relevance, z))


class ZBox(Rule):
    """z^B (Montavon et al. 2017) for inputs bounded by ``low`` and ``high``
    (numbers, or arrays broadcastable to one input)."""

    name = "zbox"

    def __init__(self, low, high):
        self.low, self.high = low, high

    def relevance(self, linear, x, relevance, output=None):
        low = tf.cast(tf.broadcast_to(self.low, tf.shape(x)), x.dtype)
        high = tf.cast(tf.broadcast_to(self.high, tf.shape(x)), x.dtype)
        w_pos, w_neg = tf.nn.relu(linear.kernel), tf.minimum(linear.kernel, 0.0)
        z = linear(x, linear.kernel, None) - linear(low, w_pos, None) - linear(high, w_neg, None)
        s = divide(relevance, z)
        return (x * linear.transposed(x, linear.kernel, s) - low * linear.transposed(x, w_pos, s)
                - high * linear.transposed(x, w_neg, s))


RULE_NAMES = ("zero", "epsilon", "gamma", "alpha1_beta0", "alpha2_beta1", "flat", "wsquare", "zbox")


def rule_from_name(name, epsilon=1e-6, gamma=0.25, low=None, high=None):
    """The `Rule` called ``name`` (one of `RULE_NAMES`), or ``name`` itself
    when it is a `Rule`."""
    if isinstance(name, Rule):
        return name
    if name == "zero":
        return Zero()
    if name == "epsilon":
        return Epsilon(epsilon)
    if name == "gamma":
        return Gamma(gamma)
    if name == "alpha1_beta0":
        return AlphaBeta(1, 0)
    if name == "alpha2_beta1":
        return AlphaBeta(2, 1)
    if name == "flat":
        return Flat()
    if name == "wsquare":
        return WSquare()
    if name == "zbox":
        return ZBox(low, high)
    raise InputError(f"an LRP rule must be one of {', '.join(map(repr, RULE_NAMES))} or a "
                     f"zfkeras.methods.lrp.rules.Rule; got {name!r}")
