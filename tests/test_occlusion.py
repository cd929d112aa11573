"""zfkeras.occlusion: the known-answer linear model, layer activity, bad input."""

import keras
import numpy as np
import pytest

import zfkeras
from zfkeras.methods.occlusion import OcclusionResult, occlusion

H, W = 9, 8
REGION = (2, 6, 3, 7)  # rows [2, 6), cols [3, 7): the pixels the model sees
WEIGHT = 0.8


def _region_mask(channels):
    mask = np.zeros((H, W, channels), "float32")
    top, bottom, left, right = REGION
    mask[top:bottom, left:right] = 1.0
    return mask


def linear_model(channels=2, softmax=True):
    """logit_0 = WEIGHT * sum of the pixels in REGION, logit_1 = 0."""
    inputs = keras.Input((H, W, channels))
    flat = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(2, activation="softmax" if softmax else None, name="fc")
    outputs = dense(flat)
    kernel = np.zeros((H * W * channels, 2), "float32")
    kernel[:, 0] = WEIGHT * _region_mask(channels).reshape(-1)
    dense.set_weights([kernel, np.zeros(2, "float32")])
    return keras.Model(inputs, outputs)


def closed_form(images, size, stride, fill):
    """p(class 0) for every corner: the occluded region sum from rectangle overlaps."""
    top, bottom, left, right = REGION
    n = len(images)
    rows = np.arange(0, H - size + 1, stride)
    cols = np.arange(0, W - size + 1, stride)
    region_sum = images[:, top:bottom, left:right].sum(axis=(1, 2, 3))
    out = np.empty((n, len(rows), len(cols)))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            r0, r1 = max(r, top), min(r + size, bottom)
            c0, c1 = max(c, left), min(c + size, right)
            hidden = images[:, r0:r1, c0:c1].sum(axis=(1, 2, 3)) if r1 > r0 and c1 > c0 else 0.0
            area = max(r1 - r0, 0) * max(c1 - c0, 0)
            occluded = region_sum - hidden + area * np.sum(fill)
            out[:, i, j] = 1.0 / (1.0 + np.exp(-WEIGHT * occluded))
    return out


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (3, H, W, 2)).astype("float32")


@pytest.mark.parametrize("size,stride", [(3, 1), (4, 2), (2, 3), (6, 2)])
def test_linear_model_matches_closed_form(images, size, stride):
    fill = np.array([0.3, -0.5], "float32")
    result = occlusion(linear_model(), images, size, stride, baseline=fill, targets=[0, 0, 0],
                       verbose=0)
    expected = closed_form(images, size, stride, fill)
    assert isinstance(result, OcclusionResult)
    np.testing.assert_allclose(result.class_probability, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.predicted_label, (expected < 0.5).astype(int))
    rows, cols = expected.shape[1:]
    assert result.corners.shape == (rows, cols, 2)
    np.testing.assert_array_equal(result.corners[1, 0], [stride, 0])
    assert result.layer_activity is None and result.strongest_channel is None
    assert result.method == "full"


def test_default_baseline_is_per_channel_mean_and_targets_are_predictions(images):
    result = occlusion(linear_model(), images, 3, 2, verbose=0)
    np.testing.assert_allclose(result.baseline, images.mean(axis=(0, 1, 2)), rtol=1e-6)
    region = images[:, REGION[0]:REGION[1], REGION[2]:REGION[3]].sum(axis=(1, 2, 3))
    predicted = (region < 0).astype(int)  # class 0 when its logit is positive
    np.testing.assert_array_equal(result.true_label, predicted)
    p0 = closed_form(images, 3, 2, result.baseline)
    expected = np.where(predicted[:, None, None] == 0, p0, 1 - p0)
    np.testing.assert_allclose(result.class_probability, expected, rtol=1e-5, atol=1e-6)


def test_from_logits_gives_the_softmax_model_answer(images):
    probs = occlusion(linear_model(), images, 3, 2, baseline=0.0, targets=[1, 0, 1], verbose=0)
    logits = occlusion(linear_model(softmax=False), images, 3, 2, baseline=0.0, targets=[1, 0, 1],
                       from_logits=True, verbose=0)
    np.testing.assert_allclose(logits.class_probability, probs.class_probability, rtol=1e-5)
    # detected: a model without a final softmax outputs logits
    detected = occlusion(linear_model(softmax=False), images, 3, 2, baseline=0.0, targets=[1, 0, 1], verbose=0)
    np.testing.assert_allclose(detected.class_probability, probs.class_probability, rtol=1e-5)


def test_the_old_fill_and_labels_keywords_still_work_and_warn(images):
    with pytest.warns(DeprecationWarning) as warned:
        old = occlusion(linear_model(), images, 3, 2, fill=None, labels=[1, 0, 1], verbose=0)
    messages = " ".join(str(w.message) for w in warned)
    assert "'fill' is deprecated" in messages and "'baseline'" in messages and "'labels' is deprecated" in messages
    new = occlusion(linear_model(), images, 3, 2, baseline="mean", targets=[1, 0, 1], verbose=0)
    np.testing.assert_array_equal(old.class_probability, new.class_probability)
    with pytest.warns(DeprecationWarning, match="use .baseline"):
        np.testing.assert_array_equal(old.fill, new.baseline)
    with pytest.raises(TypeError, match="images"):  # the last release's images= is gone
        occlusion(linear_model(), size=3, stride=2, images=images)


def test_the_result_is_frozen_and_its_image_maps_average_the_squares(images):
    import dataclasses

    result = occlusion(linear_model(), images, 4, 3, baseline=0.0, verbose=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.size = 3
    drop = result.unoccluded_probability[:, None, None] - result.class_probability
    maps = result.image_maps()
    assert maps.shape == (3, H, W) and maps.dtype == np.float32
    for y, x in np.ndindex(H, W):  # brute force: the squares covering each pixel
        covering = [(i, j) for i, j in np.ndindex(*result.corners.shape[:2])
                    if result.corners[i, j, 0] <= y < result.corners[i, j, 0] + 4
                    and result.corners[i, j, 1] <= x < result.corners[i, j, 1] + 4]
        expected = np.mean([drop[:, i, j] for i, j in covering], axis=0) if covering else np.zeros(3)
        np.testing.assert_allclose(maps[:, y, x], expected, rtol=1e-5, atol=1e-7)
    assert (maps[:, :, W - 1] == 0).all()  # stride 3 from 0 with side 4 never covers the last column


def conv_model():
    """A linear 1x1 conv (map c = (c + 1) * pixel sum over channels) then a dense head."""
    inputs = keras.Input((H, W, 2))
    conv = keras.layers.Conv2D(2, 1, name="conv")
    x = conv(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(keras.layers.Flatten()(x))
    conv.set_weights([np.array([[[[1.0, 2.0], [1.0, 2.0]]]], "float32"), np.array([0.5, 0.25], "float32")])
    return keras.Model(inputs, outputs)


def test_layer_activity_is_the_strongest_maps_total():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (2, H, W, 2)).astype("float32")
    fill = np.array([0.1, 0.7], "float32")
    size, stride = 3, 2
    result = occlusion(conv_model(), images, size, stride, baseline=fill, layer="conv", verbose=0)
    np.testing.assert_array_equal(result.strongest_channel, [1, 1])  # weight 2 beats weight 1
    expected = np.empty(result.layer_activity.shape)
    for i, j in np.ndindex(*expected.shape[1:]):
        r, c = result.corners[i, j]
        hidden = images[:, r:r + size, c:c + size].sum(axis=(1, 2, 3))
        total = images.sum(axis=(1, 2, 3)) - hidden + size * size * fill.sum()
        expected[:, i, j] = 2.0 * total + 0.25 * H * W
    np.testing.assert_allclose(result.layer_activity, expected, rtol=1e-5)
    # a Unit fixes the channel (per image here): map 0 is 1 * total + 0.5 * H * W
    fixed = occlusion(conv_model(), images, size, stride, baseline=fill, unit=zfkeras.Unit("conv", [0, 1]),
                      verbose=0)
    np.testing.assert_array_equal(fixed.strongest_channel, [0, 1])
    np.testing.assert_allclose(fixed.layer_activity[0], (expected[0] - 0.25 * H * W) / 2 + 0.5 * H * W, rtol=1e-5)
    np.testing.assert_allclose(fixed.layer_activity[1], expected[1], rtol=1e-5)
    with pytest.raises(ValueError, match="position is not used"):
        occlusion(conv_model(), images, size, stride, unit=zfkeras.Unit("conv", 0, position=(1, 1)), verbose=0)
    with pytest.raises(ValueError, match="layer or unit, not both"):
        occlusion(conv_model(), images, size, stride, layer="conv", unit=zfkeras.Unit("conv", 0), verbose=0)


def test_layer_must_be_a_feature_map():
    images = np.zeros((1, H, W, 2), "float32")
    with pytest.raises(ValueError, match="not a convolutional feature map.*choose one of"):
        occlusion(conv_model(), images, 3, 1, layer="dense", verbose=0)
    with pytest.raises(TypeError, match="layer must be a layer name"):
        occlusion(conv_model(), images, 3, 1, layer=3, verbose=0)


def test_top_level_name_is_the_function(images):
    import zfkeras.methods.occlusion.api

    assert zfkeras.occlusion is zfkeras.methods.occlusion.api.occlusion
    a = zfkeras.occlusion(linear_model(), images[:1], 4, 4, verbose=0)
    b = occlusion(linear_model(), images[:1], 4, 4, verbose=0)
    np.testing.assert_array_equal(a.class_probability, b.class_probability)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(size=10), ValueError, "larger than the image"),
    (dict(stride=0), ValueError, "stride must be a positive integer"),
    (dict(size=2.5), TypeError, "size must be a positive integer"),
    (dict(targets=[0, 1]), ValueError, "one class index per image"),
    (dict(targets=[0, 2, 1]), ValueError, r"targets must be in \[0, 2\)"),
    (dict(targets=[0, -1, 1]), ValueError, r"got -1 at index 1"),
    (dict(targets=zfkeras.Unit("fc", 0)), ValueError, "occlusion maps classes"),
    (dict(baseline=[1.0, 2.0, 3.0]), ValueError, "2 values"),
    (dict(baseline="blur"), ValueError, "'blur' is not accepted here"),
    (dict(method="fast"), ValueError, "method must be one of"),
    (dict(layer="fc"), ValueError, "Deconvnet can mirror"),
])
def test_bad_arguments(images, kwargs, error, match):
    args = dict(size=3, stride=1)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        occlusion(linear_model(), images, verbose=0, **args)


def test_bad_images():
    model = linear_model()
    with pytest.raises(ValueError, match="must be 4-D"):
        occlusion(model, np.zeros((H, W, 2)), 3, 1)
    with pytest.raises(ValueError, match="resize them"):
        occlusion(model, np.zeros((1, H + 1, W, 2)), 3, 1)
    with pytest.raises(ValueError, match="empty"):
        occlusion(model, np.zeros((0, H, W, 2)), 3, 1)


def test_model_without_probabilities():
    images = np.random.default_rng(2).uniform(1, 2, (2, H, W, 2)).astype("float32")
    with pytest.raises(ValueError, match="from_logits=True"):
        occlusion(linear_model(softmax=False), images, 3, 1, from_logits=False, verbose=0)
    conv_only = keras.Sequential([keras.Input((H, W, 2)), keras.layers.Conv2D(2, 3)])
    with pytest.raises(ValueError, match=r"output is \(N, classes\)"):
        occlusion(conv_only, images, 3, 1, verbose=0)
    with pytest.raises(TypeError, match="keras.Model"):
        occlusion(lambda x: x, images, 3, 1)


def test_layer_the_deconvnet_cannot_mirror():
    inputs = keras.Input((H, W, 2))
    x = keras.layers.Conv2D(2, 3, activation="tanh", name="conv")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="Deconvnet"):
        occlusion(model, np.zeros((1, H, W, 2)), 3, 1, layer="conv", verbose=0)


def test_traced_engines_are_kept_with_the_model_and_go_with_it(images):
    import gc
    import weakref

    from zfkeras.utils.model_cache import model_cache

    model = linear_model()
    occlusion(model, images[:1], 4, 4, verbose=0)
    engines = model_cache(model, "occlusion")
    assert ("full", None) in engines and not any("cache" in v.name for v in model.weights)
    again = occlusion(model, images[:1], 4, 4, verbose=0)
    assert model_cache(model, "occlusion") is engines and again.class_probability.shape == (1, 2, 2)
    alive = weakref.ref(model)
    del model, engines
    gc.collect()
    assert alive() is None  # the engines refer to the model: kept on it, they do not keep it alive
