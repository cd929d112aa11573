"""A SavedModel client of the ``explain_*`` signatures that knows only TensorFlow (run by the export tests).

Usage: python export_explain_client.py EXPORT_DIR REQUEST.npz RESPONSE.npz [EXPORT_DIR REQUEST RESPONSE ...]

REQUEST holds ``images`` (uint8) and ``target`` (int32, one class per
image, -1: the predicted class). The client checks that zfkeras cannot be
imported, loads each SavedModel, calls every ``explain_*`` signature and
saves its outputs in RESPONSE as ``<signature>/<output>``; then sends each
signature a target out of range and a target of the wrong shape and saves
the error messages as ``<signature>/error_range`` and
``<signature>/error_shape`` (``no error`` when the call succeeded).
``signatures`` lists the SavedModel's signatures and ``inputs/<signature>``
their declared inputs (``name:dtype``).
"""

import sys

import numpy as np
import tensorflow as tf

try:
    import zfkeras  # noqa: F401
except ImportError:
    pass
else:
    sys.exit("zfkeras is importable in the client process; the test would prove nothing")


def error_of(call):
    try:
        call()
    except tf.errors.InvalidArgumentError as e:
        return e.message
    return "no error"


args = sys.argv[1:]
for export_dir, request_path, response_path in zip(args[0::3], args[1::3], args[2::3]):
    request = np.load(request_path)
    loaded = tf.saved_model.load(export_dir)
    images = tf.constant(request["images"], tf.uint8)
    target = np.asarray(request["target"], np.int32)
    response = {"signatures": np.array(sorted(loaded.signatures), dtype="S")}
    for name in sorted(loaded.signatures):
        if not name.startswith("explain_"):
            continue
        signature = loaded.signatures[name]
        specs = signature.structured_input_signature[1]
        response[f"inputs/{name}"] = np.array(sorted(f"{k}:{v.dtype.name}" for k, v in specs.items()), dtype="S")
        for key, value in signature(images=images, target=tf.constant(target)).items():
            response[f"{name}/{key}"] = value.numpy()
        bad = target.copy()
        bad[-1] = 1000
        response[f"{name}/error_range"] = np.array(error_of(lambda: signature(images=images, target=tf.constant(bad))),
                                                   dtype="S")
        response[f"{name}/error_shape"] = np.array(
            error_of(lambda: signature(images=images, target=tf.constant(target[:-1]))), dtype="S")
    np.savez(response_path, **response)
    print(export_dir, "signatures:", sorted(loaded.signatures))
