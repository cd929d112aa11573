"""Shared pieces of the export tests (not a test module).

A tiny zfnet_small with a run-style preprocessing layer, real digit images
as raw uint8, a minimal run folder, and a runner for Python processes that
can import TensorFlow but not zfkeras.
"""

import json
import os
import pathlib
import subprocess
import sys
import sysconfig

import numpy as np
from sklearn.datasets import load_digits

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
INPUT_SHAPE = (28, 28, 1)
# the layers the tiny_export_response fixture (tests/conftest.py) asks the project signature for
PROJECTED = ["pad1", "conv1", "pool1", "norm1", "conv3", "conv5", "pool5"]
REPO = pathlib.Path(__file__).resolve().parents[1]


def tiny_model(seed=3):
    """A zfnet_small small enough to export in seconds (random weights)."""
    import keras
    import zfkeras

    keras.utils.set_random_seed(seed)
    return zfkeras.zfnet_small(INPUT_SHAPE, 10, seed=seed, conv_filters=(8, 8, 12, 8, 8), fc_units=16)


def normalization(seed=0):
    """A run-like ``(mean image, pixel std)`` pair."""
    rng = np.random.RandomState(seed)
    return (rng.rand(*INPUT_SHAPE) * 80).astype(np.float32), 61.5


def preprocessing_layer():
    """The run's in-graph preprocessing for `normalization()`."""
    from zfkeras.runs.preprocessing import RunPreprocessing

    mean, scale = normalization()
    return RunPreprocessing(INPUT_SHAPE, scale, mean=mean)


def preprocess(raw):
    """The same preprocessing in numpy (the library's own function)."""
    from zfkeras.runs.preprocessing import preprocess_images

    mean, scale = normalization()
    return preprocess_images(raw, mean, scale, INPUT_SHAPE[:2])


def raw_digits(n, seed=0):
    """Real handwritten digits as raw uint8 ``(n, 28, 28, 1)`` images."""
    digits = load_digits().images
    pick = digits[np.random.RandomState(seed).choice(len(digits), n, replace=False)]
    up = np.kron(pick, np.ones((3, 3)))  # 24x24, values 0..16
    out = np.zeros((n, *INPUT_SHAPE), np.uint8)
    out[:, 2:26, 2:26, 0] = np.round(up * 255 / 16).astype(np.uint8)
    return out


def write_run_folder(path, model):
    """A minimal finished Fashion-MNIST-style run folder holding `model`."""
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    mean, scale = normalization()
    (path / "config.json").write_text(json.dumps({"dataset": "fashion_mnist", "model": "zfnet_small"}))
    (path / "class_names.json").write_text(json.dumps(CLASS_NAMES))
    np.savez(path / "normalization.npz", mean_image=mean, pixel_std=np.float32(scale))
    model.save(path / "model.keras")
    return path


def run_without_zfkeras(script, args, cwd, env=None, timeout=300):
    """Runs `script` in a Python that imports TensorFlow but not zfkeras.

    ``-I -S`` drops the environment, the current folder and the ``.pth``
    hooks (the editable zfkeras install is one); the venv's site-packages
    is put back on ``sys.path`` explicitly, without its ``.pth`` files.
    """
    site = sysconfig.get_paths()["purelib"]
    prelude = f"import sys; sys.path.append({site!r}); sys.argv = [{str(script)!r}] + {list(map(str, args))!r}; "
    code = prelude + f"exec(compile(open({str(script)!r}).read(), {str(script)!r}, 'exec'))"
    full_env = {"PATH": os.environ.get("PATH", ""), "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )
