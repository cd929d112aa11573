"""The log-folder entry ``zfkeras explore`` prepares for any Keras convnet.

An entry is a folder under the log folder holding everything the explorer
reads, so that it never reads outside the log folder::

    explore.json   what the entry is: model file, preprocessing, input shape,
                   class names, where the model and images came from
    model.keras    a copy of the user's model (a legacy .h5 model saved as .keras)
    images.npz     ``images`` uint8 (N, H, W, C): the user's image folder cut
                   to the model's input (shortest side resized to H, centre
                   square), the dataset its top 9 are mined over; ``files``
                   their paths relative to that folder

`PREPROCESS_MODES` are the ways raw pixels in [0, 255] become the model's
input: ``none`` (as they are), ``scale255`` (x / 255) and Keras'
`keras.applications.imagenet_utils.preprocess_input` modes ``caffe``
(RGB->BGR, ImageNet mean subtracted), ``tf`` (x / 127.5 - 1) and ``torch``
(x / 255, ImageNet mean and std). Only the standard library at import.
"""

import json
import os
import pathlib
import shutil

from zfkeras.utils.errors import InputError

ENTRY_FILE = "explore.json"
MODEL_FILE = "model.keras"
IMAGES_FILE = "images.npz"
FORMAT = 1
PREPROCESS_MODES = ("none", "scale255", "caffe", "tf", "torch")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")


def preprocess(images, mode):
    """Raw ``(N, H, W, C)`` pixels in [0, 255] -> float32 model inputs, per ``mode``."""
    import numpy as np

    x = np.asarray(images, np.float32)
    if mode == "none":
        return x
    if mode == "scale255":
        return x / np.float32(255.0)
    from keras.applications import imagenet_utils

    return np.asarray(imagenet_utils.preprocess_input(x.copy(), data_format="channels_last", mode=mode), np.float32)


def image_files(folder):
    """Image files under ``folder`` (recursive, sorted, hidden names skipped)."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise InputError(f"--images {str(folder)!r} is not a folder")
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [pathlib.Path(root) / n for n in sorted(names)
                  if not n.startswith(".") and n.lower().endswith(IMAGE_EXTENSIONS)]
    if not files:
        raise InputError(f"--images {str(folder)!r} holds no image file ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def read_entry(path):
    """``explore.json`` of the entry at ``path`` as a dict (checked)."""
    try:
        with open(os.path.join(path, ENTRY_FILE)) as f:
            meta = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"explore entry {path}: cannot read {ENTRY_FILE} ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("preprocess") not in PREPROCESS_MODES:
        raise InputError(f"explore entry {path}: {ENTRY_FILE} is not a zfkeras explore entry of format {FORMAT}")
    return meta


def is_entry(path):
    """Whether folder `path` holds an explore entry (a readable `ENTRY_FILE` of this format)."""
    try:
        read_entry(path)
    except InputError:
        return False
    return True


def write_entry(target, model_path, images, files, preprocess_mode, class_names, sources, plan=None, model=None):
    """Writes the entry folder at ``target`` in one step (`zfkeras.utils.atomic.atomic_directory`).

    Args:
        target: the entry folder. An entry there is replaced; anything else
            is refused (`zfkeras.runs.outputs.plan_output_folder`).
        model_path: the ``.keras`` file to copy (unless ``model`` is given).
        images: uint8 ``(N, H, W, C)``.
        files: N relative file names.
        preprocess_mode: one of `PREPROCESS_MODES`.
        class_names: label names in output order.
        sources: ``{"model": ..., "images": ...}`` where they came from.
        plan: the checked `zfkeras.runs.outputs.OutputPlan` of ``target``
            (default: planned here, without ``--overwrite``).
        model: the loaded model, saved as the entry's ``.keras`` file
            instead of copying ``model_path`` (which is then another
            format, e.g. a legacy ``.h5`` file).
    """
    import numpy as np

    from zfkeras.runs.outputs import plan_output_folder
    from zfkeras.utils.atomic import write_json_atomic

    meta = {"format": FORMAT, "model": MODEL_FILE, "images": IMAGES_FILE, "preprocess": preprocess_mode,
            "input_shape": [int(d) for d in images.shape[1:]], "num_images": int(len(images)),
            "class_names": [str(c) for c in class_names], "sources": {k: str(v) for k, v in sources.items()}}
    if plan is None:
        plan = plan_output_folder(target, prog="zfkeras explore", flag="entry folder", is_own=is_entry,
                                  own_replaced=True)
    with plan.directory() as tmp:
        if model is None:
            shutil.copyfile(model_path, os.path.join(tmp, MODEL_FILE))
        else:
            model.save(os.path.join(tmp, MODEL_FILE))
        np.savez(os.path.join(tmp, IMAGES_FILE), images=np.asarray(images, np.uint8), files=np.asarray(files))
        write_json_atomic(os.path.join(tmp, ENTRY_FILE), meta)
    return pathlib.Path(target)
