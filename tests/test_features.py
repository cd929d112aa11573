import numpy as np
import pytest
import keras
import tensorflow as tf

import zfkeras
import zfkeras.methods.features as features_module
from zfkeras.methods.features import adaptive_pool, features


@pytest.fixture(scope="module")
def model():
    # conv1..conv5 maps: 28, 14, 14?, 7, 7 -> odd sizes exercise overlapping cells.
    return zfkeras.zfnet_small((28, 28, 1), 10, conv_filters=(4, 6, 8, 8, 5), fc_units=16, seed=1)


@pytest.fixture(scope="module")
def images():
    return np.random.RandomState(0).rand(37, 28, 28, 1).astype("float32")


_ORACLE = {}


def _layer_outputs(model, name, images):
    """The oracle: the model's own intermediate output (one model per layer)."""
    key = (id(model), name, images.shape, float(images.sum()))
    if key not in _ORACLE:
        _ORACLE[key] = keras.Model(model.input, model.get_layer(name).output)(images, training=False).numpy()
    return _ORACLE[key]


def _numpy_pool(maps, grid, reduce):
    """Adaptive pooling written out: cell i spans floor(i*H/g)..ceil((i+1)*H/g)."""
    n, h, w, c = maps.shape
    gh, gw = grid
    out = np.zeros((n, gh, gw, c), maps.dtype)
    for i in range(gh):
        for j in range(gw):
            rows = slice(int(np.floor(i * h / gh)), int(np.ceil((i + 1) * h / gh)))
            cols = slice(int(np.floor(j * w / gw)), int(np.ceil((j + 1) * w / gw)))
            out[:, i, j] = reduce(maps[:, rows, cols], axis=(1, 2))
    return out.reshape(n, -1)


def test_raw_maps_equal_the_models_intermediate_output(model, images):
    got = features(model, images, "conv2", pool=None, batch_size=8, verbose=0)
    want = _layer_outputs(model, "conv2", images).reshape(len(images), -1)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pool,reduce", [("max", np.max), ("avg", np.mean)])
def test_adaptive_pool_equals_numpy(pool, reduce):
    rng = np.random.RandomState(1)
    for shape in [(3, 7, 7, 5), (2, 5, 6, 3), (2, 1, 1, 4), (1, 8, 8, 2)]:
        maps = rng.randn(*shape).astype("float32")
        for grid in [(2, 2), (3, 3), (1, 2), (1, 1), (4, 3)]:
            got = adaptive_pool(tf.constant(maps), grid, pool).numpy()
            np.testing.assert_allclose(got, _numpy_pool(maps, grid, reduce), rtol=1e-5, atol=1e-6)


def test_avg_pool_of_a_model_layer_equals_numpy(model, images):
    maps = _layer_outputs(model, "conv5", images)  # 7x7: 3x3 cells overlap
    assert maps.shape[1:3] == (7, 7)
    got = features(model, images, "conv5", pool="avg", grid=3, batch_size=16, verbose=0)
    np.testing.assert_allclose(got, _numpy_pool(maps, (3, 3), np.mean), rtol=1e-5, atol=1e-6)


def test_default_is_2x2_max(model, images):
    got = features(model, images, "conv1", verbose=0)
    want = _numpy_pool(_layer_outputs(model, "conv1", images), (2, 2), np.max)
    assert got.shape == (len(images), 4 * 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_layer_list_gives_dict_from_one_sub_model(model, images, monkeypatch):
    built = []
    original = features_module.layer_output_model
    monkeypatch.setattr(features_module, "layer_output_model", lambda m, names: built.append(names) or original(m, names))
    got = features(model, images, ["conv3", "fc7", "conv3"], pool="max", batch_size=10, verbose=0)
    assert built == [["conv3", "fc7"]]  # duplicates dropped, one multi-output model
    assert list(got) == ["conv3", "fc7"]
    np.testing.assert_allclose(got["fc7"], _layer_outputs(model, "fc7", images), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        got["conv3"], _numpy_pool(_layer_outputs(model, "conv3", images), (2, 2), np.max), rtol=1e-5, atol=1e-6
    )


def _datasets(images):
    labels = np.arange(len(images)) % 3
    uint8 = (images * 255).astype("uint8")
    return {
        "images": (tf.data.Dataset.from_tensor_slices(images), images),
        "images_labels": (tf.data.Dataset.from_tensor_slices((images, labels)), images),
        "tfds_dict": (tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}), images),
        "batched_uneven": (tf.data.Dataset.from_tensor_slices((images, labels)).batch(5), images),
        "unknown_size": (tf.data.Dataset.from_tensor_slices(images).filter(lambda x: True), images),
        "uint8": (tf.data.Dataset.from_tensor_slices(uint8).batch(4), uint8.astype("float32")),
    }


@pytest.mark.parametrize("kind", ["images", "images_labels", "tfds_dict", "batched_uneven", "unknown_size", "uint8"])
def test_every_dataset_form_gives_the_oracle_result(model, images, kind):
    dataset, as_array = _datasets(images)[kind]
    got = features(model, dataset, ["conv4", "fc8"], batch_size=8, verbose=0)
    want = {
        "conv4": _numpy_pool(_layer_outputs(model, "conv4", as_array), (2, 2), np.max),
        "fc8": _layer_outputs(model, "fc8", as_array),
    }
    assert list(got) == ["conv4", "fc8"]
    for name in want:
        assert got[name].shape == want[name].shape
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)


def test_top_level_name_is_the_function_after_importing_the_module(model, images):
    import zfkeras.methods.features

    assert zfkeras.features is zfkeras.methods.features.features
    assert zfkeras.features(model, images[:3], "fc8", verbose=0).shape == (3, 10)


def test_unknown_layer_lists_the_valid_ones(model, images):
    with pytest.raises(ValueError, match=r"unknown layer 'conv9'.*'conv1', .*'fc8'"):
        features(model, images, "conv9", verbose=0)


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros((4, 27, 28, 1), "float32"), r"height 27 but the model expects 28"),
        (np.zeros((4, 28, 28, 3), "float32"), r"channel count 3 but the model expects 1"),
        (np.zeros((28, 28, 1), "float32"), r"\(N, H, W, C\).*images\[None\]"),
        (np.zeros((0, 28, 28, 1), "float32"), r"empty"),
    ],
)
def test_bad_image_arrays(model, bad, match):
    with pytest.raises(ValueError, match=match):
        features(model, bad, "conv1", verbose=0)


def test_bad_datasets(model):
    with pytest.raises(ValueError, match=r"width 20 but the model expects 28"):
        features(model, tf.data.Dataset.from_tensor_slices(np.zeros((3, 28, 20, 1), "float32")), "conv1", verbose=0)
    with pytest.raises(ValueError, match=r"empty dataset"):
        features(model, tf.data.Dataset.from_tensor_slices(np.zeros((0, 28, 28, 1), "float32")), "conv1", verbose=0)
    never = tf.data.Dataset.from_tensor_slices(np.zeros((3, 28, 28, 1), "float32")).filter(lambda x: False)
    with pytest.raises(ValueError, match=r"no images"):
        features(model, never, "conv1", verbose=0)
    # Shapes known only at run time: the mismatch is still a ValueError.
    ragged = tf.data.Dataset.from_generator(
        lambda: iter([np.zeros((28, 28, 1), "float32"), np.zeros((30, 28, 1), "float32")]),
        output_signature=tf.TensorSpec((None, None, 1), tf.float32),
    )
    with pytest.raises(ValueError, match=r"does not fit the model input \(28, 28, 1\)"):
        features(model, ragged, "conv1", verbose=0)
    with pytest.raises(TypeError, match=r"images, \(images, labels\)"):
        features(model, tf.data.Dataset.from_tensor_slices({"x": np.zeros((3, 28, 28, 1))}), "conv1", verbose=0)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(pool="median"), ValueError, r"pool must be one of None, 'max', 'avg'; got 'median'"),
        (dict(grid=0), ValueError, r"grid must be a positive integer"),
        (dict(grid=(2, 2, 2)), ValueError, r"grid must be"),
        (dict(batch_size=0), ValueError, r"batch_size must be a positive integer"),
        (dict(layers=[]), ValueError, r"layers is empty"),
        (dict(layers=3), TypeError, r"layer name"),
    ],
)
def test_bad_arguments(model, images, kwargs, error, match):
    kwargs = {"layers": "conv1", "verbose": 0, **kwargs}
    with pytest.raises(error, match=match):
        features(model, images, **kwargs)
