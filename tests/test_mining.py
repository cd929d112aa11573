import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import keras
import tensorflow as tf

import zfkeras
from zfkeras.methods.top_activations import TopActivations, merge_top_activations, first_max_positions, top_activations
from tests.mining_oracle import brute_force, integer_images, integer_model
from zfkeras.utils.errors import InputTypeError

SMALL_LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5"]


@pytest.fixture(scope="module")
def small_model():
    return zfkeras.zfnet_small((28, 28, 1), 10, conv_filters=(4, 6, 8, 8, 5), fc_units=16, seed=1)


@pytest.fixture(scope="module")
def small_images():
    images = np.random.RandomState(0).rand(40, 28, 28, 1).astype("float32")
    images[30] = images[5]
    images[10:13] = 0
    return images


def _assert_equal(result, expected, exact=True):
    values, ids, positions = expected
    assert isinstance(result, TopActivations)
    assert result.values.shape == values.shape and result.positions.shape == positions.shape
    assert result.image_ids.dtype == np.int64 and result.positions.dtype == np.int64
    assert (np.diff(result.values, axis=1) <= 0).all(), "values must be descending"
    if exact:
        np.testing.assert_array_equal(result.values, values)
    else:
        np.testing.assert_allclose(result.values, values, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.image_ids, ids)
    np.testing.assert_array_equal(result.positions, positions)


@pytest.mark.parametrize("k,batch_size", [(1, 4), (5, 7), (30, 8), (9, 64)])
def test_integer_model_with_ties_equals_brute_force(k, batch_size):
    model, images = integer_model(), integer_images()
    got = top_activations(model, images, ["c1", "c2"], k=k, batch_size=batch_size, verbose=0)
    assert list(got) == ["c1", "c2"]
    for layer in got:
        _assert_equal(got[layer], brute_force(model, images, layer, k))
    if k >= 5:  # the fixture really has ties between images at the top
        assert (np.diff(got["c1"].values, axis=1) == 0).any()


def test_zfnet_small_all_conv_layers_equal_brute_force(small_model, small_images):
    got = top_activations(small_model, small_images, SMALL_LAYERS, k=9, batch_size=16, verbose=0)
    for layer in SMALL_LAYERS:
        _assert_equal(got[layer], brute_force(small_model, small_images, layer, 9), exact=False)
    assert got["conv1"].num_maps == 4 and got["conv1"].k == 9


def test_first_max_positions_is_np_argmax_of_the_flattened_map():
    rng = np.random.RandomState(0)
    maps = rng.randint(0, 3, (6, 4, 5, 3)).astype("float32")  # many ties
    maps[2] = -1.0  # constant negative maps: the first position
    maps[4, 1, 3, 0] = maps[4, 2, 0, 0] = 9.0  # (1, 3) precedes (2, 0) in row-major order
    rows = rng.randint(0, 6, (3, 7))
    rows[0, 0], rows[1, 0] = 4, 2
    flat = maps.reshape(6, 20, 3)
    values = np.stack([flat[rows[c], :, c].max(axis=1) for c in range(3)])
    got = first_max_positions(tf.constant(maps), tf.reduce_max(maps, axis=2), tf.constant(rows), tf.constant(values))
    want = np.stack([flat[rows[c], :, c].argmax(axis=1) for c in range(3)])
    np.testing.assert_array_equal(got.numpy(), want)
    assert got.numpy()[0, 0] == 1 * 5 + 3 and got.numpy()[1, 0] == 0


def _dataset_forms(images):
    labels = np.arange(len(images)) % 2
    return [
        tf.data.Dataset.from_tensor_slices(images),
        tf.data.Dataset.from_tensor_slices((images, labels)).batch(7),
        tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}).filter(lambda e: True),
        tf.data.Dataset.from_tensor_slices(images.astype("uint8")),
    ]


@pytest.mark.parametrize("form", range(4))
def test_dataset_forms_equal_brute_force(form):
    model, images = integer_model(), integer_images()
    dataset = _dataset_forms(images)[form]
    got = top_activations(model, dataset, "c2", k=6, batch_size=8, verbose=0)
    _assert_equal(got["c2"], brute_force(model, images, "c2", 6))


def test_shards_merged_with_offsets_equal_one_pass():
    model, images = integer_model(), integer_images()
    whole = top_activations(model, images, ["c1", "c2"], k=8, verbose=0)
    parts = [top_activations(model, images[s], ["c1", "c2"], k=8, verbose=0) for s in (slice(0, 12), slice(12, 30))]
    merged = merge_top_activations(parts, offsets=[0, 12])
    for layer in whole:
        _assert_equal(merged[layer], (whole[layer].values, whole[layer].image_ids, whole[layer].positions))
    one = merge_top_activations([p["c1"] for p in parts], k=3, offsets=[0, 12])
    np.testing.assert_array_equal(one.image_ids, whole["c1"].image_ids[:, :3])


def test_second_call_reuses_the_traced_graph():
    model, images = integer_model(), integer_images()
    first = top_activations(model, images, "c1", k=4, verbose=0)
    from zfkeras.methods import top_activations as mining

    step = mining._STEPS[model][(("c1",), 4, id(None))]
    second = top_activations(model, images[::-1].copy(), "c1", k=4, verbose=0)
    assert mining._STEPS[model][(("c1",), 4, id(None))] is step
    assert step.experimental_get_tracing_count() == 1
    # Reversed data: same maxima, ids mirrored (ties now prefer the other copy).
    assert not np.array_equal(first["c1"].image_ids, second["c1"].image_ids)


_DISTRIBUTED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from zfkeras.train.devices import configure_devices
    configure_devices(2)  # before TensorFlow runs any op
    import numpy as np, tensorflow as tf
    sys.path.insert(0, {root!r})
    from tests.mining_oracle import integer_model, integer_images
    from zfkeras.methods.top_activations import top_activations

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    model, images = integer_model(), integer_images(n=37)
    out = {{"replicas": strategy.num_replicas_in_sync}}
    for name, data in [
        ("array", images),
        ("batched", tf.data.Dataset.from_tensor_slices((images, np.zeros(37))).batch(6)),  # last batch 1: one replica gets 0
    ]:
        single = top_activations(model, data, ["c1", "c2"], k=7, batch_size=8, verbose=0)
        multi = top_activations(model, data, ["c1", "c2"], k=7, batch_size=8, verbose=0, strategy=strategy)
        out[name] = all(
            np.array_equal(getattr(single[l], a), getattr(multi[l], a))
            for l in single for a in ("values", "image_ids", "positions")
        )
        out[name + "_ids"] = multi["c2"].image_ids.tolist()
    print("RESULT " + json.dumps(out))
    """
)


def test_mirrored_strategy_on_two_logical_cpus_equals_single_device():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = _DISTRIBUTED_SCRIPT.format(root=root)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["replicas"] == 2
    assert out["array"] and out["batched"]
    model, images = integer_model(), integer_images(n=37)
    np.testing.assert_array_equal(out["array_ids"], brute_force(model, images, "c2", 7)[1])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(layers="nope"), r"unknown layer 'nope' for top_activations; model '\w+' has feature-map layers \['c1', 'p1', 'c2'\]"),
        (dict(layers="head"), r"layer 'head' \(Dense, output shape \(None, 2\)\) is not a convolutional feature map.*\['c1', 'p1', 'c2'\]"),
        (dict(layers=["c1", "flat"]), r"'flat' \(Flatten.*not a convolutional feature map"),
        (dict(k=31), r"k=31 is larger than the number of images \(30\)"),
        (dict(k=0), r"k must be a positive integer, got 0"),
        (dict(inputs=np.zeros((0, 6, 6, 1))), r"empty"),
        (dict(inputs=np.zeros((4, 6, 5, 1))), r"width 5 but the model expects 6"),
        (dict(inputs=np.zeros((4, 6, 6, 3))), r"channel count 3 but the model expects 1"),
        (dict(inputs=np.full((4, 6, 6, 1), np.nan)), r"inputs contain NaN or infinite values"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"inputs": integer_images(), "layers": "c1", "k": 3, "verbose": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        top_activations(integer_model(), **args)


def test_strategy_must_be_a_tf_distribute_strategy():
    with pytest.raises(InputTypeError, match=r"strategy must be a tf.distribute.Strategy or None, got 'mirrored' of type str"):
        top_activations(integer_model(), integer_images(), "c1", strategy="mirrored", verbose=0)


def test_bad_datasets():
    model = integer_model()
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 6, 6, 1), "float32"))
    with pytest.raises(ValueError, match=r"empty dataset"):
        top_activations(model, empty, "c1", verbose=0)
    unknown_size = tf.data.Dataset.from_tensor_slices(integer_images(5)).filter(lambda x: True)
    with pytest.raises(ValueError, match=r"k=9 is larger than the number of images \(5\)"):
        top_activations(model, unknown_size, "c1", k=9, verbose=0)
    nothing = unknown_size.filter(lambda x: False)
    with pytest.raises(ValueError, match=r"no images"):
        top_activations(model, nothing, "c1", verbose=0)
    wrong = tf.data.Dataset.from_tensor_slices(np.zeros((3, 7, 6, 1), "float32"))
    with pytest.raises(ValueError, match=r"height 7 but the model expects 6"):
        top_activations(model, wrong, "c1", verbose=0)
