"""Fashion-MNIST from the local idx files, without any download.

`keras.datasets.fashion_mnist` and `tfds.load("fashion_mnist")` try the
network first, which on an offline machine means a long wait and a stack
trace. This loader only reads the four idx ``.gz`` files from disk (the
Debian package ``dataset-fashion-mnist`` installs them) and parses the idx
format with numpy, so it needs neither TensorFlow nor a connection.
"""

import gzip
import os
import zlib

import numpy as np
from zfkeras.utils.errors import InputError, MissingInputError

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

ENV_VAR = "ZFKERAS_FASHION_MNIST"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
INSTALL_COMMAND = "sudo apt-get install dataset-fashion-mnist"

# idx magic number: two zero bytes, a type code, then the number of dims.
_UBYTE = 0x08

# Decoded arrays, keyed by the resolved folder and the files' mtimes so that
# replacing a file is noticed.
_CACHE = {}


def keras_cache_dir():
    """Returns the folder where `keras.datasets.fashion_mnist` keeps its files."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(keras_home, "datasets", "fashion-mnist")


def candidate_dirs(data_dir=None):
    """Returns the folders searched for the idx files, in order.

    Args:
        data_dir: if given, the only folder searched.

    Returns:
        List of folder paths.
    """
    if data_dir is not None:
        return [os.fspath(data_dir)]
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(os.environ[ENV_VAR])
    dirs.append(DEBIAN_DIR)
    dirs.append(keras_cache_dir())
    return dirs


def find_fashion_mnist(data_dir=None):
    """Finds the folder that holds all four Fashion-MNIST idx files.

    Args:
        data_dir: folder to use instead of the default search order
            (``$ZFKERAS_FASHION_MNIST``, ``/usr/share/datasets/fashion-mnist``,
            ``~/.keras/datasets/fashion-mnist``).

    Returns:
        Path of the folder.

    Raises:
        FileNotFoundError: no searched folder holds all four files.
    """
    looked = []
    for folder in candidate_dirs(data_dir):
        missing = [f for f in FILES if not os.path.isfile(os.path.join(folder, f))]
        if not missing:
            return folder
        looked.append(f"  {folder} (missing: {', '.join(missing)})")
    raise MissingInputError(
        "Fashion-MNIST idx files not found. Looked in:\n"
        + "\n".join(looked)
        + f"\nInstall them with `{INSTALL_COMMAND}`, or put the four files "
        f"({', '.join(FILES)}) in a folder and pass data_dir= or set ${ENV_VAR}."
    )


def read_idx(path, expected_ndim):
    """Reads one gzip-compressed idx file of unsigned bytes.

    Args:
        path: path of the ``.gz`` file.
        expected_ndim: number of dimensions the file must declare
            (1 for labels, 3 for images).

    Returns:
        uint8 numpy array with the declared shape.

    Raises:
        ValueError: the file is not gzip, is truncated, or its header does
            not describe an idx array of unsigned bytes with that many dims.
    """
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: not a readable gzip file ({e})") from None
    if len(data) < 4:
        raise InputError(f"{path}: too short for an idx header ({len(data)} bytes)")
    zero0, zero1, dtype_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or dtype_code != _UBYTE or ndim != expected_ndim:
        raise InputError(
            f"{path}: bad idx magic number 0x{data[:4].hex()} "
            f"(expected 0x000008{expected_ndim:02x}: unsigned bytes, {expected_ndim} dims)"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise InputError(f"{path}: truncated idx header")
    shape = tuple(int(v) for v in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected_size = header_size + int(np.prod(shape))
    if len(data) != expected_size:
        raise InputError(
            f"{path}: idx header declares shape {shape} ({expected_size} bytes) "
            f"but the file holds {len(data)} bytes (truncated or corrupt)"
        )
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _read_split(folder, images_file, labels_file):
    images_path = os.path.join(folder, images_file)
    labels_path = os.path.join(folder, labels_file)
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise InputError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} "
            f"holds {labels.shape[0]} labels"
        )
    if images.shape[1:] != (28, 28):
        raise InputError(f"{images_path}: images are {images.shape[1:]}, expected (28, 28)")
    if labels.size and labels.max() >= len(FASHION_MNIST_CLASSES):
        raise InputError(
            f"{labels_path}: label {int(labels.max())} is out of range "
            f"(Fashion-MNIST has {len(FASHION_MNIST_CLASSES)} classes)"
        )
    return images[..., np.newaxis], labels.astype(np.int64)


def load_fashion_mnist(data_dir=None):
    """Loads Fashion-MNIST (60,000 training and 10,000 test images).

    Reads the four idx files from ``data_dir`` if given, otherwise from the
    first of ``$ZFKERAS_FASHION_MNIST``, ``/usr/share/datasets/fashion-mnist``
    (Debian package ``dataset-fashion-mnist``) and Keras' cache
    ``~/.keras/datasets/fashion-mnist`` that holds all four. Never downloads.
    Decoded arrays are cached per process; the returned arrays are read-only
    views of that cache, so copy them before editing in place.

    Args:
        data_dir: folder holding the four ``*-ubyte.gz`` files.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: images as uint8 arrays of
        shape ``(N, 28, 28, 1)``, labels as int64 arrays of shape ``(N,)``
        indexing `FASHION_MNIST_CLASSES`.

    Raises:
        FileNotFoundError: the files are in none of the searched folders.
        ValueError: a file is truncated or is not a valid idx file.
    """
    folder = find_fashion_mnist(data_dir)
    key = (os.path.realpath(folder),) + tuple(
        os.stat(os.path.join(folder, f)).st_mtime_ns for f in FILES
    )
    if key not in _CACHE:
        train = _read_split(folder, TRAIN_IMAGES, TRAIN_LABELS)
        test = _read_split(folder, TEST_IMAGES, TEST_LABELS)
        for array in (*train, *test):
            array.flags.writeable = False
        _CACHE[key] = (train, test)
    return _CACHE[key]
