"""Cross-check with Xplique 2.0.2: Integrated Gradients, SmoothGrad, VarGrad.

On the plain Keras convnet of benchmarks/xplique_methods.py (logits, random
weights, seed 0), 8 random images, their predicted classes:

* ``integrated_gradients`` (``rule="riemann_trapezoid"``, baseline 0, 50
  steps) against ``IntegratedGradients(steps=50, baseline_value=0,
  reducer=None)`` (Xplique's trapezoid rule);
* ``smoothgrad`` / ``vargrad`` (20 samples, noise 0.2 of each image's range,
  seed 0) against ``SmoothGrad`` / ``VarGrad(nb_samples=20, reducer=None)``
  with the **same noise draws**: Xplique's ``_perturb_samples`` (a
  ``tf.random.normal`` of absolute standard deviation ``noise``) is replaced
  by ours (numpy, ``seed``, image after image, relative to the range), one
  image per Xplique batch.

Run in the Xplique venv (``bash benchmarks/xplique_env.sh``):

    .xplique-venv/bin/python -m benchmarks.xplique_attribution [--out rows.json]
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import zfkeras
from benchmarks.xplique_methods import _models, rel
from zfkeras.utils.atomic import write_json_atomic

N, STEPS, SAMPLES, NOISE, SEED = 8, 50, 20, 0.2, 0


def _our_noise(images):
    """Our draws, in the order ours makes them (zfkeras.methods.attribution.noise_gradients)."""
    rng = np.random.default_rng(SEED)
    return [(NOISE * float(im.max() - im.min()) * rng.standard_normal((SAMPLES,) + im.shape)).astype("float32")
            for im in images]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    import xplique
    from xplique.attributions import IntegratedGradients, SmoothGrad, VarGrad
    from xplique.attributions.gradient_statistics import gradient_statistic

    model, _ = _models()
    images = np.random.default_rng(1).uniform(0, 1, (N, 32, 32, 3)).astype("float32")
    classes = model.predict(images, verbose=0).argmax(axis=1)
    targets = tf.one_hot(classes, 10).numpy()
    rows = []

    ours = zfkeras.explain(model, images, "integrated_gradients", classes, steps=STEPS, baseline=0.0,
                           rule="riemann_trapezoid").attributions
    theirs = IntegratedGradients(model, steps=STEPS, baseline_value=0.0, reducer=None,
                                 batch_size=STEPS * 2).explain(images, targets).numpy()
    rows.append(dict(ours="integrated_gradients", xplique="IntegratedGradients", rel_l2=rel(ours, theirs),
                     max_abs=float(np.abs(ours - theirs).max()), scale=float(np.abs(theirs).max())))

    for method, explainer in (("smoothgrad", SmoothGrad), ("vargrad", VarGrad)):
        draws = iter(_our_noise(images))

        def perturb(inputs, nb_perturbations, noise):  # our draws, one image per batch
            return tf.repeat(inputs, nb_perturbations, axis=0) + next(draws)[:nb_perturbations]

        gradient_statistic.GradientStatistic._perturb_samples = staticmethod(perturb)
        theirs = explainer(model, nb_samples=SAMPLES, noise=NOISE, reducer=None,
                           batch_size=SAMPLES).explain(images, targets).numpy()
        ours = zfkeras.explain(model, images, method, classes, samples=SAMPLES, noise=NOISE, seed=SEED).attributions
        rows.append(dict(ours=method, xplique=explainer.__name__, rel_l2=rel(ours, theirs),
                         max_abs=float(np.abs(ours - theirs).max()), scale=float(np.abs(theirs).max())))
    for row in rows:
        row.update(xplique=row["xplique"] + f" (xplique {xplique.__version__})", steps=STEPS, samples=SAMPLES,
                   noise=NOISE)
        print(json.dumps(row), flush=True)
    if args.out:
        write_json_atomic(args.out, rows)
    return rows


if __name__ == "__main__":
    main()
