"""A SavedModel client that knows only TensorFlow (run by the export tests).

Usage: python export_client.py EXPORT_DIR REQUEST.npz RESPONSE.npz

REQUEST holds ``images`` (uint8), ``layers`` (str) and ``channels`` (one
row per layer). The client checks that zfkeras cannot be imported, calls
the signatures and saves every output in RESPONSE, with keys
``classify/<output>``, ``features/<output>``, ``project/<layer>/<output>``
and (when the export has it) ``occlude/<output>``.
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

export_dir, request_path, response_path = sys.argv[1:4]
request = np.load(request_path)
loaded = tf.saved_model.load(export_dir)
images = tf.constant(request["images"], tf.uint8)
response = {}
for key, value in loaded.signatures["serving_default"](images=images).items():
    response[f"classify/{key}"] = value.numpy()
for key, value in loaded.signatures["features"](images=images).items():
    response[f"features/{key}"] = value.numpy()
for layer, channels in zip(request["layers"], request["channels"]):
    outputs = loaded.signatures["project"](
        images=images, layer=tf.constant(str(layer)), channel=tf.constant(channels, tf.int32)
    )
    for key, value in outputs.items():
        response[f"project/{layer}/{key}"] = value.numpy()
if "occlude" in loaded.signatures:
    for key, value in loaded.signatures["occlude"](images=images).items():
        response[f"occlude/{key}"] = value.numpy()
# strings come back as object arrays of bytes; store them as plain bytes
response = {k: v.astype("S") if v.dtype == object else v for k, v in response.items()}
np.savez(response_path, **response)
print("signatures:", sorted(loaded.signatures))
