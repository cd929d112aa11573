"""Server-side latencies of the TensorBoard explorer's routes.

Each model becomes a ``zfkeras explore`` entry in a temporary log folder,
and the routes are called through TensorBoard's own WSGI app (werkzeug
test client, in process: the time is the server's, no network). Every
route is called once first (it loads the model and traces its graphs);
the figures are the calls after that, on other units each time:

* ``project``: one unit of an uploaded photo projected to pixels (with its
  activation map and the PNGs), a different map each call;
* ``unit``: a unit's top 9 once the layer's mining result is stored
  (cached top 9, projected and drawn), a different map each call, and the
  same unit again (answered from memory);
* ``analyze`` (top 5, strongest maps) and, for zfnet_small, ``occlusion``
  (6 px square, stride 2) for the upload.

Models: zfnet_small (28x28 grey, 10 classes; images: Fashion-MNIST test
images as PNG files) and keras.applications ResNet50 at 224 px (photos).
Random weights (the cost does not depend on them).

    .venv/bin/python -m benchmarks.explorer [--repeats 5] [--out docs/explorer_benchmark.json]
"""

import argparse
import json
import os
import pathlib
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from zfkeras.analysis.output.machine import cpu_model


def _png(image, path):
    from PIL import Image

    Image.fromarray(image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image).save(path)


def _client(logdir):
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    from zfkeras.explore.plugin import ExplorerPlugin

    return Client(application.TensorBoardWSGI([ExplorerPlugin(base_plugin.TBContext(logdir=str(logdir)))]))


def _call(http, route, method="get", **kwargs):
    start = time.perf_counter()
    response = getattr(http, method)(f"/data/plugin/zfkeras/{route}", **kwargs)
    elapsed = time.perf_counter() - start
    body = json.loads(response.get_data(as_text=True))
    assert response.status_code == 200, body
    return elapsed, body


def _mined(http, run, layer):
    while True:
        _, body = _call(http, "unit", query_string={"run": run, "layer": layer, "map": 0})
        if body["status"] == "ready":
            return
        time.sleep(0.2)


def measure(http, run, layer, maps, upload, repeats, occlusion):
    """Latencies (seconds) of the routes for one entry."""
    _, up = _call(http, "upload", method="post", query_string={"run": run}, data=upload,
                  content_type="application/octet-stream", headers={"X-XSRF-Protected": "1"})
    image = up["image"]
    first = {}
    first["project"], _ = _call(http, "project", query_string={"run": run, "image": image, "layer": layer, "map": 0})
    first["analyze"], _ = _call(http, "analyze", query_string={"run": run, "image": image})
    if occlusion:
        first["occlusion"], _ = _call(http, "occlusion", query_string=dict(run=run, image=image, **occlusion))
    _mined(http, run, layer)     # mines the layer (stored), then map 0's panels: traced
    times = {"project": [], "unit": [], "unit_again": [], "analyze": []} | ({"occlusion": []} if occlusion else {})
    for i in range(1, repeats + 1):
        channel = int(maps[i % len(maps)])
        times["project"].append(_call(http, "project", query_string={
            "run": run, "image": image, "layer": layer, "map": channel})[0])
        times["unit"].append(_call(http, "unit", query_string={"run": run, "layer": layer, "map": channel})[0])
        times["unit_again"].append(_call(http, "unit", query_string={"run": run, "layer": layer, "map": channel})[0])
        times["analyze"].append(_call(http, "analyze", query_string={"run": run, "image": image})[0])
        if occlusion:
            times["occlusion"].append(_call(http, "occlusion", query_string=dict(run=run, image=image, **occlusion))[0])
    return {"first_call_s": {k: round(v, 3) for k, v in first.items()},
            "median_s": {k: round(statistics.median(v), 4) for k, v in times.items()},
            "max_s": {k: round(max(v), 4) for k, v in times.items()}, "layer": layer, "occlusion": occlusion}


def _entry(name, model, images, logdir, work, preprocess):
    from zfkeras.explore.cli import main

    folder = work / f"{name}_images"
    folder.mkdir()
    for i, image in enumerate(images):
        _png(image, folder / f"{i:05d}.png")
    model.save(work / f"{name}.keras")
    assert main([str(work / f"{name}.keras"), "--images", str(folder), "--logdir", str(logdir),
                 "--preprocess", preprocess]) == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--zfnet-images", type=int, default=1000)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    import keras
    from sklearn.datasets import load_sample_images

    import zfkeras
    from zfkeras.data import load_fashion_mnist

    work = pathlib.Path(tempfile.mkdtemp(prefix="explorer-bench-"))
    logdir = work / "logs"
    _, (x_test, _) = load_fashion_mnist()
    photo = load_sample_images().images[0]
    _entry("zfnet_small", zfkeras.zfnet_small((28, 28, 1), 10), x_test[:args.zfnet_images], logdir, work, "scale255")
    crops = [photo[y:y + 300, x:x + 300] for y in (0, 100) for x in range(0, 120, 12)][:12]
    _entry("resnet50", keras.applications.ResNet50(weights=None), crops, logdir, work, "caffe")
    from io import BytesIO
    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(load_sample_images().images[1]).save(buffer, format="JPEG")
    upload = buffer.getvalue()
    http = _client(logdir)
    load = os.getloadavg()
    rows = {
        "zfnet_small": measure(http, "zfnet_small", "conv5", range(1, 64), upload, args.repeats,
                               {"size": 6, "stride": 2}),
        "resnet50": measure(http, "resnet50", "conv4_block6_out", range(1, 64), upload, args.repeats, None),
    }
    result = {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average_before": load,
              "load_average_after": os.getloadavg(), "repeats": args.repeats, "rows": rows}
    print(json.dumps(result, indent=1))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
