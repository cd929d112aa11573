"""Fashion-MNIST loader: idx parsing, search order, clear errors."""

import gzip
import os
import subprocess
import sys

import numpy as np
import pytest

from zfkeras.data import fashion_mnist
from zfkeras.data import FASHION_MNIST_CLASSES
from zfkeras.data import load_fashion_mnist

def idx_bytes(array, magic_ndim=None, dtype_code=0x08):
    """Encodes a uint8 array in the idx format (big-endian dims)."""
    ndim = array.ndim if magic_ndim is None else magic_ndim
    header = bytes([0, 0, dtype_code, ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_gz(path, payload):
    with gzip.open(path, "wb") as f:
        f.write(payload)


def write_fake_dataset(folder, n_train=5, n_test=3, seed=0):
    """Writes four small, valid idx files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        fashion_mnist.TRAIN_IMAGES: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        fashion_mnist.TRAIN_LABELS: rng.integers(0, 10, n_train, dtype=np.uint8),
        fashion_mnist.TEST_IMAGES: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        fashion_mnist.TEST_LABELS: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    os.makedirs(folder, exist_ok=True)
    for name, array in arrays.items():
        write_gz(os.path.join(folder, name), idx_bytes(array))
    return arrays


@pytest.fixture(autouse=True)
def isolated_search(monkeypatch, tmp_path):
    """Points the Debian and Keras defaults at empty folders; clears the cache."""
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "debian"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(fashion_mnist, "_CACHE", {})


def test_class_names():
    assert len(FASHION_MNIST_CLASSES) == 10
    assert FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert FASHION_MNIST_CLASSES[9] == "Ankle boot"


def test_reads_exact_values_shapes_and_dtypes(tmp_path):
    arrays = write_fake_dataset(tmp_path / "fm")
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(tmp_path / "fm")
    assert x_train.shape == (5, 28, 28, 1) and x_train.dtype == np.uint8
    assert x_test.shape == (3, 28, 28, 1)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    np.testing.assert_array_equal(x_train[..., 0], arrays[fashion_mnist.TRAIN_IMAGES])
    np.testing.assert_array_equal(y_train, arrays[fashion_mnist.TRAIN_LABELS])
    np.testing.assert_array_equal(x_test[..., 0], arrays[fashion_mnist.TEST_IMAGES])
    np.testing.assert_array_equal(y_test, arrays[fashion_mnist.TEST_LABELS])


def test_cached_per_process_and_read_only(tmp_path):
    write_fake_dataset(tmp_path / "fm")
    first = load_fashion_mnist(tmp_path / "fm")
    second = load_fashion_mnist(tmp_path / "fm")
    assert first[0][0] is second[0][0]
    with pytest.raises(ValueError):
        first[0][0][0, 0, 0, 0] = 1


def test_search_order_env_then_debian_then_keras_cache(tmp_path, monkeypatch):
    write_fake_dataset(fashion_mnist.keras_cache_dir(), n_train=2)
    assert load_fashion_mnist()[0][0].shape[0] == 2
    write_fake_dataset(fashion_mnist.DEBIAN_DIR, n_train=3)
    assert load_fashion_mnist()[0][0].shape[0] == 3
    write_fake_dataset(tmp_path / "env", n_train=4)
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path / "env"))
    assert load_fashion_mnist()[0][0].shape[0] == 4
    # An incomplete env folder is skipped, not half-read.
    os.remove(tmp_path / "env" / fashion_mnist.TEST_LABELS)
    assert load_fashion_mnist()[0][0].shape[0] == 3


def test_data_dir_is_the_only_place_looked_at(tmp_path):
    write_fake_dataset(fashion_mnist.DEBIAN_DIR)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(tmp_path / "empty")
    message = str(info.value)
    assert str(tmp_path / "empty") in message
    assert fashion_mnist.DEBIAN_DIR not in message


def test_missing_everywhere_lists_places_and_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    for folder in (str(tmp_path / "env"), fashion_mnist.DEBIAN_DIR, fashion_mnist.keras_cache_dir()):
        assert folder in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert fashion_mnist.TRAIN_IMAGES in message


def corrupt(folder, name, payload=None, raw=None):
    path = os.path.join(folder, name)
    if raw is not None:
        with open(path, "wb") as f:
            f.write(raw)
    else:
        write_gz(path, payload)
    return path


@pytest.mark.parametrize(
    "name, make_payload, expected",
    [
        # Half of the pixels missing.
        (
            fashion_mnist.TRAIN_IMAGES,
            lambda: idx_bytes(np.zeros((5, 28, 28), np.uint8))[: 16 + 5 * 28 * 14],
            "truncated",
        ),
        # A labels file where an images file belongs.
        (fashion_mnist.TEST_IMAGES, lambda: idx_bytes(np.zeros(3, np.uint8)), "magic"),
        # Float data type code (0x0D) instead of unsigned bytes.
        (
            fashion_mnist.TRAIN_LABELS,
            lambda: idx_bytes(np.zeros(5, np.uint8), dtype_code=0x0D),
            "magic",
        ),
        (fashion_mnist.TEST_LABELS, lambda: b"\x00\x00", "too short"),
    ],
)
def test_corrupt_idx_content_names_the_file(tmp_path, name, make_payload, expected):
    write_fake_dataset(tmp_path)
    path = corrupt(tmp_path, name, make_payload())
    with pytest.raises(ValueError) as info:
        load_fashion_mnist(tmp_path)
    assert path in str(info.value)
    assert expected in str(info.value)


def test_truncated_gzip_stream_names_the_file(tmp_path):
    write_fake_dataset(tmp_path)
    path = os.path.join(tmp_path, fashion_mnist.TRAIN_IMAGES)
    with open(path, "rb") as f:
        data = f.read()
    corrupt(tmp_path, fashion_mnist.TRAIN_IMAGES, raw=data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable gzip file") as info:
        load_fashion_mnist(tmp_path)
    assert path in str(info.value)


def test_not_gzip_names_the_file(tmp_path):
    write_fake_dataset(tmp_path)
    path = corrupt(tmp_path, fashion_mnist.TEST_LABELS, raw=b"<html>404 not found</html>")
    with pytest.raises(ValueError, match="not a readable gzip file") as info:
        load_fashion_mnist(tmp_path)
    assert path in str(info.value)


def test_image_and_label_counts_must_match(tmp_path):
    write_fake_dataset(tmp_path)
    corrupt(tmp_path, fashion_mnist.TRAIN_LABELS, idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        load_fashion_mnist(tmp_path)


def test_label_out_of_range(tmp_path):
    write_fake_dataset(tmp_path)
    path = corrupt(tmp_path, fashion_mnist.TEST_LABELS, idx_bytes(np.full(3, 10, np.uint8)))
    with pytest.raises(ValueError, match="out of range") as info:
        load_fashion_mnist(tmp_path)
    assert path in str(info.value)


def test_real_fashion_mnist_from_debian_package(monkeypatch, fashion_mnist_dir):
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", fashion_mnist_dir)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    np.testing.assert_array_equal(np.bincount(y_train), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))
    # The first labels published with the dataset.
    np.testing.assert_array_equal(y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    np.testing.assert_array_equal(y_test[:10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    assert x_train.min() == 0 and x_train.max() == 255


def test_loader_does_not_import_tensorflow():
    code = (
        "import sys; from zfkeras.data import load_fashion_mnist; "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
