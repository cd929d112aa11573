import numpy as np
import keras

import zfkeras
from zfkeras import FilterRMSClip, LocalResponseNormalization, MaxPoolWithArgmax, MaxUnpool2D
from zfkeras.methods.unit import Unit


def test_keras_round_trip_with_every_custom_layer(tmp_path):
    keras.utils.set_random_seed(0)
    inp = keras.Input((10, 10, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            kernel_constraint=FilterRMSClip(0.2), name="conv")(inp)
    x = LocalResponseNormalization(3, 1.0, 1e-2, 0.5, name="lrn")(x)
    pooled, switches = MaxPoolWithArgmax(3, 2, "same", name="pool")(x)
    unpooled = MaxUnpool2D(output_size=(10, 10), name="unpool")(pooled, switches)
    model = keras.Model(inp, [pooled, unpooled])
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("pool"), MaxPoolWithArgmax)
    assert isinstance(loaded.get_layer("unpool"), MaxUnpool2D)
    assert isinstance(loaded.get_layer("lrn"), LocalResponseNormalization)
    assert loaded.get_layer("conv").kernel_constraint.radius == 0.2
    x = np.random.RandomState(1).rand(3, 10, 10, 3).astype("float32")
    for a, b in zip(model(x), loaded(x)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_zfnet_small_round_trip_keeps_deconv(tmp_path):
    model = zfkeras.zfnet_small(seed=1)
    path = tmp_path / "z.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.RandomState(2).rand(2, 28, 28, 1).astype("float32")
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    a = zfkeras.Deconvnet(model).project(x, Unit("conv5", 1))
    b = zfkeras.Deconvnet(loaded).project(x, Unit("conv5", 1))
    np.testing.assert_array_equal(a, b)


def test_load_model_registers_layers_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "z.keras"
    zfkeras.zfnet_small(seed=1).save(path)
    code = f"import zfkeras; m = zfkeras.load_model({str(path)!r}); print(m.get_layer('norm1').__class__.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "LocalResponseNormalization"
