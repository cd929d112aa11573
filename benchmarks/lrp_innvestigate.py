"""Cross-check of zfkeras' LRP against iNNvestigate 2.1.2, per pixel.

iNNvestigate needs TensorFlow < 2.15 (Keras 2), zfkeras Keras 3: the check
runs in three stages and two environments, on the same weights and images.

1. ``ours`` (the project's venv): builds a chain (conv, batch norm, max
   pooling, Dense head) and a residual network (Add, global average
   pooling), with random biases and batch-norm statistics; saves the
   weights, images and our relevances for each analyzer.
2. ``theirs`` (``bash benchmarks/innvestigate_env.sh`` -> ``.innvestigate-venv``,
   tensorflow-cpu 2.14.1 on Python 3.11): builds the same models in
   tf.keras (Keras 2) from the same code, loads the weights, runs
   iNNvestigate's analyzers on the logits (``model_wo_softmax``), index mode.
3. ``compare`` (the project's venv): relative L2 error and the largest
   per-pixel difference, per model and analyzer, as JSON.

    .venv/bin/python -m benchmarks.lrp_innvestigate --stage ours --dir /tmp/lrp_x
    .innvestigate-venv/bin/python benchmarks/lrp_innvestigate.py --stage theirs --dir /tmp/lrp_x
    .venv/bin/python -m benchmarks.lrp_innvestigate --stage compare --dir /tmp/lrp_x --out docs/lrp_innvestigate.json

Pairs (ours -> iNNvestigate): ``lrp_epsilon`` -> ``lrp.epsilon``;
``lrp_alpha1_beta0`` -> ``lrp.alpha_1_beta_0``; the composite conv
alpha1-beta0 / Dense epsilon 0.1 -> ``lrp.sequential_preset_a``; conv
alpha2-beta1 / Dense epsilon 0.1 (``lrp_epsilon_alpha2_beta1``) ->
``lrp.sequential_preset_b``. iNNvestigate does not fold batch
normalisation: it applies its z-rule to it (``x s R / y``), so ours runs
with ``canonize=False`` and the ``zero`` rule on batch norms; each run is
also compared with our default (folded) to show what canonisation changes.
This file imports no zfkeras at module level (the iNNvestigate venv cannot).
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

N, SIZE = 8, 16
EPSILON = 1e-3


def build(layers, model_class, name):
    """The same architecture in Keras 3 or tf.keras 2 (``layers``, ``Model``)."""
    inp = layers.Input((SIZE, SIZE, 3))
    if name == "chain":
        x = layers.Conv2D(8, 3, padding="same", name="conv1")(inp)
        x = layers.BatchNormalization(name="bn1")(x)
        x = layers.Activation("relu", name="relu1")(x)
        x = layers.MaxPooling2D(2, name="pool1")(x)
        x = layers.Conv2D(12, 3, padding="same", activation="relu", name="conv2")(x)
        x = layers.MaxPooling2D(2, name="pool2")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(16, activation="relu", name="fc")(x)
    else:
        x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
        y = layers.Conv2D(8, 3, padding="same", name="res_a")(x)
        y = layers.BatchNormalization(name="res_bn")(y)
        y = layers.Activation("relu", name="res_relu")(y)
        y = layers.Conv2D(8, 3, padding="same", name="res_b")(y)
        x = layers.Add(name="add")([x, y])
        x = layers.Activation("relu", name="add_relu")(x)
        x = layers.MaxPooling2D(2, name="pool")(x)
        x = layers.Conv2D(12, 3, padding="same", activation="relu", name="conv")(x)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
    out = layers.Dense(5, name="logits")(x)
    return model_class(inp, out, name=name)


MODELS = ("chain", "residual")
ANALYZERS = {  # ours (method or composite) -> iNNvestigate's name and options
    "lrp_epsilon": ("lrp.epsilon", {"epsilon": EPSILON}),
    "lrp_alpha1_beta0": ("lrp.alpha_1_beta_0", {}),
    "preset_a": ("lrp.sequential_preset_a", {"epsilon": 0.1}),
    "preset_b": ("lrp.sequential_preset_b", {"epsilon": 0.1}),
}


def _our_composite(name):
    """Our rules for ``name``: ``(composite, epsilon)``."""
    if name in ("lrp_epsilon", "lrp_alpha1_beta0"):
        return name, EPSILON  # our own methods: one rule for every layer, batch norms included
    conv = "alpha1_beta0" if name == "preset_a" else "alpha2_beta1"
    return (lambda kind, first: {"conv": conv, "dense": "epsilon", "batch_norm": "zero"}[kind]), 0.1


def _their_definitions(model, name):
    """iNNvestigate 2.1.2's own definitions as per-layer rules on our engine:

    * alpha-beta: each part's denominator has the whole bias ``b`` (its
      positive-weight copy keeps ``b+``, the negative one ``b-``, and both
      are added), where ours (and Zennit's) has ``b+`` (``b-``) only;
    * batch normalisation, under ``lrp.epsilon`` / ``lrp.alpha_*`` (its
      ``bn_layer_rule`` = the analyzer's rule): the rule applied to iNNvestigate's
      fused affine map ``x gamma / sqrt(var^2 + eps) + beta - mean / sqrt(var^2 + eps)``
      (``innvestigate.backend.graph.apply_mapping_to_fused_bn_layer``), which is
      not the layer's own map (``var`` for ``var^2``; ``mean`` not times gamma);
      under the presets (``bn_layer_rule=None`` here): its z-rule ``x s R / y``
      with the true scale ``s`` (our ``zero`` on the unfolded layer).
    """
    import keras
    import tensorflow as tf
    from zfkeras.methods.lrp import rules as R

    class FullBiasAlphaBeta(R.AlphaBeta):
        def relevance(self, linear, x, relevance, output=None):
            w_pos, w_neg = tf.nn.relu(linear.kernel), tf.minimum(linear.kernel, 0.0)
            out = self.alpha * self._part(linear, x, relevance, w_pos, w_neg, linear.bias)
            if self.beta:
                out -= self.beta * self._part(linear, x, relevance, w_neg, w_pos, linear.bias)
            return out

    class FusedBatchNorm(R.Rule):
        def __init__(self, inner, layer):
            gamma, beta, mean, variance = (w.astype("float32") for w in layer.get_weights())
            root = np.sqrt(variance ** 2 + layer.epsilon)
            self.inner, self.kernel, self.bias = inner, tf.constant(gamma / root), tf.constant(beta - mean / root)

        def relevance(self, linear, x, relevance, output=None):
            return self.inner.relevance(R.LinearMap(linear.apply, self.kernel, self.bias), x, relevance)

    if name == "lrp_epsilon":
        weighted, batch_norm = R.Epsilon(EPSILON), R.Epsilon(EPSILON)
    elif name == "lrp_alpha1_beta0":
        weighted = batch_norm = FullBiasAlphaBeta(1, 0)
    else:
        weighted, batch_norm = FullBiasAlphaBeta(*((1, 0) if name == "preset_a" else (2, 1))), None
    rules = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            rules[layer.name] = "zero" if batch_norm is None else FusedBatchNorm(batch_norm, layer)
        elif isinstance(layer, keras.layers.Conv2D) or (isinstance(layer, keras.layers.Dense)
                                                         and name.startswith("lrp_")):
            rules[layer.name] = weighted
    return rules


def ours(folder):
    import keras
    from zfkeras.methods.lrp.engine import LRP

    rng = np.random.default_rng(0)
    images = rng.normal(size=(N, SIZE, SIZE, 3)).astype("float32")
    saved = {"images": images}
    for name in MODELS:
        keras.utils.set_random_seed(1)
        model = build(keras.layers, keras.Model, name)
        mode = os.environ.get("LRP_X_RANDOM", "bias,bn")  # what is randomised (a debugging aid)
        for layer in model.layers:  # random biases and batch-norm statistics, as after training
            if isinstance(layer, keras.layers.BatchNormalization) and "bn" in mode:
                c = layer.gamma.shape[0]
                layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                                   rng.uniform(0.5, 1.5, c)])
            elif getattr(layer, "bias", None) is not None and "bias" in mode:
                layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape))
        classes = model.predict(images, verbose=0).argmax(axis=1).astype("int32")
        saved[f"{name}/classes"] = classes
        for i, w in enumerate(model.get_weights()):
            saved[f"{name}/w{i}"] = w
        for analyzer in ANALYZERS:
            composite, epsilon = _our_composite(analyzer)
            saved[f"{name}/{analyzer}/ours"] = LRP(model, composite, epsilon=epsilon, canonize=False)(images, classes)
            saved[f"{name}/{analyzer}/ours_folded"] = LRP(model, composite, epsilon=epsilon)(images, classes)
            saved[f"{name}/{analyzer}/their_definitions"] = LRP(
                model, composite, epsilon=epsilon, canonize=False,
                rules=_their_definitions(model, analyzer))(images, classes)
    np.savez(os.path.join(folder, "ours.npz"), **saved)


def theirs(folder):
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import innvestigate
    from innvestigate.analyzer.relevance_based import relevance_analyzer

    # iNNvestigate 2.1.2 indexes shapes with BatchNormalization's axis as
    # tf.keras 2.14 stores it (a list): take its one entry
    original_init = relevance_analyzer.BatchNormalizationReverseLayer.__init__

    def init(self, layer, state):
        original_init(self, layer, state)
        if not isinstance(self._axis, int):
            self._axis = int(list(self._axis)[0])

    relevance_analyzer.BatchNormalizationReverseLayer.__init__ = init
    data = np.load(os.path.join(folder, "ours.npz"))
    images = data["images"]
    out = {"versions": np.array([innvestigate.__version__ if hasattr(innvestigate, "__version__") else "?",
                                 tf.__version__])}
    for name in MODELS:
        model = build(tf.keras.layers, tf.keras.Model, name)
        count = len(model.get_weights())
        model.set_weights([data[f"{name}/w{i}"] for i in range(count)])
        classes = data[f"{name}/classes"]
        for analyzer, (their_name, options) in ANALYZERS.items():
            if their_name.startswith("lrp.sequential_preset"):
                options = dict(options, bn_layer_rule=None)  # its z-rule BatchNormalizationReverseLayer
            explainer = innvestigate.create_analyzer(their_name, model, neuron_selection_mode="index", **options)
            out[f"{name}/{analyzer}"] = explainer.analyze(images, neuron_selection=classes)
    np.savez(os.path.join(folder, "theirs.npz"), **out)


def compare(folder, path=None):
    ours_data, theirs_data = np.load(os.path.join(folder, "ours.npz")), np.load(os.path.join(folder, "theirs.npz"))
    rows = []
    for name in MODELS:
        for analyzer, (their_name, options) in ANALYZERS.items():
            theirs_map = theirs_data[f"{name}/{analyzer}"]
            row = dict(model=name, ours=analyzer, innvestigate=their_name, options=options,
                       versions=theirs_data["versions"].tolist())
            for key in ("ours", "ours_folded", "their_definitions"):
                mine = ours_data[f"{name}/{analyzer}/{key}"]
                row[f"{key}_rel_l2"] = float(np.linalg.norm(mine - theirs_map) / max(np.linalg.norm(theirs_map), 1e-30))
                row[f"{key}_max_abs"] = float(np.abs(mine - theirs_map).max())
            row["scale"] = float(np.abs(theirs_map).max())
            print(json.dumps(row), flush=True)
            rows.append(row)
    if path:
        with open(path, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("ours", "theirs", "compare"), required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    {"ours": ours, "theirs": theirs}.get(args.stage, lambda d: compare(d, args.out))(args.dir)


if __name__ == "__main__":
    main()
