"""zfkeras: Zeiler & Fergus (2014) for Keras.

The public API is re-exported here and imported lazily, so that
``import zfkeras`` (and the ``zfkeras`` command's ``--help``) does not pay
for importing TensorFlow until a name is used.
"""

from zfkeras._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "MaxPoolWithArgmax": "zfkeras.layers",
    "MaxUnpool2D": "zfkeras.layers",
    "LocalResponseNormalization": "zfkeras.layers",
    "FilterRMSClip": "zfkeras.constraints",
    "max_pool_with_argmax": "zfkeras.layers",
    "unpool": "zfkeras.layers",
    "zfnet": "zfkeras.models",
    "alexnet_dense": "zfkeras.models",
    "zfnet_small": "zfkeras.models",
    "zfnet_ablation": "zfkeras.models",
    "ABLATIONS": "zfkeras.ablations",
    "paper_initializer": "zfkeras.models",
    "Deconvnet": "zfkeras.deconv",
    "load_model": "zfkeras.saving",
    "unpool_like": "zfkeras.layers",
    # data
    "FASHION_MNIST_CLASSES": "zfkeras.data",
    "load_fashion_mnist": "zfkeras.data",
    "dataset_options": "zfkeras.data",
    "array_dataset": "zfkeras.data",
    "BadFileReport": "zfkeras.data",
    "check_image_files": "zfkeras.data",
    "list_image_files": "zfkeras.data",
    "image_folder_dataset": "zfkeras.data",
    "tfds_image_folder_dataset": "zfkeras.data",
    "tfds_dataset": "zfkeras.data",
    "preprocess_dataset": "zfkeras.data",
    "compute_mean_image": "zfkeras.data",
    "save_mean_image": "zfkeras.data",
    "load_mean_image": "zfkeras.data",
    "mean_image_for_run": "zfkeras.data",
    "ten_crops": "zfkeras.data",
    "crop_of_ten": "zfkeras.data",
    "predict_ten_crop": "zfkeras.data",
    "decode_image": "zfkeras.data",
    "resize_shortest_side": "zfkeras.data",
    "center_crop": "zfkeras.data",
    "resize_and_center_crop": "zfkeras.data",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
