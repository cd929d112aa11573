"""Writing a model's SavedModel into a numbered version folder, atomically.

TensorFlow Serving watches ``OUT_DIR`` and loads the highest all-digit
sub-folder. `export_model` writes the SavedModel (through
`keras.export.ExportArchive`) into a hidden temporary folder beside the
version folder and renames it only when complete, so a server never sees
half an export, and an export killed at any point leaves only a
``.tmp-...`` folder, which servers ignore and the next export deletes.
"""

import functools
import importlib
import inspect
import os
import pathlib
import shutil
import signal

import keras
import tensorflow as tf

from zfkeras.utils import atomic
from zfkeras.deconv import Deconvnet
from zfkeras.export import record as export_record
from zfkeras.export import signatures
from zfkeras.export.projections import explain_signatures
from zfkeras.export.occlude import Occluder, default_square
from zfkeras.utils.validation import positive_int
from zfkeras.utils.errors import InputError

CLASS_NAMES_FILE = "class_names.txt"

# Layer types whose outputs the ``features`` signature serves.
_CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)

# Test hook: name of a stage at which the exporting process kills itself
# with SIGKILL (as `kill -9` would), to test interrupted exports.
KILL_AT_ENV = "ZFKERAS_EXPORT_KILL_AT"


def _maybe_die(stage):
    if os.environ.get(KILL_AT_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def next_version(out_dir):
    """One more than the highest all-digit name in `out_dir` (1 if none).

    Files count too (a version folder cannot take their name).
    """
    return max(export_record.versions(out_dir), default=0) + 1


def _remove_dead_temporaries(out_dir):
    # A temporary is named ".tmp-<pid>-<token>-<name>"; remove those whose
    # writer is gone (killed exports), keep those of running processes.
    # (Writers on other machines sharing the folder are not told apart.)
    for path in out_dir.iterdir():
        if not atomic.is_temporary(path.name):
            continue
        pid = path.name[len(atomic.TEMP_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


def _check_class_names(class_names, num_classes):
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__"):
        raise TypeError(f"class_names must be a list of strings, got {class_names!r}")
    names = list(class_names)
    if len(names) != num_classes:
        raise ValueError(
            f"class_names has {len(names)} names but the model has {num_classes} classes; "
            "give one name per model output"
        )
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"class_names must be strings, got {name!r} of type {type(name).__name__}")
        if "\n" in name or "\r" in name:
            raise ValueError(f"class name {name!r} contains a line break; the asset stores one name per line")
    return names


def _outputs_logits(model):
    """Whether the model's output needs a softmax to be probabilities: the
    library's one decision (`zfkeras.graph.output.output_policy`), with a
    last activation that is neither softmax nor linear refused (a softmax of
    sigmoid outputs, say, is no class probability)."""
    from zfkeras.graph.output import last_layer, output_policy

    policy = output_policy(model)
    if policy.from_logits:
        last = last_layer(model)
        activation = getattr(getattr(last, "activation", None), "__name__", "linear")
        if activation != "linear":
            raise InputError(
                f"the model's last layer {last.name!r} has activation {activation!r}; the export serves "
                "class probabilities and needs a softmax or linear (logits) output"
            )
    return policy.from_logits


def _feature_layers(model, layers):
    """Names for the ``features`` signature: the conv layers among `layers`, then fc7.

    Only layers the model itself holds (not inside nested models): those are
    the ones `zfkeras.methods.features` reads.
    """
    own = {layer.name: layer for layer in model.layers}
    chosen = [name for name in layers if isinstance(own.get(name), _CONV_TYPES)]
    if isinstance(own.get("fc7"), keras.layers.Dense):
        chosen.append("fc7")
    return chosen


def _feature_reducer():
    """`zfkeras.methods.features.reduce_output` with that module's default pooling."""
    features = importlib.import_module("zfkeras.methods.features")
    defaults = inspect.signature(features.features).parameters
    return functools.partial(
        features.reduce_output, pool=defaults["pool"].default, grid=tuple(defaults["grid"].default)
    )


def _check_preprocessing(preprocessing, input_shape):
    # One eager call builds an unbuilt layer (the archive needs its weights)
    # and catches a preprocessing that does not fit the model now.
    if preprocessing is None:
        return
    if not callable(preprocessing):
        raise TypeError(f"preprocessing must be a Keras layer, a callable or None, got {preprocessing!r}")
    shape = tuple(int(d) for d in input_shape)
    out = preprocessing(tf.zeros((1, *shape), tf.float32))
    if tuple(out.shape) != (1, *shape):
        raise ValueError(
            f"preprocessing maps images (1, {', '.join(map(str, shape))}) to shape {tuple(out.shape)}; "
            "it must keep the model's input shape"
        )


def _check_layers(deconvnet, layers):
    if layers is None:
        return list(deconvnet.layer_names)
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    unknown = [name for name in layers if name not in deconvnet.layer_names]
    if unknown or not layers:
        raise ValueError(
            f"deconvnet_layers {layers!r} must be a non-empty list of the deconvnet's layers "
            f"{deconvnet.layer_names}; unknown: {unknown}"
        )
    return layers


def _occluder(model, layers, occlude_size, occlude_stride, occlude_layer, softmax):
    """The ``occlude`` signature's `Occluder` (None when the model has no layer to follow)."""
    own = {layer.name for layer in model.layers}
    if occlude_layer is None:
        occlude_layer = "conv5" if "conv5" in own else next(
            (name for name in reversed(layers) if name in own and name in _feature_layers(model, [name])), None)
        if occlude_layer is None:
            return None
    elif occlude_layer not in own or occlude_layer not in layers:
        raise InputError(f"occlude_layer {occlude_layer!r} must be a top-level layer the deconvnet serves: "
                         f"{[n for n in layers if n in own]}")
    height = int(model.inputs[0].shape[1])
    size, stride = default_square(height)
    size = size if occlude_size is None else positive_int(occlude_size, "occlude_size")
    stride = (max(1, size // 5) if occlude_size is not None else stride) if occlude_stride is None else positive_int(
        occlude_stride, "occlude_stride")
    return Occluder(model, size, stride, occlude_layer, softmax)


def export_model(
    model, out_dir, class_names, preprocessing=None, version=None, deconvnet_layers=None, record=None,
    occlude_size=None, occlude_stride=None, occlude_layer=None, explain_methods=None,
):
    """Writes a SavedModel serving `model` into ``out_dir/<version>/``.

    The SavedModel's signatures each take raw uint8 images ``(N, H, W, C)``
    at the model's input size (see docs/EXPORT.md): ``serving_default``
    (probabilities, top classes, top labels), ``features`` (conv layers and
    fc7), ``project`` and ``project_<method>`` (deconvnet and other
    backward-rule projections), ``explain_<method>`` (LRP, Integrated
    Gradients: a class's maps and attributions) and ``occlude`` (Fig. 7's
    occlusion maps). It needs only TensorFlow to load.

    Args:
        model: a trained Keras classifier that `zfkeras.Deconvnet` accepts,
            ending in a softmax (or linear: a softmax is added).
        out_dir: the model folder a server watches; created if missing.
        class_names: one name per class, in output order (an asset).
        preprocessing: None (pixels go to the model as float32), or a Keras
            layer or traceable callable mapping float32 raw pixels to the
            model's input (runs inside the graph; its weights are saved).
        version: positive int, the version folder; default one more than the
            highest present (1 for a new folder).
        deconvnet_layers: layer names the ``project`` signature serves
            (conv layers among them make the ``features`` outputs); default
            every layer the deconvnet mirrors.
        record: None, or a JSON-friendly dict saved in the version folder
            as ``zfkeras_export.json`` (what it was exported from; see
            `zfkeras.export.record`).
        occlude_size, occlude_stride: the ``occlude`` signature's square and
            step in pixels (default: the paper's 50/224 of the input side,
            stride a fifth of it).
        occlude_layer: the top-level layer whose strongest map ``occlude``
            follows (default ``conv5``, else the last conv layer served).
        explain_methods: the ``explain_<method>`` signatures: None (every
            deterministic registered method with an in-graph form but the
            uniform LRP rules of
            `zfkeras.export.projections.DEFAULT_EXPLAIN_LEFT_OUT`; one the
            model's layers do not support is left out with a warning),
            ``"all"``, or a list of method names (``[]``: none).

    Returns:
        `pathlib.Path` of the version folder.

    Raises:
        ValueError: unsupported model, wrong class names or layers, or the
            version folder exists already.
    """
    deconvnet = Deconvnet(model)
    if any(d is None for d in deconvnet.input_shape):
        raise ValueError(
            f"model {model.name!r} takes images of shape {deconvnet.input_shape}; the export needs a "
            "fixed (H, W, C): rebuild the model with keras.Input((H, W, C))"
        )
    num_classes = int(model.outputs[0].shape[-1])
    names = _check_class_names(class_names, num_classes)
    layers = _check_layers(deconvnet, deconvnet_layers)
    _check_preprocessing(preprocessing, deconvnet.input_shape)
    softmax = _outputs_logits(model)
    occluder = _occluder(model, layers, occlude_size, occlude_stride, occlude_layer, softmax)
    explain_signatures(explain_methods)  # unknown names refused before any folder is made
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_dead_temporaries(out_dir)
    version = next_version(out_dir) if version is None else positive_int(version, "version")
    target = out_dir / str(version)
    if target.exists():
        raise InputError(
            f"version folder {target} already exists; pass another version or none "
            f"(the next free one is {next_version(out_dir)})"
        )
    with atomic.atomic_directory(target) as tmp:
        # The asset source must exist while the table is built; the saver
        # copies it into the SavedModel's assets/ folder.
        staged = os.path.join(tmp, CLASS_NAMES_FILE)
        with open(staged, "w", encoding="utf-8") as f:
            f.write("".join(name + "\n" for name in names))
        _maybe_die("staged")
        _write_archive(model, deconvnet, preprocessing, staged, layers, softmax, tmp, occluder, explain_methods)
        os.remove(staged)
        if record is not None:
            export_record.write_record(tmp, record)
        _maybe_die("written")
    return target


def _write_archive(model, deconvnet, preprocessing, class_file, layers, softmax, path, occluder=None,
                   explain_methods=()):
    class_table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            class_file, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
        ),
        default_value="",
    )
    fns = signatures.ServingFunctions(
        model, deconvnet, preprocessing, class_table, layers,
        _feature_layers(model, layers), _feature_reducer(), softmax, occluder, explain_methods,
    )
    images = fns.image_spec()
    archive = keras.export.ExportArchive()
    archive.track(model)
    if isinstance(preprocessing, keras.layers.Layer):
        archive.track(preprocessing)
    archive.track(class_table)
    archive.add_endpoint("serving_default", fns.classify, [images])
    archive.add_endpoint("features", fns.features, [images])
    for name, method in fns.project_signatures.items():  # one per registered backward rule
        archive.add_endpoint(
            name, fns.projector(method),
            [images, tf.TensorSpec(None, tf.string, name="layer"), tf.TensorSpec(None, tf.int32, name="channel")],
        )
    for name, method in fns.explain_signatures.items():  # one per deterministic in-graph method
        archive.add_endpoint(name, fns.explainer(method), [images, tf.TensorSpec(None, tf.int32, name="target")])
    if occluder is not None:
        archive.add_endpoint("occlude", fns.occlude, [images])
    archive.write_out(path, verbose=False)


def export_run(run_dir, out_dir, version=None, reuse=False, occlude_size=None, occlude_stride=None,
               occlude_layer=None, explain_methods=None):
    """Exports a run folder's trained model with its preprocessing and class names.

    The version folder records what it was exported from
    (``zfkeras_export.json``: the model file's SHA-256 and the export's
    parameters, `zfkeras.export.record`).

    Args:
        run_dir: a run folder (`zfkeras.runs.folder.RunFolder`).
        out_dir: the model folder a server watches.
        version: as in `export_model`.
        reuse: with no `version`, return the newest version folder instead
            of writing one when it was exported from the same model file
            with the same parameters.
        occlude_size, occlude_stride, occlude_layer, explain_methods: as in
            `export_model`.

    Returns:
        `pathlib.Path` of the version folder.
    """
    from zfkeras.runs.folder import RunFolder

    run = RunFolder(run_dir)
    record = export_record.run_record(run, occlude=_occlude_parameters(occlude_size, occlude_stride, occlude_layer),
                                      explain_methods=explain_methods)
    if reuse and version is None:
        found = export_record.reusable_version(out_dir, record)
        if found is not None:
            return found
    return export_model(
        run.load_model(), out_dir, run.class_names,
        preprocessing=run.preprocessing_layer(), version=version, record=record,
        occlude_size=occlude_size, occlude_stride=occlude_stride, occlude_layer=occlude_layer,
        explain_methods=explain_methods,
    )


def _occlude_parameters(size, stride, layer):
    """The ``occlude`` flags as given (None: defaults), for the export record."""
    return {"size": size, "stride": stride, "layer": layer}
