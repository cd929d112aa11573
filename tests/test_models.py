import numpy as np
import pytest
import keras
import tensorflow as tf

import zfkeras
from zfkeras import MaxPoolWithArgmax, alexnet_dense, zfnet, zfnet_small
from zfkeras.models import ABLATIONS, ablation_kwargs, zfnet_ablation
from zfkeras.utils.errors import InputError


def _shapes(model):
    return {l.name: tuple(l.output.shape[1:]) for l in model.layers}


def test_zfnet_matches_figure_3():
    model = zfnet()
    s = _shapes(model)
    assert s["conv1"] == (110, 110, 96)
    assert s["pool1"] == s["norm1"] == (55, 55, 96)
    assert s["conv2"] == (26, 26, 256)
    assert s["pool2"] == s["norm2"] == (13, 13, 256)
    assert s["conv3"] == s["conv4"] == (13, 13, 384)
    assert s["conv5"] == (13, 13, 256)
    assert s["pool5"] == (6, 6, 256)
    assert s["fc6"] == s["fc7"] == (4096,)
    assert s["fc8"] == (1000,)
    assert model.count_params() == 62_357_608
    assert model.get_layer("fc8").activation.__name__ == "softmax"
    conv1 = model.get_layer("conv1")
    assert conv1.kernel_size == (7, 7) and conv1.strides == (2, 2)


def test_paper_initialisation():
    model = zfnet(num_classes=10, seed=0)
    w = model.get_layer("conv2").kernel.numpy()
    assert abs(w.std() - 0.01) < 5e-4 and abs(w.mean()) < 5e-4
    assert np.all(model.get_layer("fc6").bias.numpy() == 0)
    assert isinstance(model.get_layer("conv1").kernel_constraint, zfkeras.FilterRMSClip)
    assert model.get_layer("conv1").kernel_constraint.radius == 0.1
    assert zfnet(num_classes=10, filter_rms_clip=None).get_layer("conv1").kernel_constraint is None


def test_seeded_builds_are_reproducible():
    a = zfnet_small(seed=5).get_weights()
    b = zfnet_small(seed=5).get_weights()
    c = zfnet_small(seed=6).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_alexnet_dense_baseline():
    model = alexnet_dense()
    s = _shapes(model)
    assert s["conv1"] == (55, 55, 96) and s["pool1"] == (27, 27, 96)
    assert s["conv2"] == (27, 27, 256) and s["pool2"] == (13, 13, 256)
    assert s["pool5"] == (6, 6, 256)
    assert model.get_layer("conv1").kernel_size == (11, 11)
    assert model.get_layer("conv1").strides == (4, 4)
    assert model.get_layer("conv2").strides == (1, 1)


# Parameter counts worked out by hand from the layer sizes.
@pytest.mark.parametrize("variant,params", [
    ("remove_conv3_conv4", 59_850_088),
    ("remove_fc7", 45_576_296),
    ("remove_fc6_fc7", 12_943_464),
    ("fc_2048", 28_848_232),
    ("conv345_512_1024_512", 107_627_624),
])
def test_table2_ablations(variant, params):
    model = zfnet_ablation(variant)
    assert model.count_params() == params
    names = {l.name for l in model.layers}
    for removed in ABLATIONS[variant].get("remove", ()):
        assert removed not in names
    assert model.output.shape[1:] == (1000,)
    keras.backend.clear_session()


def test_ablation_widths_are_relative_to_the_builder():
    # the paper's absolute widths for zfnet, the same ratios for zfnet_small
    assert ablation_kwargs("conv345_512_1024_512")["conv_filters"] == (96, 256, 512, 1024, 512)
    assert ablation_kwargs("fc_8192")["fc_units"] == 8192
    assert ablation_kwargs("conv345_512_1024_512", zfnet_small)["conv_filters"] == (32, 64, 171, 341, 128)
    assert ablation_kwargs("fc_2048", zfnet_small)["fc_units"] == 256
    assert ablation_kwargs("fc_2048", zfnet_small, fc_units=100)["fc_units"] == 50
    small = zfnet_ablation("conv345_512_1024_512", zfnet_small)
    assert [small.get_layer(f"conv{i}").filters for i in range(1, 6)] == [32, 64, 171, 341, 128]
    assert small.name == "zfnet_small_conv345_512_1024_512"
    with pytest.raises(InputError, match="unknown ablation 'fc_9'"):
        ablation_kwargs("fc_9")


def test_models_package_is_lazy():
    import subprocess
    import sys

    code = ("import sys\nfrom zfkeras.models import ABLATIONS\n"
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\nprint(len(ABLATIONS))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "8"


def test_remove_all_four():
    model = zfnet_ablation("remove_conv3_conv4_fc6_fc7", num_classes=10)
    assert not {"conv3", "conv4", "fc6", "fc7"} & {l.name for l in model.layers}
    assert _shapes(model)["pool5"] == (6, 6, 256)


@pytest.mark.parametrize("shape,sizes", [
    ((28, 28, 1), [28, 14, 14, 7, 7, 3]),
    ((32, 32, 3), [32, 16, 16, 8, 8, 3]),
    ((64, 64, 3), [32, 16, 16, 8, 8, 3]),
])
def test_zfnet_small_variants(shape, sizes):
    model = zfnet_small(shape, 10)
    s = _shapes(model)
    got = [s[n][0] for n in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")]
    assert got == sizes
    assert {"conv1", "conv2", "conv3", "conv4", "conv5", "pool1", "pool2", "pool5",
            "norm1", "norm2", "fc6", "fc7", "fc8"} <= set(s)
    out = model(np.random.rand(2, *shape).astype("float32")).numpy()
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)


def test_training_graph_has_no_argmax_pool():
    model = zfnet_small()
    assert not any(isinstance(l, MaxPoolWithArgmax) for l in model.layers)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    @tf.function(jit_compile=False)
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return tape.gradient(loss, model.trainable_variables)

    graph = step.get_concrete_function(
        tf.TensorSpec([None, 28, 28, 1]), tf.TensorSpec([None], tf.int32)).graph
    ops = {op.type for op in graph.get_operations()}
    assert "MaxPool" in ops or "MaxPoolV2" in ops
    assert not any("Argmax" in t for t in ops)


def test_bad_arguments():
    with pytest.raises(InputError, match="cannot remove \\['conv5'\\]"):
        zfnet(remove=("conv5",))
    with pytest.raises(InputError, match="too small"):
        zfnet_small((8, 8, 1))
    with pytest.raises(InputError, match="input_shape must be"):
        zfnet_small((28, 28))
    with pytest.raises(InputError, match="unknown ablation"):
        zfnet_ablation("remove_everything")
    with pytest.raises(InputError, match="conv_filters needs 5"):
        zfnet(conv_filters=(1, 2, 3))
    with pytest.raises(InputError, match="num_classes must be at least 2, got 1"):
        zfnet_small(num_classes=1)
    with pytest.raises(InputError, match="num_classes must be at least 2, got 'ten'"):
        zfnet_small(num_classes="ten")
    with pytest.raises(InputError, match=r"input_shape must be \(height, width, channels\), got \('a', 28, 1\)"):
        zfnet(("a", 28, 1))
    with pytest.raises(InputError, match=r"conv_filters needs 5 positive values \(conv1..conv5\), got \(8, 8, 0, 8, 8\)"):
        zfnet_small(conv_filters=(8, 8, 0, 8, 8))
