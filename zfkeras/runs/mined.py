"""Mined top-k activations stored in a run folder (``RUN_DIR/mined/``).

``zfkeras mine RUN_DIR`` writes, and the report's Fig. 2, its explorer and
the TensorBoard explorer plugin read, one file per layer::

    RUN_DIR/mined/<layer>.npz      (names from zfkeras.runs.layout)
        values      float32 (C, k)     each row descending (the tie rule of
                                       zfkeras.methods.top_activations: value, then image id)
        image_ids   int64   (C, k)     index into the mined images
        positions   int64   (C, k, 2)  (y, x) in the layer's output
        params      str                JSON, see below
    RUN_DIR/mined/partial/progress.npz the progress of an unfinished pass
                                       (`save_progress`; removed at the end)

``params`` (JSON) holds ``format`` (`FORMAT`), ``layer``, ``k``, ``split``
(``"test"`` or ``"train"``), ``max_images`` and ``seed`` (the images are
``RunFolder.load_split(split, max_examples=max_images, seed=seed)``: image
ids index that array), ``num_images`` (how many were mined),
``model_sha256`` (the digest of ``model.keras`` the result was mined
with), ``zfkeras_version`` and ``written`` (UTC, ISO 8601).

The functions (the readers' contract; the names stay):

* ``save_top_activations(run, layer, result, params) -> path`` writes one
  layer atomically (`zfkeras.utils.atomic`: a reader sees the old file or the
  new one, never a part); ``format``, ``layer``, ``k``, ``model_sha256``,
  ``zfkeras_version`` and ``written`` are filled in.
* ``load_top_activations(run, layer, k=None, **expected) ->
  TopActivations | None``: the stored result, its first ``k`` entries per
  map when ``k`` is given (the top ``k`` of a top ``k' >= k``, same tie
  rule), or None when it is missing, unreadable, of another format, mined
  with another ``model.keras`` (stale), with fewer than ``k`` entries, or
  when a keyword of ``expected`` (e.g. ``split="test"``, ``max_images=10000``,
  ``seed=0``) differs from the stored parameter.
* ``read_params(run, layer, **expected) -> dict | None``: the parameters of
  a result ``load_top_activations`` would return.
* ``mined_layers(run) -> list``: the layers with a result that is not stale.

``run`` is a `zfkeras.runs.folder.RunFolder` or the path of a run folder.
Reading needs numpy, not TensorFlow (but `TopActivations`, from
`zfkeras.methods.top_activations`, imports it).
"""

import datetime
import json
import os
import re

import numpy as np

from zfkeras.utils.atomic import atomic_path
from zfkeras.runs import layout

FORMAT = 1
ARRAYS = ("values", "image_ids", "positions")
# Filled in by save_top_activations, never taken from the caller.
_OWN = ("format", "layer", "k", "model_sha256", "zfkeras_version", "written")
_DIGESTS = {}  # (model path, size, mtime_ns) -> sha256: hashed once per process


def _run(run):
    from zfkeras.runs.folder import RunFolder

    return run if isinstance(run, RunFolder) else RunFolder(run)


def file_name(layer):
    """The file of a layer's result inside ``mined/`` (nested-model slashes made safe)."""
    return layout.MINED_PATTERN.format(layer=re.sub(r"[^A-Za-z0-9_.-]+", "_", str(layer)))


def layer_path(run, layer):
    """``RUN_DIR/mined/<layer>.npz`` (`pathlib.Path`; nothing is read)."""
    return _run(run).layout.mined / file_name(layer)


def model_digest(run):
    """SHA-256 of the run's ``model.keras`` (None without one), hashed once per file version."""
    run = _run(run)
    path = run.model_path
    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = run.digest(layout.MODEL)
    return _DIGESTS[key]


def stamped_params(run, params, own, **fields):
    """``params`` without the keys in ``own``, with ``fields``, the digest of
    the run's ``model.keras``, the zfkeras version and the time (UTC) added:
    what a file stored beside the model records of how it was made."""
    from zfkeras import __version__

    stamped = {key: value for key, value in dict(params).items() if key not in own}
    stamped.update(fields, model_sha256=model_digest(run), zfkeras_version=__version__,
                   written=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    return stamped


def _stamp(run, params, k, layer=None):
    """The caller's parameters with the ones this module owns filled in."""
    stamped = stamped_params(run, params, _OWN, format=FORMAT, k=int(k))
    if layer is not None:
        stamped["layer"] = str(layer)
    return stamped


def _write_npz(path, arrays, params):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, params=np.array(json.dumps(params, sort_keys=True)), **arrays)
    return path


def _read_npz(path):
    """``(arrays dict, params dict)`` of a file, or None when absent or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {name: f[name] for name in f.files}
        params = json.loads(str(data.pop("params")))
    except (OSError, ValueError, KeyError, EOFError):
        return None
    return (data, params) if isinstance(params, dict) else None


def _fresh(run, params, expected):
    return (params.get("format") == FORMAT and params.get("model_sha256") == model_digest(run)
            and all(key in params and params[key] == value for key, value in expected.items()))


def save_top_activations(run, layer, result, params):
    """Writes one layer's mined result into ``RUN_DIR/mined/`` atomically.

    Args:
        run: a `RunFolder` or a run folder path.
        layer: the layer name.
        result: its `zfkeras.methods.top_activations.TopActivations`.
        params: dict with at least ``split``, ``max_images``, ``seed`` and
            ``num_images`` (see the module docstring); JSON-serialisable.

    Returns:
        The file's path.
    """
    run = _run(run)
    arrays = {"values": np.asarray(result.values, np.float32), "image_ids": np.asarray(result.image_ids, np.int64),
              "positions": np.asarray(result.positions, np.int64)}
    return _write_npz(layer_path(run, layer), arrays, _stamp(run, params, arrays["values"].shape[1], layer))


def read_params(run, layer, **expected):
    """The stored parameters of a layer's result, or None when missing, unreadable or stale."""
    loaded = load_mined(run, layer, **expected)
    return None if loaded is None else loaded[1]


def load_mined(run, layer, k=None, **expected):
    """``(TopActivations, params)`` of a stored layer, or None (see `load_top_activations`)."""
    run = _run(run)
    read = _read_npz(layer_path(run, layer))
    if read is None:
        return None
    arrays, params = read
    if params.get("layer") != str(layer) or not _fresh(run, params, expected) or any(a not in arrays for a in ARRAYS):
        return None
    stored = arrays["values"].shape[1]
    keep = stored if k is None else int(k)
    if keep < 1 or keep > stored:
        return None
    from zfkeras.methods.top_activations import TopActivations

    result = TopActivations(arrays["values"][:, :keep], arrays["image_ids"][:, :keep], arrays["positions"][:, :keep])
    return result, params


def load_top_activations(run, layer, k=None, **expected):
    """The stored top-k of one layer, or None when missing or stale.

    Args:
        run: a `RunFolder` or a run folder path.
        layer: the layer name.
        k: entries per map wanted (the first ``k`` of a larger stored
            result); None: all that are stored.
        **expected: parameters the result must have been mined with, e.g.
            ``split="test", max_images=10000, seed=0``.

    Returns:
        `zfkeras.methods.top_activations.TopActivations`, or None (see the module docstring).
    """
    loaded = load_mined(run, layer, k, **expected)
    return None if loaded is None else loaded[0]


def mined_layers(run):
    """The layers with a stored result that is not stale, sorted by name."""
    run = _run(run)
    names = []
    for path in sorted(run.layout.mined.glob(layout.MINED_GLOB)):
        read = _read_npz(path)
        if read is not None and file_name(read[1].get("layer", "")) == path.name and _fresh(run, read[1], {}):
            names.append(read[1]["layer"])
    return sorted(names)


# -- the progress of an unfinished pass (zfkeras mine) ------------------------

def save_progress(run, layers, results, params):
    """Saves the merged top-k of every layer so far and where to go on.

    Args:
        run: a `RunFolder` or a run folder path.
        layers: the layer names, in order.
        results: dict layer -> `TopActivations` merged over the images done.
        params: dict of the pass's parameters; must hold ``next_offset``
            (the first image not mined yet).

    Returns:
        The file's path (``mined/partial/progress.npz``).
    """
    run = _run(run)
    arrays = {}
    for i, layer in enumerate(layers):
        for name in ARRAYS:
            arrays[f"{i}_{name}"] = getattr(results[layer], name)
    stamped = _stamp(run, dict(params, layers=list(layers)), results[layers[0]].k)
    return _write_npz(run.layout.mined_progress, arrays, stamped)


def load_progress(run, **expected):
    """``(results dict layer -> TopActivations, next offset)`` of a saved pass
    with the same parameters and model, or None (none saved, another pass)."""
    run = _run(run)
    read = _read_npz(run.layout.mined_progress)
    if read is None:
        return None
    arrays, params = read
    if not _fresh(run, params, expected) or "next_offset" not in params:
        return None
    from zfkeras.methods.top_activations import TopActivations

    try:
        results = {layer: TopActivations(*(arrays[f"{i}_{name}"] for name in ARRAYS))
                   for i, layer in enumerate(params["layers"])}
    except KeyError:
        return None
    return results, int(params["next_offset"])


def clear_progress(run):
    """Removes the progress of a finished pass (nothing when there is none)."""
    path = _run(run).layout.mined_progress
    if path.exists():
        os.remove(path)
    if path.parent.is_dir() and not any(path.parent.iterdir()):
        path.parent.rmdir()
