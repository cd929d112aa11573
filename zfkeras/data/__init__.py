"""Data for zfkeras: Fashion-MNIST offline, and the paper's image pipeline.

Modules, one concept each:

* `fashion_mnist`: the offline Fashion-MNIST loader (numpy only).
* `pipeline`: tf.data options that keep both cores busy; array datasets.
* `transforms`: decode, resize, centre crop, the ten crops.
* `files`: listing image files, decode checks, `BadFileReport`.
* `mean_image`: the training split's per-pixel mean image.
* `preprocessing`: the paper's pipeline over any labelled image dataset.
* `folders`: class-folder datasets, and datasets over lists of files.
* `tfds`: TensorFlow Datasets sources, never downloading.

`load_fashion_mnist` needs only numpy. The other names need TensorFlow,
which is imported the first time one of them is used, so that
``from zfkeras.data import load_fashion_mnist`` stays cheap.
"""


from zfkeras.utils.lazy import lazy_exports

from zfkeras.data.fashion_mnist import FASHION_MNIST_CLASSES
from zfkeras.data.fashion_mnist import load_fashion_mnist

_LAZY_EXPORTS = {
    "two_core_options": "zfkeras.data.pipeline",
    "pipeline_options": "zfkeras.data.pipeline",
    "set_data_threads": "zfkeras.data.pipeline",
    "array_dataset": "zfkeras.data.pipeline",
    "ten_crops": "zfkeras.data.transforms",
    "resize_and_center_crop": "zfkeras.data.transforms",
    "BadFileReport": "zfkeras.data.files",
    "check_image_files": "zfkeras.data.files",
    "list_image_files": "zfkeras.data.files",
    "compute_mean_image": "zfkeras.data.mean_image",
    "load_mean_image": "zfkeras.data.mean_image",
    "mean_image_for_run": "zfkeras.data.mean_image",
    "save_mean_image": "zfkeras.data.mean_image",
    "preprocess_dataset": "zfkeras.data.preprocessing",
    "image_folder_dataset": "zfkeras.data.folders",
    "labelled_files_dataset": "zfkeras.data.folders",
    "tfds_dataset": "zfkeras.data.tfds",
    "tfds_image_folder_dataset": "zfkeras.data.tfds",
}

__all__ = sorted(["FASHION_MNIST_CLASSES", "load_fashion_mnist", *_LAZY_EXPORTS])

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY_EXPORTS)
