"""Feature visualisations stored in a run folder (``RUN_DIR/visualized/``).

The TensorBoard explorer optimises, in the background, one image per
feature map of a layer (or per class of the model) with
`zfkeras.feature_visualization`, and keeps the result here so that the next
explorer reuses it. One file per target and settings::

    RUN_DIR/visualized/layer_<layer>_<method>_<steps>steps_seed<seed>.npz
    RUN_DIR/visualized/classes_<method>_<steps>steps_seed<seed>.npz
        pixels        uint8   (K, H, W, C)  the optimised images, displayable
                                            (`FeatureVisualization.pixels`)
        values        float32 (K,)          each objective on its image
        transparency  uint8   (K, H, W)     MaCo's transparency x 255, rounded
                                            (absent for ``"fourier"``)
        params        str                   JSON, see below

``params`` holds ``format`` (`FORMAT`), ``target`` (``"layer:<name>"`` or
``"classes"``), ``method``, ``steps``, ``seed`` and whatever else made the
images (the explorer's ``chunk``, the ``spectrum`` images' description),
``model_sha256`` (the ``model.keras`` they were made with),
``zfkeras_version`` and ``written`` (UTC). A result is reused only when
every expected parameter and the model digest match (`load_visualization`);
it is written atomically (a reader sees the old file or the new one).

``run`` is a `zfkeras.runs.folder.RunFolder` (or any object with its
``layout``, ``model_path`` and ``digest``, as the explorer's entries) or
the path of a run folder. numpy only.
"""

import re

import numpy as np

from zfkeras.runs.mined import _read_npz, _run, _write_npz, model_digest, stamped_params

FORMAT = 1
CLASSES = "classes"
ARRAYS = ("pixels", "values")
_OWN = ("format", "target", "model_sha256", "zfkeras_version", "written")


def layer_target(layer):
    """The ``target`` of a layer's maps (``"layer:<name>"``)."""
    return f"layer:{layer}"


def file_name(target, method, steps, seed):
    """The file of one target and settings inside ``visualized/`` (names made safe)."""
    stem = CLASSES if target == CLASSES else "layer_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", target[len("layer:"):])
    return f"{stem}_{method}_{int(steps)}steps_seed{int(seed)}.npz"


def target_path(run, target, method, steps, seed):
    """``RUN_DIR/visualized/<file_name>`` (`pathlib.Path`; nothing is read)."""
    return _run(run).layout.visualized / file_name(target, method, steps, seed)


def save_visualization(run, target, result, params):
    """Writes one target's visualisation into ``RUN_DIR/visualized/`` atomically.

    Args:
        run: a `RunFolder` or a run folder path.
        target: `layer_target` ``(layer)`` or `CLASSES`.
        result: a `zfkeras.FeatureVisualization` (or any object with its
            ``pixels``, ``values``, ``transparency``, ``method``, ``steps``
            and ``seed``).
        params: dict of what else made it (JSON-serialisable).

    Returns:
        The file's path.
    """
    run = _run(run)
    arrays = {"pixels": np.asarray(result.pixels, np.uint8), "values": np.asarray(result.values, np.float32)}
    if result.transparency is not None:
        arrays["transparency"] = np.round(np.clip(np.asarray(result.transparency, np.float32), 0, 1) * 255).astype(
            np.uint8)
    stamped = stamped_params(run, params, _OWN, format=FORMAT, target=str(target), method=str(result.method),
                             steps=int(result.steps), seed=int(result.seed))
    path = target_path(run, target, result.method, result.steps, result.seed)
    return _write_npz(path, arrays, stamped)


def load_visualization(run, target, method, steps, seed, **expected):
    """``(arrays dict, params dict)`` of a stored visualisation, or None.

    None when the file is missing or unreadable, of another format or
    target, made with another ``model.keras``, or when a keyword of
    ``expected`` (e.g. ``chunk=16``, ``spectrum={...}``) differs from the
    stored parameter. ``arrays`` has ``pixels``, ``values`` and, for MaCo,
    ``transparency`` (float32 in [0, 1], from its stored uint8).
    """
    run = _run(run)
    read = _read_npz(target_path(run, target, method, steps, seed))
    if read is None:
        return None
    arrays, params = read
    wanted = dict(expected, format=FORMAT, target=str(target), method=str(method), steps=int(steps), seed=int(seed),
                  model_sha256=model_digest(run))
    if any(key not in params or params[key] != value for key, value in wanted.items()):
        return None
    if any(a not in arrays for a in ARRAYS) or arrays["pixels"].dtype != np.uint8 or arrays["pixels"].ndim != 4:
        return None
    if len(arrays["values"]) != len(arrays["pixels"]):
        return None
    if "transparency" in arrays:
        alpha = arrays["transparency"]
        if alpha.dtype != np.uint8 or alpha.shape != arrays["pixels"].shape[:3]:
            return None
        arrays["transparency"] = alpha.astype(np.float32) / 255.0
    return arrays, params
