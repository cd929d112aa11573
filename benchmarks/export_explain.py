"""What the ``explain_*`` signatures cost an export, and how fast they serve.

In one process, on zfnet_small (random weights, or a run folder's model):

* ``export_model`` with ``explain_methods`` ``[]`` (no explain signature),
  None (the default set: the LRP composites, lrp_epsilon and Integrated
  Gradients) and ``"all"`` (every LRP rule too): wall and CPU seconds of
  the export, and the version folder's size;
* from the ``"all"`` export reloaded with ``tf.saved_model.load``: median
  seconds per call of ``explain_lrp_epsilon_plus_flat`` and
  ``explain_integrated_gradients`` on ``--images`` raw images vs
  ``zfkeras.explain`` on the same images preprocessed, order alternating,
  and the largest difference.

    .venv/bin/python -m benchmarks.export_explain [--run-dir RUN_DIR] [--images 32] [--repeats 3]
        [--out docs/export_explain_benchmark.json]
"""

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import zfkeras
from benchmarks.export_serving import _folder_bytes, _subject, _timed
from zfkeras.analysis.output.machine import cpu_model
from zfkeras.export import export_model

CHOICES = {"none": [], "default": None, "all": "all"}
SERVED = ("lrp_epsilon_plus_flat", "integrated_gradients")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", default="", help="run folder (default: zfnet_small, random weights)")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)

    model, names, layer, preprocess, raw = _subject(args.run_dir)
    raw = raw[: args.images]
    x = preprocess(raw)
    exports, rows = {}, {}
    with tempfile.TemporaryDirectory() as out_dir:
        path = None
        for choice, methods in CHOICES.items():
            cpu = time.process_time()
            wall, path = _timed(lambda: export_model(model, os.path.join(out_dir, choice), names,
                                                     preprocessing=layer, explain_methods=methods))
            exports[choice] = {"wall_s": wall, "cpu_s": time.process_time() - cpu, "bytes": _folder_bytes(path)}
            loaded = tf.saved_model.load(str(path))
            exports[choice]["explain_signatures"] = sorted(s for s in loaded.signatures if s.startswith("explain_"))
            print(choice, exports[choice], flush=True)
        images = tf.constant(raw)
        target = tf.constant(np.full(len(raw), -1, np.int32))
        for method in SERVED:
            signature = loaded.signatures[f"explain_{method}"]
            served = lambda: signature(images=images, target=target)["attributions"].numpy()  # noqa: E731
            library = lambda: zfkeras.explain(model, x, method, verbose=0).attributions  # noqa: E731
            a, b = served(), library()  # warm-up: traces and caches
            times = {"served": [], "library": []}
            for repeat in range(args.repeats):
                order = [("served", served), ("library", library)]
                for side, fn in (order if repeat % 2 == 0 else order[::-1]):
                    times[side].append(_timed(fn)[0])
            rows[f"explain_{method}"] = {
                "served_s": statistics.median(times["served"]), "library_s": statistics.median(times["library"]),
                "max_abs_difference": float(np.abs(a - b).max()), "max_abs": float(np.abs(b).max()),
            }
            print(method, rows[f"explain_{method}"], flush=True)
    result = {
        "cpu": cpu_model(), "tensorflow": tf.__version__, "model": model.name, "run_dir": args.run_dir,
        "images": len(raw), "repeats": args.repeats, "exports": exports, "rows": rows,
    }
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
