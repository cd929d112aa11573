"""Layer-wise relevance propagation over the one model graph.

`LRP` walks the model once (`zfkeras.graph.walk`, trunk and head, nested
models walked into), folds each BatchNormalization into the Dense or
convolution before it where that layer's output goes only to it
(canonisation), picks every weighted layer's rule from a composite (or the
user's ``rules``), and runs the model forward with the `layers` registry's
relevance-carrying ops. One ``tape.gradient`` seeded with the chosen class's
pre-softmax score then returns the input relevance: one forward and one
backward pass.
"""

import keras
import numpy as np
import tensorflow as tf

from zfkeras.graph.walk import INPUT_ID, walk
from zfkeras.methods.lrp.layers import BatchNormLayer, LinearLayer, is_linear, layer_rule
from zfkeras.methods.lrp.rules import RULE_NAMES, rule_from_name
from zfkeras.utils.errors import InputError, InputTypeError

__all__ = ["LRP", "COMPOSITES", "ordered_steps"]

_CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def _uniform(rule):
    def choose(kind, first):
        return rule

    return choose


def _composite(first_rule, conv_rule):
    """Zennit's composites: the input layer's rule, the convolutions' rule,
    epsilon for Dense layers (and for a BatchNormalization not folded)."""

    def choose(kind, first):
        if first and first_rule is not None:
            return first_rule
        return conv_rule if kind == "conv" else "epsilon"

    return choose


# method name -> (kind of layer, is an input layer) -> rule name
COMPOSITES = {
    "lrp_0": _uniform("zero"),
    "lrp_epsilon": _uniform("epsilon"),
    "lrp_gamma": _uniform("gamma"),
    "lrp_alpha1_beta0": _uniform("alpha1_beta0"),
    "lrp_alpha2_beta1": _uniform("alpha2_beta1"),
    "lrp_epsilon_plus_flat": _composite("flat", "alpha1_beta0"),
    "lrp_epsilon_gamma_box": _composite("zbox", "gamma"),
    "lrp_epsilon_alpha2_beta1": _composite(None, "alpha2_beta1"),
}


def ordered_steps(graph):
    """Trunk and head steps in one executable order (the head may feed the
    trunk, as in squeeze-and-excitation blocks)."""
    steps, done, pending = [], {INPUT_ID}, list(graph.steps) + list(graph.head)
    while pending:
        ready = [s for s in pending if all(i in done for i in s.inputs)]
        steps.extend(ready)
        done.update(s.output for s in ready)
        pending = [s for s in pending if s not in ready]
    return steps


def _layer_kind(layer):
    if isinstance(layer, keras.layers.BatchNormalization):
        return "batch_norm"
    return "conv" if isinstance(layer, _CONVOLUTIONS) else "dense"


class LRP:
    """One model's LRP, its rules chosen.

    Args:
        model: a single-input, single-output Keras classifier.
        composite: a name in `COMPOSITES`, or a function ``(kind, first) ->
            rule name`` (kind ``"conv"``, ``"dense"`` or ``"batch_norm"``;
            first: the layer reads the input through no other weighted layer).
        rules: None, or ``{layer name: rule}`` overriding the composite (rule
            names: `zfkeras.methods.lrp.rules.RULE_NAMES`, or `Rule` objects).
        epsilon, gamma: the epsilon and gamma rules' parameters.
        low, high: the z^B rule's input bounds.
        canonize: fold batch normalisation into the layer before it.

    Attributes:
        rules: ``{layer name: Rule}`` of every weighted layer.
        folded: names of the BatchNormalization layers folded away.
    """

    def __init__(self, model, composite="lrp_epsilon", rules=None, epsilon=1e-6, gamma=0.25, low=None, high=None,
                 canonize=True):
        graph = walk(model, unknown="keep")
        self._function = None
        self.steps = ordered_steps(graph)
        self.output = max(s.output for s in self.steps)
        self.classes = int(model.outputs[0].shape[-1])
        choose = COMPOSITES.get(composite) if isinstance(composite, str) else composite
        if not callable(choose):
            raise InputError(f"composite must be one of {', '.join(map(repr, COMPOSITES))} or a function; "
                             f"got {composite!r}")
        rules = self._check_rules(rules)
        needs_box = low is None or high is None
        producer = {s.output: s for s in self.steps}
        consumers = {}
        for s in self.steps:
            for i in s.inputs:
                consumers.setdefault(i, []).append(s)
        fold_into, self.folded = {}, set()
        for s in self.steps:
            before = producer.get(s.inputs[0]) if len(s.inputs) == 1 else None
            if (canonize and isinstance(s.layer, keras.layers.BatchNormalization) and before is not None
                    and is_linear(before.layer) and len(consumers.get(before.output, [])) == 1
                    and getattr(before.layer.activation, "__name__", "") == "linear"
                    and _channel_axis(s.layer)):
                fold_into[before.name] = s.layer
                self.folded.add(s.name)
        weighted_above = {INPUT_ID: False}
        self.rules, self.handlers = {}, []
        for s in self.steps:
            first = not any(weighted_above[i] for i in s.inputs)
            weighted = is_linear(s.layer) or (isinstance(s.layer, keras.layers.BatchNormalization)
                                             and s.name not in self.folded)
            weighted_above[s.output] = weighted or not first
            cls = layer_rule(s)
            rule = None
            if cls in (LinearLayer, BatchNormLayer) and s.name not in self.folded:
                name = rules.get(s.name, choose(_layer_kind(s.layer), first))
                if name == "zbox" and needs_box:
                    raise InputError(f"the z^B rule (layer {s.name!r}) needs the input's bounds low= and high=")
                rule = rule_from_name(name, epsilon=epsilon, gamma=gamma, low=low, high=high)
                self.rules[s.name] = rule
            folded = fold_into.get(s.name) if cls is LinearLayer else (s.name in self.folded)
            self.handlers.append(cls(s, rule, is_output=s.output == self.output, folded=folded))
        unused = sorted(set(rules) - set(self.rules))
        if unused:
            raise InputError(f"rules= names layers without weights an LRP rule reads (or folded batch "
                             f"normalisations): {', '.join(map(repr, unused))}; weighted layers: "
                             f"{', '.join(map(repr, self.rules))}")

    @staticmethod
    def _check_rules(rules):
        if rules is None:
            return {}
        if not isinstance(rules, dict):
            raise InputTypeError(f"rules must be None or a dict {{layer name: rule name}}; got {rules!r:.200}")
        for name, rule in rules.items():
            if isinstance(rule, str) and rule not in RULE_NAMES:
                raise InputError(f"rules[{name!r}]: an LRP rule must be one of {', '.join(map(repr, RULE_NAMES))}; "
                                 f"got {rule!r}")
        return dict(rules)

    def forward(self, images):
        """The model's pre-softmax scores, computed by the relevance-carrying ops."""
        values = {INPUT_ID: images}
        for handler in self.handlers:
            values[handler.step.output] = handler.forward([values[i] for i in handler.step.inputs])
        return values[self.output]

    def relevance(self, images, classes):
        """``(input relevance (N, H, W, C), scores (N, classes))`` as tensors;
        relevance starts at ``scores[n, classes[n]]``."""
        with tf.GradientTape() as tape:
            tape.watch(images)
            scores = self.forward(images)
        seed = tf.one_hot(classes, self.classes, dtype=scores.dtype) * scores
        return tape.gradient(scores, images, output_gradients=seed), scores

    def __call__(self, images, classes, batch_size=32, verbose=0):
        """Input relevance, numpy float32 ``(N, H, W, C)``, batched."""
        from zfkeras.methods.grad_cam import batched

        return batched(self.function, [np.asarray(images, "float32"), np.asarray(classes).astype("int32")],
                       batch_size, verbose)

    @property
    def function(self):
        """``fn(images, classes) -> input relevance``, a `tf.function` (tensors), built once."""
        if self._function is None:
            self._function = tf.function(lambda x, c: self.relevance(x, c)[0], reduce_retracing=True,
                                         autograph=False)
        return self._function


def _channel_axis(layer):
    axis = tuple(layer.axis) if isinstance(layer.axis, (list, tuple)) else (layer.axis,)
    return axis in ((-1,), (3,)) or (len(axis) == 1 and axis[0] == -1)
