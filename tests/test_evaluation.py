"""zfkeras.measures.evaluation against numpy top-k and a numpy ten-crop average."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import top_k_accuracy_score

from tests.images_helpers import numpy_ten_crops
from zfkeras.measures.evaluation import predict_ten_crop
from zfkeras.measures.evaluation import ten_crop_metrics
from zfkeras.measures.evaluation import top_k_accuracy

IMAGE, CROP, CLASSES = 16, 12, 7


def numpy_top_k(probabilities, labels, k):
    """Brute force: is the label among the indices of the k largest scores?"""
    hits = [label in np.argsort(-row)[:k] for row, label in zip(probabilities, labels)]
    return float(np.mean(hits))


@pytest.mark.parametrize("k", [1, 2, 5, 6])
def test_top_k_accuracy_equals_numpy_and_sklearn(k):
    rng = np.random.default_rng(k)
    probabilities = rng.dirichlet(np.ones(CLASSES), size=200)  # no ties
    labels = rng.integers(0, CLASSES, 200)
    expected = numpy_top_k(probabilities, labels, k)
    assert top_k_accuracy(probabilities, labels, k) == pytest.approx(expected, abs=1e-12)
    assert top_k_accuracy(probabilities, labels, k) == pytest.approx(
        top_k_accuracy_score(labels, probabilities, k=k, labels=np.arange(CLASSES)), abs=1e-12
    )


def test_top_k_accuracy_by_hand():
    probabilities = np.array(
        [
            [0.7, 0.2, 0.1],  # label 0: top-1
            [0.7, 0.2, 0.1],  # label 1: second
            [0.7, 0.2, 0.1],  # label 2: last
            [0.1, 0.3, 0.6],  # label 2: top-1
        ]
    )
    labels = np.array([0, 1, 2, 2])
    assert top_k_accuracy(probabilities, labels, 1) == 0.5
    assert top_k_accuracy(probabilities, labels, 2) == 0.75
    assert top_k_accuracy(probabilities, labels, 3) == 1.0
    assert top_k_accuracy(probabilities, labels, 5) == 1.0  # k beyond the classes
    # As tf.math.in_top_k: a tie with the k-th score counts as within the top k.
    tied = np.array([[0.4, 0.4, 0.2]])
    assert top_k_accuracy(tied, np.array([1]), 1) == 1.0
    in_top_k = tf.math.in_top_k(tf.constant([1]), tf.constant(tied, tf.float32), 1)
    assert bool(in_top_k.numpy()[0])


@pytest.mark.parametrize(
    "probabilities, labels, k, error, message",
    [
        (np.ones((2, 3)), np.array([0, 1]), 0, ValueError, "k must be a positive integer, got 0"),
        (np.ones((2, 3)), np.array([0, 1]), "5", TypeError, "k must be a positive integer, got '5'"),
        (np.ones(3), np.array([0]), 1, ValueError, r"non-empty \(N, K\) array, got shape \(3,\)"),
        (np.ones((2, 3)), np.array([0, 1, 2]), 1, ValueError, r"labels must have shape \(2,\)"),
        (np.ones((2, 3)), np.array([0.0, 1.0]), 1, TypeError, "labels must be integers, got dtype float64"),
        (np.ones((2, 3)), np.array([0, 3]), 1, ValueError, r"labels must be in \[0, 3\), got values from 0 to 3"),
    ],
)
def test_top_k_accuracy_bad_input(probabilities, labels, k, error, message):
    with pytest.raises(error, match=message):
        top_k_accuracy(probabilities, labels, k)


@pytest.fixture(scope="module")
def linear_model():
    """A tiny softmax classifier on 12x12 crops, and its numpy weights."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((CROP, CROP, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Flatten(),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    weights, bias = [v.numpy().astype(np.float64) for v in model.layers[-1].weights]
    return model, weights, bias


def numpy_ten_crop_probabilities(images, weights, bias):
    """The ten-crop average of the linear model, computed in numpy."""
    rows = []
    for image in images:
        crops = numpy_ten_crops(image.astype(np.float64), CROP)
        logits = (crops.reshape(10, -1) / 255.0) @ weights + bias
        softmax = np.exp(logits - logits.max(1, keepdims=True))
        rows.append((softmax / softmax.sum(1, keepdims=True)).mean(0))
    return np.array(rows)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (9, IMAGE, IMAGE, 3)).astype(np.float32)


def test_predict_ten_crop_equals_numpy_average(linear_model, images):
    model, weights, bias = linear_model
    expected = numpy_ten_crop_probabilities(images, weights, bias)
    batches = tf.data.Dataset.from_tensor_slices((images, np.zeros(9, np.int64))).batch(4)
    probabilities = predict_ten_crop(model, batches, crop_size=CROP)
    assert probabilities.shape == (9, CLASSES) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    # Not simply the centre crop's prediction.
    centre_crops = np.stack([numpy_ten_crops(image, CROP)[4] for image in images])
    assert not np.allclose(probabilities, model.predict_on_batch(centre_crops), atol=1e-4)
    # A numpy array of images, and a model giving logits, give the same.
    logit_model = keras.Sequential(
        [keras.Input((CROP, CROP, 3))] + model.layers[:-1] + [keras.layers.Dense(CLASSES)]
    )
    logit_model.layers[-1].set_weights([w.numpy() for w in model.layers[-1].weights])
    np.testing.assert_allclose(
        predict_ten_crop(logit_model, images, CROP, from_logits=True, verbose=1), expected, atol=1e-5
    )


def test_ten_crop_metrics_equal_numpy_top1_top5(linear_model, images):
    model, weights, bias = linear_model
    expected_probabilities = numpy_ten_crop_probabilities(images, weights, bias)
    ranking = np.argsort(-expected_probabilities, axis=1)
    # Labels chosen so that top-1 and top-5 are neither 0 nor 1: the
    # model's first choice for 3 images, its fourth for 3, its last for 3.
    labels = np.concatenate([ranking[:3, 0], ranking[3:6, 3], ranking[6:, CLASSES - 1]])
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    metrics = ten_crop_metrics(model, batches, CROP)
    assert metrics["ten_crop_accuracy"] == pytest.approx(numpy_top_k(expected_probabilities, labels, 1))
    assert metrics["ten_crop_top5"] == pytest.approx(numpy_top_k(expected_probabilities, labels, 5))
    assert metrics == pytest.approx({"ten_crop_accuracy": 3 / 9, "ten_crop_top5": 6 / 9})


def test_ten_crop_evaluation_bad_input(linear_model, images):
    model, _, _ = linear_model
    with pytest.raises(ValueError, match="the dataset is empty"):
        predict_ten_crop(model, [], CROP)
    with pytest.raises(ValueError, match=r"inputs must be 4-D.*got shape \(16, 16\) and dtype float32"):
        predict_ten_crop(model, [images[0, ..., 0]], CROP)
    with pytest.raises(ValueError, match="crop_size 20 is larger than the 16x16 images"):
        predict_ten_crop(model, images, 20)
    with pytest.raises(TypeError, match="crop_size must be a positive integer, got '12'"):
        predict_ten_crop(model, images, "12")
    with pytest.raises(ValueError, match=r"needs a dataset of \(images, labels\) batches"):
        ten_crop_metrics(model, tf.data.Dataset.from_tensor_slices(images).batch(4), CROP)
    with pytest.raises(TypeError, match="strategy must be a tf.distribute.Strategy or None, got 'mirrored'"):
        predict_ten_crop(model, images, CROP, strategy="mirrored")
    flat = keras.Sequential([keras.Input((CROP, CROP, 3)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"\(B, K\) model outputs, got shape \(9, 12, 12, 2\)"):
        predict_ten_crop(flat, images, CROP)


_MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from zfkeras.train.devices import configure_devices
    configure_devices(2)  # before TensorFlow runs any op
    import keras, numpy as np, tensorflow as tf
    from zfkeras.measures.evaluation import predict_ten_crop, ten_crop_metrics

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    keras.utils.set_random_seed(0)
    with strategy.scope():  # as zfkeras train builds its model
        model = keras.Sequential([keras.Input(({crop}, {crop}, 3)), keras.layers.Rescaling(1 / 255.0),
                                  keras.layers.Flatten(), keras.layers.Dense({classes}, activation="softmax")])
    images = np.random.default_rng(3).integers(0, 256, (9, {image}, {image}, 3)).astype(np.float32)
    labels = np.arange(9) % {classes}
    batches = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)  # last batch 1: one replica gets none
    out = {{
        "replicas": strategy.num_replicas_in_sync,
        "weights": [v.numpy().tolist() for v in model.layers[-1].weights],
        "images": images.tolist(), "labels": labels.tolist(),
        "shared": predict_ten_crop(model, batches, {crop}, strategy=strategy, verbose=0).tolist(),
        "one_device": predict_ten_crop(model, batches, {crop}, verbose=0).tolist(),
        "metrics": ten_crop_metrics(model, batches, {crop}, strategy=strategy, verbose=0),
    }}
    print("RESULT " + json.dumps(out))
    """
)


def test_mirrored_strategy_shares_the_crops_and_equals_numpy():
    # A model built under a two-replica strategy, as `zfkeras train --devices 2` builds it: with
    # strategy= the replicas share each batch, without it one device runs it (Keras' predict_on_batch
    # would return each batch once per replica).
    script = _MIRRORED_SCRIPT.format(crop=CROP, image=IMAGE, classes=CLASSES)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["replicas"] == 2
    weights, bias = (np.array(w, np.float64) for w in out["weights"])
    images, labels = np.array(out["images"], np.float32), np.array(out["labels"])
    expected = numpy_ten_crop_probabilities(images, weights, bias)
    assert np.array(out["shared"]).shape == (9, CLASSES)
    np.testing.assert_allclose(out["shared"], expected, atol=1e-5)
    np.testing.assert_allclose(out["one_device"], expected, atol=1e-5)
    assert out["metrics"] == pytest.approx({"ten_crop_accuracy": numpy_top_k(expected, labels, 1),
                                            "ten_crop_top5": numpy_top_k(expected, labels, 5)})
