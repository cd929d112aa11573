"""Tiny Fashion-MNIST-format datasets and trainer arguments for the training
tests (a helper module, not a test module).

The trainer tests write their own small, learnable dataset in the idx
format instead of reading the Debian package, so they run (and fast) where
Fashion-MNIST is not installed.
"""

import gzip
import os

import numpy as np

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_learnable_fashion_mnist(folder, n_train=1024, n_test=200, seed=0):
    """Writes four idx files of 28x28 images: one noisy template per class.

    Returns:
        dict of the arrays written (keys as in `FILES`).
    """
    rng = np.random.RandomState(seed)
    templates = rng.randint(0, 256, (10, 7, 7)).repeat(4, axis=1).repeat(4, axis=2)

    def make(n):
        labels = rng.randint(0, 10, n).astype(np.uint8)
        noise = rng.randint(-60, 61, (n, 28, 28))
        return np.clip(templates[labels] + noise, 0, 255).astype(np.uint8), labels

    arrays = {}
    arrays["train_images"], arrays["train_labels"] = make(n_train)
    arrays["test_images"], arrays["test_labels"] = make(n_test)
    os.makedirs(folder, exist_ok=True)
    for key, name in FILES.items():
        _write_idx(os.path.join(folder, name), arrays[key])
    return arrays
