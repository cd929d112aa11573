"""Cross-check with Xplique 2.0.2: guided backprop, gradient, Grad-CAM,
deletion and insertion, on the same model, images and maps.

* unit guided backprop: ``Deconvnet.project(method="guided_backprop") / value``
  against ``GuidedBackprop(reducer=None)`` of a model whose output is the
  layer's flattened maps, the target one-hot at the unit;
* unit gradient: ``|project(method="gradient") / value|`` against
  ``Saliency(reducer=None)`` (Xplique takes the absolute value always);
* class gradient: ``|class_projection(method="gradient")|`` against
  ``Saliency(reducer=None)`` of the logits model; class guided backprop
  against ``GuidedBackprop(reducer=None)`` (through the head's ReLU too);
* Grad-CAM of the predicted class: ``grad_cam(interpolation="bicubic")``
  against ``GradCAM`` (which resizes bicubically);
* deletion / insertion: ``faithfulness(...).mean`` against Xplique's
  ``Deletion`` / ``Insertion(...).evaluate`` on the same maps (probability
  model, baseline 0, 10 steps).

Run in the Xplique venv (``bash benchmarks/xplique_env.sh``):

    .xplique-venv/bin/python -m benchmarks.xplique_methods [--n 16] [--out rows.json]
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import keras
import tensorflow as tf

import zfkeras
from zfkeras.utils.atomic import write_json_atomic
from zfkeras.methods.grad_cam import class_projection
from zfkeras.methods.unit import Unit

L = keras.layers


def _models(seed=0):
    """A plain Keras convnet (Xplique clones it), 32 px RGB, logits and probabilities."""
    keras.utils.set_random_seed(seed)
    logits = keras.Sequential([
        keras.Input((32, 32, 3)),
        L.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        L.MaxPooling2D(2, name="pool2"),
        L.Conv2D(32, 3, padding="same", activation="relu", name="conv3"),
        L.Flatten(name="flatten"),
        L.Dense(32, activation="relu", name="fc"),
        L.Dense(10, name="logits"),
    ], name="net")
    probabilities = keras.Sequential([logits, L.Softmax()], name="net_probabilities")
    return logits, probabilities


def rel(a, b):
    """Relative L2 error over the whole batch."""
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-30))


def main(argv=None):
    from xplique.attributions import GradCAM, GuidedBackprop, Saliency
    from xplique.metrics import Deletion, Insertion

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    logits, probabilities = _models()
    rng = np.random.RandomState(1)
    x = rng.uniform(-1, 1, (args.n, 32, 32, 3)).astype("float32")
    classes = logits.predict(x, verbose=0).argmax(1)
    one_hot = np.eye(10, dtype="float32")[classes]
    rows = []

    # units of conv3: the strongest activation of a live channel in each image
    deconv = zfkeras.Deconvnet(logits)
    maps = keras.Model(logits.inputs[0], logits.get_layer("conv3").output).predict(x, verbose=0)
    channels = np.array([rng.choice(np.flatnonzero(m.max(axis=(0, 1)) > 0)) for m in maps])
    per = maps[np.arange(args.n), :, :, channels]
    flat = per.reshape(args.n, -1).argmax(1)
    pos = np.stack(np.unravel_index(flat, per.shape[1:]), 1)
    values = per.reshape(args.n, -1)[np.arange(args.n), flat][:, None, None, None]
    unit_model = keras.Sequential([keras.Input((32, 32, 3))] + logits.layers[:5] + [L.Flatten()])
    targets = np.zeros((args.n, int(np.prod(maps.shape[1:]))), "float32")
    targets[np.arange(args.n), np.ravel_multi_index((pos[:, 0], pos[:, 1], channels), maps.shape[1:])] = 1
    ours = deconv.project(x, Unit("conv3", channels), method="guided_backprop") / values
    theirs = GuidedBackprop(unit_model, reducer=None).explain(x, targets).numpy()
    rows.append(dict(check="unit guided backprop vs GuidedBackprop", rel_err=rel(ours, theirs)))
    ours = np.abs(deconv.project(x, Unit("conv3", channels), method="gradient") / values)
    theirs = Saliency(unit_model, reducer=None).explain(x, targets).numpy()
    rows.append(dict(check="unit |gradient| vs Saliency(reducer=None)", rel_err=rel(ours, theirs)))
    gradient = class_projection(logits, x, classes, method="gradient", verbose=0)
    theirs = Saliency(logits, reducer=None).explain(x, one_hot).numpy()
    rows.append(dict(check="class |gradient| vs Saliency(reducer=None)", rel_err=rel(np.abs(gradient), theirs)))
    guided = class_projection(logits, x, classes, method="guided_backprop", verbose=0)
    theirs = GuidedBackprop(logits, reducer=None).explain(x, one_hot).numpy()
    rows.append(dict(check="class guided backprop vs GuidedBackprop", rel_err=rel(guided, theirs)))
    cam = zfkeras.grad_cam(logits, x, "conv3", targets=classes, interpolation="bicubic", verbose=0)
    theirs = GradCAM(logits, conv_layer="conv3").explain(x, one_hot).numpy()[..., 0]
    rows.append(dict(check="Grad-CAM (bicubic) vs GradCAM", rel_err=rel(cam, theirs)))

    for name, saliency in (("|gradient| summed over channels", np.abs(gradient).sum(-1)), ("Grad-CAM", cam)):
        for metric, cls in (("deletion", Deletion), ("insertion", Insertion)):
            ours = zfkeras.faithfulness(probabilities, x, saliency, metric, steps=10, baseline=0.0, targets=classes,
                                        verbose=0)
            theirs = cls(probabilities, x, one_hot, batch_size=64, baseline_mode=0.0, steps=10).evaluate(saliency)
            rows.append(dict(check=f"{metric} AUC of {name}", ours=ours.mean, xplique=float(theirs),
                             abs_diff=abs(ours.mean - float(theirs))))
    for row in rows:
        print(json.dumps(row), flush=True)
    if args.out:
        write_json_atomic(args.out, rows)


if __name__ == "__main__":
    main()
