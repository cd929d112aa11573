import numpy as np
import pytest
import keras
from sklearn.datasets import load_digits

import zfkeras
from zfkeras import Deconvnet
from tests import oracle
from zfkeras.methods.unit import Unit
from zfkeras.utils.errors import InputError, InputTypeError


_rel_err = oracle.rel_err


def _digits(n, size=28, seed=0):
    """Real handwritten digits (scikit-learn), upscaled to size x size."""
    digits = load_digits().images.astype("float32")
    rng = np.random.RandomState(seed)
    pick = digits[rng.choice(len(digits), n, replace=False)]
    up = np.kron(pick, np.ones((3, 3), "float32"))  # 24x24
    pad = (size - 24) // 2
    out = np.zeros((n, size, size, 1), "float32")
    out[:, pad : pad + 24, pad : pad + 24, 0] = up / 16.0
    return out


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(1)
    return zfkeras.zfnet_small((28, 28, 1), 10, seed=3)


@pytest.fixture(scope="module")
def small_deconv(small_model):
    return Deconvnet(small_model)


@pytest.mark.parametrize("layer", ["conv1", "pool1", "norm1", "conv2", "pool2", "conv3", "conv5", "pool5"])
def test_zfnet_small_matches_oracle(small_model, small_deconv, layer):
    images = _digits(6)
    c = small_deconv.layer_output_shape(layer)[-1]
    channels = np.random.RandomState(0).randint(0, c, size=len(images))
    ours = small_deconv.project(images, Unit(layer, channels))
    ref, _ = oracle.project(small_model, images, layer, channels)
    assert ours.shape == images.shape
    # a non-trivial comparison: most chosen activations are alive
    assert (np.abs(ref).reshape(len(ref), -1).sum(1) > 0).sum() >= len(ref) // 2
    assert _rel_err(ours, ref).max() < 1e-4


@pytest.mark.parametrize("unpooling", ["switches", "max_pool_grad"])
def test_full_zfnet_matches_oracle(unpooling):
    keras.utils.set_random_seed(2)
    model = zfkeras.zfnet()
    deconv = Deconvnet(model, unpooling=unpooling)
    rng = np.random.RandomState(1)
    images = (rng.rand(2, 224, 224, 3).astype("float32") - 0.5) * 255
    for layer in ("conv2", "pool5"):
        ours = deconv.project(images, Unit(layer, [5, 17]))
        ref, _ = oracle.project(model, images, layer, np.array([5, 17]))
        assert np.abs(ref).sum() > 0
        assert _rel_err(ours, ref).max() < 1e-4


def _sequential():
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((20, 20, 3)),
            keras.layers.Rescaling(1 / 255.0, offset=-0.5),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1"),
            keras.layers.MaxPooling2D(2, name="p1"),
            keras.layers.ZeroPadding2D(((1, 0), (0, 2)), name="zp"),
            keras.layers.Conv2D(12, 3, strides=2, name="c2"),
            keras.layers.ReLU(name="r2"),
            keras.layers.Dropout(0.3, name="d2"),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c3"),
            keras.layers.MaxPooling2D(3, strides=2, padding="same", name="p3"),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="softmax"),
        ]
    )


@pytest.mark.parametrize("unpooling", ["switches", "max_pool_grad"])
@pytest.mark.parametrize("layer", ["c1", "p1", "c2", "r2", "c3", "p3"])
def test_sequential_matches_oracle(layer, unpooling):
    model = _sequential()
    deconv = Deconvnet(model, unpooling=unpooling)
    images = np.random.RandomState(5).randint(0, 256, (5, 20, 20, 3)).astype("float32")
    c = deconv.layer_output_shape(layer)[-1]
    channels = np.arange(5) % c
    ours = deconv.project(images, Unit(layer, channels))
    ref, _ = oracle.project(model, images, layer, channels)
    assert np.abs(ref).sum() > 0
    assert _rel_err(ours, ref).max() < 1e-4


def test_explicit_position_matches_oracle(small_model, small_deconv):
    images = _digits(4, seed=1)
    positions = np.array([[0, 0], [3, 4], [6, 6], [2, 5]])
    ours = small_deconv.project(images, Unit("conv4", 7, positions))
    ref, _ = oracle.project(small_model, images, "conv4", np.full(4, 7), positions)
    nonzero = np.abs(ref).reshape(4, -1).sum(1) > 0
    assert nonzero.any()
    np.testing.assert_allclose(ours[~nonzero], 0)
    assert _rel_err(ours[nonzero], ref[nonzero]).max() < 1e-4
    # a single (y, x) pair applies to every image
    same = small_deconv.project(images, Unit("conv4", 7, (3, 4)))
    np.testing.assert_allclose(same[1], ours[1], rtol=1e-5, atol=1e-7)


def test_projection_is_local_to_receptive_field(small_model, small_deconv):
    # conv1 is 5x5 after 2 px padding: activation (y, x) sees pixels y-2..y+2.
    images = _digits(1, seed=2)
    conv1 = keras.Model(small_model.input, small_model.get_layer("conv1").output)
    channel = int(np.argmax(conv1(images).numpy()[0, 10, 12]))
    out = small_deconv.project(images, Unit("conv1", channel, (10, 12)))[0, ..., 0]
    ys, xs = np.nonzero(out)
    assert len(ys) > 0
    assert ys.min() >= 8 and ys.max() <= 12 and xs.min() >= 10 and xs.max() <= 14


def test_tied_weights_are_live():
    keras.utils.set_random_seed(6)
    model = zfkeras.zfnet_small((28, 28, 1), 10)
    deconv = Deconvnet(model)
    images = _digits(3, seed=3)
    before = deconv.project(images, Unit("conv3", 2))
    conv2 = model.get_layer("conv2")
    conv2.kernel.assign(conv2.kernel.numpy() * -1.5 + 0.01)
    after = deconv.project(images, Unit("conv3", 2))
    ref, _ = oracle.project(model, images, "conv3", np.full(3, 2))
    assert not np.allclose(before, after)
    assert _rel_err(after, ref).max() < 1e-4


def test_batching_does_not_change_results(small_deconv):
    images = _digits(7, seed=4)
    a = small_deconv.project(images, Unit("pool2", 3), batch_size=3)
    b = small_deconv.project(images, Unit("pool2", 3), batch_size=64)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


# -- errors ----------------------------------------------------------------

def test_unknown_layer_name(small_deconv):
    with pytest.raises(ValueError, match="unknown layer 'conv9'.*conv1"):
        small_deconv.project(_digits(1), Unit("conv9", 0))


def test_head_layer_is_refused(small_deconv):
    with pytest.raises(ValueError, match="'fc6' is in the classifier head"):
        small_deconv.project(_digits(1), Unit("fc6", 0))


def test_channel_out_of_range(small_deconv):
    with pytest.raises(ValueError, match=r"channel must be in \[0, 32\) for layer 'conv1', which has 32 channels; got 32 at index 0"):
        small_deconv.project(_digits(2), Unit("conv1", 32))
    with pytest.raises(InputError, match=r"channel must be >= 0; got -1 in Unit"):
        small_deconv.project(_digits(2), Unit("conv1", [0, -1]))
    with pytest.raises(InputError, match=r"gives 3 channels for 2 images"):
        small_deconv.project(_digits(2), Unit("conv1", [0, 1, 2]))
    with pytest.raises(InputTypeError, match=r"channel must be an integer; got 0.5"):
        small_deconv.project(_digits(2), Unit("conv1", [0.5, 1.0]))


def test_position_out_of_range(small_deconv):
    with pytest.raises(ValueError, match=r"position \(7, 0\) is out of range.*7x7"):
        small_deconv.project(_digits(1), Unit("conv3", 0, (7, 0)))
    with pytest.raises(InputError, match=r"a position must be a \(y, x\) pair; got \[1, 2, 3\]"):
        small_deconv.project(_digits(2), Unit("conv3", 0, [[1, 2, 3]]))
    with pytest.raises(InputError, match="gives 3 positions for 2 images"):
        small_deconv.project(_digits(2), Unit("conv3", 0, [(1, 2), (0, 0), (3, 3)]))


def test_wrong_image_rank_and_channels(small_deconv):
    with pytest.raises(ValueError, match=r"\(N, H, W, C\).*images\[None\]"):
        small_deconv.project(_digits(1)[0], Unit("conv1", 0))
    with pytest.raises(ValueError, match=r"channel count 3 but the model expects 1 .*model 'zfnet_small' takes"):
        small_deconv.project(np.zeros((1, 28, 28, 3), "float32"), Unit("conv1", 0))
    with pytest.raises(ValueError, match="height 32"):
        small_deconv.project(np.zeros((1, 32, 28, 1), "float32"), Unit("conv1", 0))
    with pytest.raises(ValueError, match="NaN"):
        small_deconv.project(np.full((1, 28, 28, 1), np.nan, "float32"), Unit("conv1", 0))


def test_unpooling_modes_agree_on_zfnet_small(small_model, small_deconv):
    fused = Deconvnet(small_model, unpooling="max_pool_grad")
    images = _digits(5, seed=6)
    for layer in ("pool1", "conv3", "pool5"):
        np.testing.assert_allclose(fused.project(images, Unit(layer, 2)), small_deconv.project(images, Unit(layer, 2)),
                                   rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="unpooling must be one of 'auto', 'switches', 'max_pool_grad'; "
                                         "got 'nearest'"):
        Deconvnet(small_model, unpooling="nearest")


def test_unsupported_layer_is_named():
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
        keras.layers.LayerNormalization(name="ln"),
        keras.layers.Conv2D(4, 3, name="c2"),
        keras.layers.GlobalAveragePooling2D(),
    ])
    with pytest.raises(ValueError, match="layer 'ln' of type LayerNormalization.*Supported layers.*BatchNormalization"):
        Deconvnet(model)


def test_unsupported_activation_is_named():
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="tanh", name="c1")])
    with pytest.raises(ValueError, match="'c1' of type Conv2D with activation 'tanh'"):
        Deconvnet(model)


def test_bad_batch_size_and_layer_type(small_deconv):
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        small_deconv.project(_digits(1), Unit("conv1", 0), batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be a positive integer, got '8'"):
        small_deconv.project(_digits(1), Unit("conv1", 0), batch_size="8")
    with pytest.raises(InputTypeError, match="layer must be a layer name"):
        small_deconv.project(_digits(1), Unit(3, 0))
    with pytest.raises(InputTypeError, match=r"unit must be a zfkeras.Unit\(layer, channel, position=None\); got 3"):
        small_deconv.project(_digits(1), 3, 0)
    with pytest.raises(InputError, match="without a channel"):
        small_deconv.project(_digits(1), "conv1")
    with pytest.raises(InputError, match="not both"):
        small_deconv.project(_digits(1), Unit("conv1", 0), 1)


def test_the_old_layer_channel_position_form_still_works_and_warns(small_deconv):
    images = _digits(3, seed=4)
    new = small_deconv.project(images, Unit("conv3", [1, 2, 3], [(0, 0), (2, 3), (4, 1)]))
    with pytest.warns(DeprecationWarning, match=r"project\(inputs, layer, channel, position\) is deprecated.*Unit"):
        old = small_deconv.project(images, "conv3", np.array([1, 2, 3]), position=np.array([[0, 0], [2, 3], [4, 1]]))
    np.testing.assert_array_equal(old, new)
    with pytest.warns(DeprecationWarning):
        old = small_deconv.project(images, "conv3", 2)
    np.testing.assert_array_equal(old, small_deconv.project(images, Unit("conv3", 2)))


def test_not_a_model_and_unbuilt_model():
    with pytest.raises(TypeError, match="needs a keras.Model, got <Conv2D.* of type Conv2D"):
        Deconvnet(keras.layers.Conv2D(2, 3))
    with pytest.raises(ValueError, match="is not built"):
        Deconvnet(keras.Sequential([keras.layers.Conv2D(2, 3)]))


def test_the_last_release_shims_are_gone(small_deconv):
    assert not hasattr(small_deconv, "output_shape")  # removed after its release as layer_output_shape
    with pytest.raises(TypeError, match="images"):
        small_deconv.project(images=_digits(1), unit=Unit("conv1", 0))


def test_functional_chain_with_argmax_layer():
    # Our MaxPoolWithArgmax may appear in a user's functional chain.
    keras.utils.set_random_seed(7)
    inp = keras.Input((12, 12, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c1")(inp)
    pooled, _ = zfkeras.MaxPoolWithArgmax(2, name="p1")(x)
    out = keras.layers.Conv2D(4, 3, activation="relu", name="c2")(pooled)
    deconv = Deconvnet(keras.Model(inp, out))
    ref_model = keras.Sequential([
        keras.Input((12, 12, 2)),
        keras.layers.Conv2D(3, 3, padding="same", activation="relu", name="c1"),
        keras.layers.MaxPooling2D(2, name="p1"),
        keras.layers.Conv2D(4, 3, activation="relu", name="c2"),
    ])
    ref_model.set_weights(deconv.model.get_weights())
    images = np.random.RandomState(0).rand(3, 12, 12, 2).astype("float32")
    ours = deconv.project(images, Unit("c2", [0, 1, 2]))
    ref, _ = oracle.project(ref_model, images, "c2", np.array([0, 1, 2]))
    assert _rel_err(ours, ref).max() < 1e-4


def test_projection_function_traces_and_returns_positions_and_values(small_model, small_deconv):
    import tensorflow as tf
    images = _digits(3, seed=7)
    fn = tf.function(small_deconv.projection_function("conv3"), autograph=False)
    channels = tf.constant([1, 4, 9], tf.int32)
    projection, positions, values = fn(tf.constant(images), channels)
    acts = keras.Model(small_model.inputs[0], small_model.get_layer("conv3").output)(images).numpy()
    strongest = acts[np.arange(3), :, :, [1, 4, 9]].reshape(3, -1)
    np.testing.assert_array_equal(positions.numpy(), np.stack(np.unravel_index(strongest.argmax(1), acts.shape[1:3]), 1))
    np.testing.assert_allclose(values.numpy(), strongest.max(1), rtol=1e-5)
    np.testing.assert_allclose(projection.numpy(), small_deconv.project(images, Unit("conv3", [1, 4, 9])), rtol=1e-5, atol=1e-7)
    given = tf.constant([[0, 0], [2, 3], [6, 6]], tf.int32)
    _, used, values = fn(tf.constant(images), channels, given)
    np.testing.assert_array_equal(used.numpy(), given.numpy())
    np.testing.assert_allclose(values.numpy(), acts[np.arange(3), [0, 2, 6], [0, 3, 6], [1, 4, 9]], rtol=1e-5)
