"""What a version folder was exported from, so that an unchanged model is not exported twice.

`export_run` writes ``OUT_DIR/<version>/zfkeras_export.json`` beside the
SavedModel: the SHA-256 of the run's ``model.keras`` and of its
preprocessing file, the class names, the served layers, the ``project_*``
and ``explain_*`` signatures (the latter with the options they serve) and
the zfkeras version. ``zfkeras export`` compares the newest version's record with the
run's (`reusable_version`) and reuses that folder when they are equal, so
rerunning the main job adds no version while the model is unchanged.

Needs only the standard library (no TensorFlow): the check answers before
anything heavy is imported.
"""

import json
import pathlib
import re

from zfkeras.runs import layout

RECORD_FILE = "zfkeras_export.json"


def run_record(run, deconvnet_layers=None, occlude=None, explain_methods=None):
    """The record of exporting `run` now.

    Args:
        run: a `zfkeras.runs.folder.RunFolder`.
        deconvnet_layers: the layers the ``project`` signature serves (None: all).
        occlude: the ``occlude`` signature's parameters as given (a dict), or None.
        explain_methods: the ``explain_*`` methods as given
            (`zfkeras.export.projections.explain_signatures`).

    Returns:
        JSON-friendly dict.
    """
    import zfkeras
    from zfkeras.export.projections import explain_record, project_signatures

    preprocessing = layout.NORMALIZATION if run.dataset == "fashion_mnist" else layout.MEAN_IMAGE
    return {
        "model_sha256": run.digest(layout.MODEL),
        "preprocessing_file": preprocessing,
        "preprocessing_sha256": run.digest(preprocessing),
        "class_names": list(run.class_names),
        "deconvnet_layers": None if deconvnet_layers is None else list(deconvnet_layers),
        "occlude": occlude,
        # a method registered since (or gone) changes what the export serves
        "project_signatures": sorted(project_signatures()),
        # each explain_<method> signature with the options it serves (the method's defaults)
        "explain_signatures": explain_record(explain_methods),
        "zfkeras_version": zfkeras.__version__,
    }


def write_record(version_dir, record):
    """Writes `record` into a version folder (its temporary, before the rename).

    Returns:
        The file's path.
    """
    path = pathlib.Path(version_dir) / RECORD_FILE
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_record(version_dir):
    """The record of a version folder, or None (none written, or unreadable)."""
    try:
        return json.loads((pathlib.Path(version_dir) / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def versions(out_dir):
    """The all-digit names in `out_dir` (files too: a folder cannot take them).

    Returns:
        dict version number -> `pathlib.Path` (empty when `out_dir` is missing).
    """
    out_dir = pathlib.Path(out_dir)
    if not out_dir.is_dir():
        return {}
    return {int(p.name): p for p in out_dir.iterdir() if re.fullmatch(r"[0-9]+", p.name)}


def reusable_version(out_dir, record):
    """The newest version folder when it was exported with exactly `record`.

    Args:
        out_dir: the model folder.
        record: from `run_record`.

    Returns:
        `pathlib.Path` of that folder, or None (no version, another model
        or parameters, or a folder without a record).
    """
    found = versions(out_dir)
    newest = found[max(found)] if found else None
    if newest is None or not newest.is_dir() or read_record(newest) != record:
        return None
    return newest
