"""The LRP methods of `zfkeras.explain`, registered on import.

Uniform rules (``"lrp_0"``, ``"lrp_epsilon"``, ``"lrp_gamma"``,
``"lrp_alpha1_beta0"``, ``"lrp_alpha2_beta1"``) and Zennit's composites
(``"lrp_epsilon_plus_flat"``, ``"lrp_epsilon_gamma_box"``,
``"lrp_epsilon_alpha2_beta1"``). Plain Python: the engine (TensorFlow) is
imported when a method runs.
"""

from zfkeras.methods.registry import Method, register_method

__all__ = ["LRP_OPTIONS", "CHANNEL_RULE"]

LRP_OPTIONS = {"epsilon": 1e-6, "gamma": 0.25, "low": None, "high": None, "rules": None}
CHANNEL_RULE = "sum over channels (the input relevance, conserved)"

_SUMMARIES = {
    "lrp_0": "LRP-0: the class score redistributed in proportion to each input's contribution",
    "lrp_epsilon": "LRP-epsilon: LRP-0 with a stabiliser absorbing weak and contradictory contributions",
    "lrp_gamma": "LRP-gamma: LRP-0 with positive weights favoured by gamma",
    "lrp_alpha1_beta0": "LRP-alpha1-beta0 (z+): only positive contributions receive relevance",
    "lrp_alpha2_beta1": "LRP-alpha2-beta1: positive contributions twice, negative ones subtracted",
    "lrp_epsilon_plus_flat": "LRP composite (Zennit's EpsilonPlusFlat): flat input layer, z+ convolutions, "
                             "epsilon dense",
    "lrp_epsilon_gamma_box": "LRP composite (Zennit's EpsilonGammaBox): z^B input layer, gamma convolutions, "
                             "epsilon dense",
    "lrp_epsilon_alpha2_beta1": "LRP composite (Zennit's EpsilonAlpha2Beta1): alpha2-beta1 convolutions, "
                                "epsilon dense",
}


def _needs_bounds(name, rules):
    """Whether the method reads the input's bounds (the z^B rule)."""
    return name == "lrp_epsilon_gamma_box" or (isinstance(rules, dict) and "zbox" in rules.values())


def _method(name):
    def run(model, images, targets, *, batch_size, verbose, epsilon, gamma, low, high, rules):
        from zfkeras.methods.lrp.engine import LRP

        if _needs_bounds(name, rules):
            # the bounds default to the range of the images explained
            low = float(images.min()) if low is None else low
            high = float(images.max()) if high is None else high
        engine = LRP(model, name, rules=rules, epsilon=epsilon, gamma=gamma, low=low, high=high)
        attributions = engine(images, targets, batch_size=batch_size, verbose=verbose)
        return attributions, attributions.sum(axis=-1)

    run.__name__ = name
    return run


def _graph(name):
    """The method as TensorFlow ops (`Method.graph`): the export's ``explain_<name>``."""

    def build(model, *, epsilon, gamma, low, high, rules):
        import tensorflow as tf

        from zfkeras.methods.lrp.engine import LRP

        bounds = _needs_bounds(name, rules) and (low is None or high is None)
        # built now, so that an unsupported layer is named at export time
        engine = LRP(model, name, rules=rules, epsilon=epsilon, gamma=gamma,
                     low=0.0 if bounds else low, high=0.0 if bounds else high)

        def run(images, classes):
            used = engine
            if bounds:  # as `run`: the range of the images explained (the request's)
                used = LRP(model, name, rules=rules, epsilon=epsilon, gamma=gamma,
                           low=tf.reduce_min(images) if low is None else low,
                           high=tf.reduce_max(images) if high is None else high)
            relevance = used.relevance(images, classes)[0]
            return relevance, tf.reduce_sum(relevance, axis=-1)

        return run

    build.__name__ = f"{name}_graph"
    return build


for _name, _summary in _SUMMARIES.items():
    register_method(Method(name=_name, function=_method(_name), summary=_summary, kind="relevance propagation",
                           units=False, signed=True, channel_rule=CHANNEL_RULE, options=LRP_OPTIONS,
                           graph=_graph(_name)))
