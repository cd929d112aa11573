"""Fixtures shared by the test modules.

Helpers that are plain functions live in non-test modules
(`tests/images_helpers.py`, `tests/oracle.py`, `tests/subprocess_helpers.py`);
a test module never imports another test module.
"""

import os
import socket

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # scripts/test.sh runs two pytest-xdist workers on two cores: one thread each
    # for TensorFlow's ops and for BLAS, in the worker and the processes it starts,
    # instead of two workers each sizing their thread pools for the whole machine.
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(name, "1")

from zfkeras.data import fashion_mnist  # noqa: E402  (numpy only, no TensorFlow)

# The real Fashion-MNIST folder, read before any test patches the module.
FASHION_MNIST_DIR = fashion_mnist.DEBIAN_DIR


@pytest.fixture
def fashion_mnist_dir():
    """The Debian package's Fashion-MNIST folder; skips the test without it."""
    if not all(os.path.isfile(os.path.join(FASHION_MNIST_DIR, f)) for f in fashion_mnist.FILES):
        pytest.skip(f"Fashion-MNIST is not installed: {fashion_mnist.INSTALL_COMMAND}")
    return FASHION_MNIST_DIR


@pytest.fixture(scope="session")
def small_photos():
    """Six real photos at shortest side 16 (see `images_helpers.small_photos`)."""
    from tests.images_helpers import small_photos as make

    photos = make()
    for image in photos.values():
        image.flags.writeable = False  # shared by every test of the session
    return photos


@pytest.fixture
def fresh_file_checks(monkeypatch):
    """Forgets which image files were decoded before in this process."""
    from zfkeras.data import files

    monkeypatch.setattr(files, "_CHECKED", {})
    return files


@pytest.fixture
def no_network(monkeypatch):
    """Fails any socket connection, and records that one was attempted."""
    attempts = []

    def refuse(self, address, *args):
        attempts.append(address)
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A finished one-epoch zfnet_small run on a tiny learnable Fashion-MNIST
    stand-in, shared by every test that needs a real run folder (the
    report sections, probes, export). Treat it as read-only: copy it first
    (``shutil.copytree(run.path, tmp_path / "run")``) to change it.

    Returns:
        `zfkeras.runs.folder.RunFolder`.
    """
    from tests.train_helpers import write_learnable_fashion_mnist
    from zfkeras.runs.folder import RunFolder
    from zfkeras.train.config import TrainConfig
    from zfkeras.train.runner import run

    root = tmp_path_factory.mktemp("trained_run")
    write_learnable_fashion_mnist(root / "data", n_train=640, n_test=200, seed=5)
    config = TrainConfig(
        data_dir=str(root / "data"), max_train_examples=384, validation_size=128, epochs=1,
        batch_size=64, evolution_sample=32, evolution_maps=2, evolution_epochs=(1,), seed=4,
        run_dir=str(root / "run"),
    )
    run(config, verbose=0)
    return RunFolder(root / "run")


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """(model, path): `export_helpers.tiny_model` exported with the preprocessing
    layer and one explain signature (``explain_lrp_epsilon``; tests/test_export_explain.py
    covers the default ones), shared by tests/test_export_signatures.py and
    tests/test_export_occlude.py. Read-only."""
    from tests import export_helpers as helpers
    from zfkeras.export import export_model

    model = helpers.tiny_model()
    path = export_model(model, tmp_path_factory.mktemp("export"), helpers.CLASS_NAMES,
                        preprocessing=helpers.preprocessing_layer(), explain_methods=["lrp_epsilon"])
    return model, path


@pytest.fixture(scope="session")
def tiny_export_loaded(tiny_export):
    """`tiny_export`'s SavedModel, loaded in this process."""
    import tensorflow as tf

    return tf.saved_model.load(str(tiny_export[1]))


@pytest.fixture(scope="session")
def tiny_export_response(tiny_export, tmp_path_factory):
    """(raw images, channels, response) of tests/export_client.py on `tiny_export`
    in a process without zfkeras."""
    import pathlib

    import numpy as np

    from tests import export_helpers as helpers
    from zfkeras import Deconvnet

    model, path = tiny_export
    tmp_path = tmp_path_factory.mktemp("client")
    raw = helpers.raw_digits(6)
    deconv = Deconvnet(model)
    rng = np.random.RandomState(0)
    channels = np.stack([rng.randint(0, deconv.layer_output_shape(name)[-1], len(raw)) for name in helpers.PROJECTED])
    np.savez(tmp_path / "request.npz", images=raw, layers=np.array(helpers.PROJECTED), channels=channels)
    client = pathlib.Path(helpers.__file__).with_name("export_client.py")
    result = helpers.run_without_zfkeras(
        client, [path, tmp_path / "request.npz", tmp_path / "response.npz"], cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return raw, channels, dict(np.load(tmp_path / "response.npz"))
