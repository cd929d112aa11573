"""Data for zfkeras: Fashion-MNIST offline, and the paper's image pipeline.

`load_fashion_mnist` needs only numpy. The image pipeline and the tf.data
helpers need TensorFlow, which is imported the first time one of their names
is used, so that ``from zfkeras.data import load_fashion_mnist`` stays cheap.
"""

from zfkeras._lazy import lazy_exports

from zfkeras.data.fashion_mnist import FASHION_MNIST_CLASSES
from zfkeras.data.fashion_mnist import load_fashion_mnist

_LAZY_EXPORTS = {
    "dataset_options": "zfkeras.data.pipeline",
    "array_dataset": "zfkeras.data.pipeline",
    "BadFileReport": "zfkeras.data.images",
    "IMAGE_EXTENSIONS": "zfkeras.data.images",
    "check_image_files": "zfkeras.data.images",
    "center_crop": "zfkeras.data.images",
    "compute_mean_image": "zfkeras.data.images",
    "crop_of_ten": "zfkeras.data.images",
    "decode_image": "zfkeras.data.images",
    "image_folder_dataset": "zfkeras.data.images",
    "list_image_files": "zfkeras.data.images",
    "load_mean_image": "zfkeras.data.images",
    "mean_image_for_run": "zfkeras.data.images",
    "predict_ten_crop": "zfkeras.data.images",
    "preprocess_dataset": "zfkeras.data.images",
    "resize_and_center_crop": "zfkeras.data.images",
    "resize_shortest_side": "zfkeras.data.images",
    "save_mean_image": "zfkeras.data.images",
    "ten_crops": "zfkeras.data.images",
    "tfds_dataset": "zfkeras.data.images",
    "tfds_image_folder_dataset": "zfkeras.data.images",
}

__all__ = sorted(["FASHION_MNIST_CLASSES", "load_fashion_mnist", *_LAZY_EXPORTS])


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_EXPORTS)
