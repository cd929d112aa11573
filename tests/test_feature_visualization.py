"""Feature visualisation (issue 25): the parameterisations against closed
forms, the optimiser against models whose best image is known, and the
contract (seeds, objectives, output policy, precision, errors)."""

import numpy as np
import pytest

import keras
import tensorflow as tf

import zfkeras
from zfkeras import Unit
from zfkeras.methods.feature_visualization import color, fourier, pixel_space as pixel_space_module
from zfkeras.methods.feature_visualization import FeatureVisualization, feature_visualization, objective_values
from zfkeras.utils.errors import InputError


def _scale255(pixels):
    return pixels / 255.0


# --- parameterisations -------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 12, 16, 3), (1, 9, 7, 1)])
def test_fourier_round_trip(shape):
    images = np.random.RandomState(1).normal(size=shape).astype("float32")
    coefficients = fourier.fourier_coefficients(images)
    assert coefficients.shape == (2, shape[0], shape[3], shape[1], shape[2] // 2 + 1)
    back = fourier.fourier_image(tf.constant(coefficients), shape[1], shape[2]).numpy()
    np.testing.assert_allclose(back, images, atol=1e-5)


def test_fourier_image_of_a_known_spectrum():
    # One coefficient at vertical frequency 0, horizontal frequency 3 cycles:
    # a cosine whose amplitude is the numpy closed form of the inverse FFT.
    h, w = 8, 16
    coefficients = np.zeros((2, 1, 1, h, w // 2 + 1), np.float32)
    coefficients[0, 0, 0, 0, 3] = 1.0
    image = fourier.fourier_image(tf.constant(coefficients), h, w).numpy()[0, ..., 0]
    scale = fourier.fourier_scale(h, w)[0, 3]
    # irfft2 of a single real coefficient c at (0, k): (2 c / (h w)) cos(2 pi k x / w).
    expected = 2 * scale / (h * w) * np.cos(2 * np.pi * 3 * np.arange(w) / w)[None, :] / 4.0
    np.testing.assert_allclose(image, np.broadcast_to(expected, (h, w)), atol=1e-6)
    # Lucid's scale: 1 / f (f = 3/16 cycles per pixel) times sqrt(h w).
    assert scale == pytest.approx(np.sqrt(h * w) / (3 / 16), rel=1e-6)


def test_colour_decorrelation_is_invertible_and_gives_the_stated_covariance():
    rng = np.random.RandomState(0)
    colours = rng.uniform(size=(5, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(color.correlate(color.decorrelate(colours)), colours, atol=1e-5)
    # White decorrelated channels -> colours with covariance M M^T.
    white = rng.standard_normal((200_000, 3)).astype("float32")
    covariance = np.cov(color.correlate(white), rowvar=False)
    np.testing.assert_allclose(covariance, color.COLOR_COVARIANCE, atol=0.01)
    # Lucid's published square root, normalised by its largest column norm.
    lucid = np.array([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    lucid = lucid / np.linalg.norm(lucid, axis=0).max()
    np.testing.assert_allclose(color.COLOR_COVARIANCE, lucid @ lucid.T, atol=1e-6)
    # The TensorFlow path is the same map.
    np.testing.assert_allclose(color.correlate(tf.constant(colours)).numpy(), color.correlate(colours), atol=1e-6)
    # Grey is left alone.
    grey = rng.uniform(size=(2, 3, 3, 1)).astype("float32")
    np.testing.assert_array_equal(color.correlate(grey), grey)


def test_maco_image_keeps_the_magnitude_and_moves_only_the_phase():
    h, w, c = 10, 12, 3
    rng = np.random.RandomState(0)
    magnitude = rng.uniform(0.5, 2.0, (c, h, w // 2 + 1)).astype("float32")
    phase = rng.normal(size=(2, c, h, w // 2 + 1)).astype("float32")
    image = fourier.maco_image(tf.constant(magnitude), tf.constant(phase), h, w).numpy()
    assert image.shape == (2, h, w, c)
    np.testing.assert_allclose(image.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(image.std(axis=(1, 2, 3)), 1, atol=1e-3)
    spectrum = np.abs(np.fft.rfft2(np.moveaxis(image, -1, 1), axes=(-2, -1)))
    # Columns 0 and w/2 are real-valued by symmetry (irfft drops their
    # imaginary parts); every other coefficient keeps the magnitude, up to
    # the one factor the image's standardisation applies.
    ratio = spectrum[..., 1:w // 2] / magnitude[None, ..., 1:w // 2]
    np.testing.assert_allclose(ratio / ratio.mean(axis=(1, 2, 3), keepdims=True), 1, rtol=1e-3)


def test_average_magnitude_is_the_spectrum_of_the_data():
    # Circular shifts of one image have its magnitude spectrum exactly.
    rng = np.random.RandomState(0)
    image = rng.uniform(size=(8, 8, 1))
    shifts = np.stack([np.roll(image, (dy, dx), axis=(0, 1)) for dy in range(3) for dx in range(3)])
    magnitude = fourier.average_magnitude(shifts)
    centred = (image - image.mean()) / (image.std() + 1e-5)
    np.testing.assert_allclose(magnitude[0], np.abs(np.fft.rfft2(centred[..., 0])), rtol=1e-4, atol=1e-4)


# --- pixel space -------------------------------------------------------------

def test_pixel_space_reads_an_affine_preprocessing_and_inverts_it():
    rng = np.random.RandomState(0)
    mean = rng.uniform(50, 200, (6, 5, 3)).astype("float32")

    def caffe_like(pixels):  # RGB -> BGR, minus a per-pixel mean, over a scale
        return (pixels[..., ::-1] - mean) / 58.0

    space = pixel_space_module.pixel_space((6, 5, 3), caffe_like)
    pixels = rng.uniform(0, 255, (4, 6, 5, 3)).astype("float32")
    np.testing.assert_allclose(space.to_model(tf.constant(pixels)).numpy(), caffe_like(pixels), atol=1e-4)
    np.testing.assert_allclose(space.to_pixels(caffe_like(pixels)), pixels, atol=1e-2)
    with pytest.raises(InputError, match="not affine"):
        pixel_space_module.pixel_space((6, 5, 3), lambda p: (p / 255.0) ** 2)
    with pytest.raises(InputError, match="preprocess= .* or inputs="):
        pixel_space_module.pixel_space((6, 5, 3))


# --- models --------------------------------------------------------------------

def _filter(h, w, c):
    """An oriented edge (nearly +-1 on either side), the single filter of
    `_filter_model`: a bounded image's best response to a linear filter is
    its sign, so a nearly binary filter is what the optimum can equal."""
    y, x = np.mgrid[0:h, 0:w].astype("float64")
    y, x = (y - (h - 1) / 2) / h, (x - (w - 1) / 2) / w
    pattern = np.tanh(6 * (x + y))
    return np.repeat(pattern[..., None], c, axis=-1).astype("float32")


def _filter_model(w):
    h, wd, c = w.shape
    inputs = keras.Input((h, wd, c))
    conv = keras.layers.Conv2D(1, (h, wd), use_bias=False, activation="relu", name="unit")
    model = keras.Model(inputs, keras.layers.Flatten()(conv(inputs)))
    conv.kernel.assign(w[..., None])
    return model


def _correlation(a, b):
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


@pytest.mark.parametrize("method", ["fourier", "maco"])
@pytest.mark.parametrize("channels, seed", [(1, 0), (3, 1)])
def test_a_single_linear_filter_is_recovered(method, channels, seed):
    w = _filter(20, 20, channels)
    model = _filter_model(w)
    # Model inputs are pixels / 255 - 0.5. MaCo's magnitude is the filter's own
    # (circular shifts of it): the best image of that spectrum is the filter.
    shifts = np.stack([np.roll(w, (dy, dx), axis=(0, 1)) for dy in (-2, 0, 2) for dx in (-2, 0, 2)])
    inputs = shifts / (2 * np.abs(shifts).max())
    result = feature_visualization(model, Unit("unit", 0), method=method, inputs=inputs,
                                   preprocess=lambda p: p / 255.0 - 0.5, steps=256, seed=seed, verbose=0)
    assert result.images.shape == (1, 20, 20, channels)
    assert _correlation(result.images[0], w) >= 0.9
    assert result.values[0] > 0
    assert result.images.min() >= -0.5 and result.images.max() <= 0.5  # valid pixels only


def test_transparency_shows_where_the_unit_looks():
    w = _filter(20, 20, 1)
    w[:, 10:] = 0  # the unit reads the left half only
    result = feature_visualization(_filter_model(w), Unit("unit", 0), method="maco",
                                   inputs=np.random.RandomState(0).uniform(size=(16, 20, 20, 1)),
                                   preprocess=_scale255, steps=64, verbose=0)
    alpha = result.transparency[0]
    assert alpha.shape == (20, 20) and alpha.max() == pytest.approx(1.0) and alpha.min() >= 0
    assert alpha[:, :8].sum() > 3 * alpha[:, 12:].sum()
    fourier_result = feature_visualization(_filter_model(w), Unit("unit", 0), method="fourier",
                                           preprocess=_scale255, steps=4, verbose=0)
    assert fourier_result.transparency is None


def _small_model(softmax, channels=3, size=12):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((size, size, channels))
    h = keras.layers.Conv2D(6, 3, activation="relu", name="conv1")(inputs)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    outputs = keras.layers.Dense(5, activation="softmax" if softmax else None, name="fc")(h)
    return keras.Model(inputs, outputs)


def test_a_softmax_head_optimises_the_score_before_the_softmax():
    probabilities = _small_model(softmax=True)
    logits = _small_model(softmax=False)
    logits.set_weights(probabilities.get_weights())
    data = np.random.RandomState(0).uniform(size=(8, 12, 12, 3)).astype("float32")
    for method in ("maco", "fourier"):
        a = feature_visualization(probabilities, [1, 4], method=method, inputs=data, steps=24, verbose=0)
        b = feature_visualization(logits, [1, 4], method=method, inputs=data, steps=24, verbose=0)
        np.testing.assert_allclose(a.images, b.images, atol=1e-5)
        # The values are the logits, not probabilities.
        expected = logits.predict(a.images, verbose=0)[[0, 1], [1, 4]]
        np.testing.assert_allclose(a.values, expected, rtol=1e-4, atol=1e-5)


def test_same_seed_same_images_other_seed_other_images():
    model = _small_model(softmax=True)
    data = np.random.RandomState(0).uniform(size=(8, 12, 12, 3)).astype("float32")
    objectives = [Unit("conv2", 1), Unit("conv1", 2, position=(3, 4)), 2]
    for method in ("maco", "fourier"):
        first = feature_visualization(model, objectives, method=method, inputs=data, steps=12, seed=5, verbose=0)
        again = feature_visualization(model, objectives, method=method, inputs=data, steps=12, seed=5, verbose=0)
        other = feature_visualization(model, objectives, method=method, inputs=data, steps=12, seed=6, verbose=0)
        np.testing.assert_array_equal(first.images, again.images)
        assert np.abs(first.images - other.images).mean() > 1e-3


def test_objectives_in_groups_are_optimised_as_alone():
    model = _small_model(softmax=True)
    data = np.random.RandomState(0).uniform(size=(8, 12, 12, 3)).astype("float32")
    objectives = [Unit("conv2", 1), 2, Unit("conv2", 5)]
    # batch_size 8 with 4 crops: groups of 2 objectives, one after the other;
    # the first group is exactly the run of its two objectives alone.
    grouped = feature_visualization(model, objectives, inputs=data, crops=4, steps=12, batch_size=8, verbose=0)
    first = feature_visualization(model, objectives[:2], inputs=data, crops=4, steps=12, verbose=0)
    np.testing.assert_array_equal(grouped.images[:2], first.images)
    np.testing.assert_array_equal(grouped.values[:2], first.values)
    start = feature_visualization(model, objectives, inputs=data, crops=4, steps=1, verbose=0).values
    assert np.all(grouped.values > start)
    np.testing.assert_allclose(np.diag(objective_values(model, objectives, grouped.images)), grouped.values,
                               rtol=1e-4, atol=1e-6)


def test_values_are_the_objectives_on_the_returned_images():
    model = _small_model(softmax=True)
    data = np.random.RandomState(0).uniform(size=(8, 12, 12, 3)).astype("float32")
    objectives = [Unit("conv2", 1), Unit("conv1", 2, position=(3, 4)), 2, Unit("conv2", 7)]
    result = feature_visualization(model, objectives, inputs=data, steps=8, verbose=0)
    assert isinstance(result, FeatureVisualization) and len(result) == 4
    assert result.objectives == tuple(objectives)
    # An independent oracle: plain Keras sub-models.
    conv1 = keras.Model(model.inputs, model.get_layer("conv1").output).predict(result.images, verbose=0)
    conv2 = keras.Model(model.inputs, model.get_layer("conv2").output).predict(result.images, verbose=0)
    fc_in = keras.Model(model.inputs, model.get_layer("fc").input).predict(result.images, verbose=0)
    logits = fc_in @ model.get_layer("fc").kernel.numpy() + model.get_layer("fc").bias.numpy()
    expected = [conv2[0, ..., 1].mean(), conv1[1, 3, 4, 2], logits[2, 2], conv2[3, ..., 7].mean()]
    np.testing.assert_allclose(result.values, expected, rtol=1e-4, atol=1e-6)
    table = objective_values(model, objectives, result.images)
    np.testing.assert_allclose(np.diag(table), result.values, rtol=1e-4, atol=1e-6)
    # Displayable pixels: the preprocessing (here the inputs' range) undone.
    assert result.pixels.dtype == np.uint8
    low, high = data.min(axis=(0, 1, 2)), data.max(axis=(0, 1, 2))
    np.testing.assert_allclose(result.pixels / 255.0 * (high - low) + low, result.images, atol=1.0 / 255 + 1e-5)
    with pytest.raises(Exception):
        result.images[0, 0, 0, 0] = 1.0  # read-only


def _nested_model():
    base = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                             keras.layers.BatchNormalization(name="bn"), keras.layers.ReLU(name="relu")],
                            name="base")
    inputs = keras.Input((12, 12, 3))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(base(inputs)))
    return keras.Model(inputs, outputs), base


def test_nested_base_with_batch_normalisation_and_mixed_precision():
    from zfkeras.keras_objects.precision import mixed_precision_policy

    keras.utils.set_random_seed(4)
    model, base = _nested_model()
    bn = base.get_layer("bn")
    bn.moving_mean.assign(np.full(4, 0.3, "float32"))
    bn.moving_variance.assign(np.full(4, 4.0, "float32"))
    data = np.random.RandomState(0).uniform(size=(8, 12, 12, 3)).astype("float32")
    objectives = [Unit("base/relu", 2), 1]
    result = feature_visualization(model, objectives, inputs=data, steps=16, verbose=0)
    relu = keras.Model(base.inputs, base.get_layer("relu").output).predict(result.images[:1], verbose=0)
    assert result.values[0] == pytest.approx(relu[0, ..., 2].mean(), rel=1e-4, abs=1e-6)  # inference-mode BN
    # A mixed-precision model with the same weights is optimised through its float32 copy: the same images.
    with mixed_precision_policy():
        mixed, _ = _nested_model()
    mixed.set_weights(model.get_weights())
    assert mixed.layers[-1].compute_dtype == "float16"
    again = feature_visualization(mixed, objectives, inputs=data, steps=16, verbose=0)
    # (Any layer of the nested base left in float16 moves the images by ~1e-2 after 16 steps.)
    np.testing.assert_allclose(again.images, result.images, atol=1e-5)


def test_a_graph_with_residual_adds_and_concatenation():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(6, 3, padding="same", name="a")(inputs)
    b = keras.layers.ReLU(name="b")(keras.layers.Conv2D(6, 3, padding="same")(a))
    merged = keras.layers.Concatenate(name="cat")([keras.layers.Add()([a, b]), inputs])
    top = keras.layers.Conv2D(5, 3, activation="relu", name="top")(merged)
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(top)))
    data = np.random.RandomState(0).uniform(size=(8, 12, 12, 3)).astype("float32")
    # (Maps and a class: MaCo's crops move what a fixed-position neuron sees,
    # so one neuron's value on the whole image need not grow at every step.)
    objectives = [Unit("top", 3), Unit("cat", 7), 3]
    for method in ("maco", "fourier"):
        start = feature_visualization(model, objectives, method=method, inputs=data, steps=1, verbose=0)
        end = feature_visualization(model, objectives, method=method, inputs=data, steps=40, verbose=0)
        assert np.all(end.values > start.values), (method, start.values, end.values)
        np.testing.assert_allclose(np.diag(objective_values(model, objectives, end.images)), end.values,
                                   rtol=1e-4, atol=1e-6)


# --- a tiny trained model: grey data, its own spectrum, activation reached ----

@pytest.fixture(scope="module")
def digits_model():
    """A small convnet trained for a few seconds on sklearn's 8x8 digits at 16x16 (grey)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.repeat(np.repeat(digits.images, 2, 1), 2, 2)[..., None].astype("float32") / 16.0
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(16, 3, activation="relu", name="conv2")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="fc")(h))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images[:1400], digits.target[:1400], epochs=15, batch_size=64, verbose=0)
    accuracy = model.evaluate(images[1400:], digits.target[1400:], verbose=0)[1]
    assert accuracy > 0.7  # it learnt something: its units mean something
    return model, images[:1400], images[1400:]


def test_grey_model_from_the_datasets_spectrum(digits_model, no_network):
    model, train, _ = digits_model
    result = feature_visualization(model, [Unit("conv2", c) for c in range(4)], inputs=train,
                                   preprocess=_scale255, steps=32, verbose=0)
    assert result.images.shape == (4, 16, 16, 1) and not no_network
    # Undo the sigmoid: the optimised image's spectrum is the digits' average one.
    gain, bias = fourier.sigmoid_contrast(train)
    p = np.clip(result.images.astype("float64"), 1e-6, 1 - 1e-6)
    z = (np.log(p / (1 - p)) - bias) / gain
    spectrum = np.abs(np.fft.rfft2(z[..., 0], axes=(-2, -1)))[..., 1:8]
    expected = fourier.average_magnitude(train)[0, :, 1:8]
    for k in range(4):
        assert _correlation(spectrum[k], expected) > 0.98


def test_activation_reached_on_a_trained_models_units(digits_model):
    model, train, test = digits_model
    units = [Unit(layer, c) for layer, n in (("conv1", 8), ("conv2", 16)) for c in range(n)]
    strongest = objective_values(model, units, test).max(axis=1)
    live = strongest > 1e-3
    result = feature_visualization(model, units, inputs=train, preprocess=_scale255, verbose=0)
    reached = result.values[live] / strongest[live]
    print("MaCo activation reached", live.sum(), "live", np.round(reached, 2).tolist())
    assert np.median(reached) >= 1.0, reached
    assert np.mean(reached >= 1.0) >= 0.75, reached
    lucid = feature_visualization(model, units, method="fourier", inputs=train, preprocess=_scale255,
                                  steps=256, verbose=0)
    print("Lucid activation reached", np.round(lucid.values[live] / strongest[live], 2).tolist())
    moved = live & (lucid.values > 0)  # units silent on a grey image get no gradient (docs)
    assert moved.sum() >= live.sum() // 3
    assert np.all(lucid.values[moved] / strongest[moved] >= 1.0), lucid.values[moved] / strongest[moved]


# --- errors ----------------------------------------------------------------------

@pytest.mark.parametrize("objective, match", [
    (Unit("nope", 0), "nope"),
    (Unit("conv2", 8), "channel 8 is out of range .* 8 channels"),
    (Unit("conv1", 0, position=(10, 0)), r"position \(10, 0\) is outside"),
    (5, "class objective 5 is beyond the head .* 5 classes"),
    (Unit("conv1", [0, 1]), "one channel or position per image"),
])
def test_bad_objectives_are_named(objective, match):
    model = _small_model(softmax=True)
    data = np.random.RandomState(0).uniform(size=(4, 12, 12, 3)).astype("float32")
    with pytest.raises(InputError, match=match):
        feature_visualization(model, [Unit("conv1", 0), objective], inputs=data, steps=1, verbose=0)


def test_bad_arguments():
    model = _small_model(softmax=True)
    data = np.random.RandomState(0).uniform(size=(4, 12, 12, 3)).astype("float32")
    with pytest.raises(InputError, match="inputs="):
        feature_visualization(model, 0, method="maco", preprocess=_scale255, steps=1, verbose=0)
    with pytest.raises(InputError, match="method"):
        feature_visualization(model, 0, method="deepdream", inputs=data, verbose=0)
    with pytest.raises(TypeError, match="objective"):
        feature_visualization(model, ["conv1"], inputs=data, verbose=0)
    with pytest.raises(InputError, match="empty"):
        feature_visualization(model, [], inputs=data, verbose=0)
    # Lucid's method needs no spectrum: a preprocessing is enough.
    result = feature_visualization(model, 0, method="fourier", preprocess=_scale255, steps=2, verbose=0)
    assert 0 <= result.images.min() and result.images.max() <= 1


def test_top_level_export():
    assert zfkeras.feature_visualization is feature_visualization
