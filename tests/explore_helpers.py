"""Helpers of the explorer tests (a helper module, not a test module).

`client(logdir)` is a werkzeug test client over TensorBoard's own WSGI app
(`tensorboard.backend.application.TensorBoardWSGI`, with its middlewares:
security headers, error handling) serving only the zfkeras plugin, so the
route tests go through what ``tensorboard --logdir`` serves.
"""

import base64
import io
import json
import shutil
import time

import numpy as np

BASE = "/data/plugin/zfkeras"


def client(logdir):
    """``(werkzeug Client, ExplorerPlugin)`` for a log folder."""
    from tensorboard.backend import application
    from tensorboard.plugins import base_plugin
    from werkzeug.test import Client

    from zfkeras.explore.plugin import ExplorerPlugin

    plugin = ExplorerPlugin(base_plugin.TBContext(logdir=str(logdir)))
    return Client(application.TensorBoardWSGI([plugin])), plugin


def get(http, route, **params):
    """``(status, JSON body)`` of a GET of a plugin route."""
    response = http.get(f"{BASE}/{route}", query_string=params)
    return response.status_code, json.loads(response.get_data(as_text=True))


def post(http, route, data, headers=None, **params):
    """``(status, JSON body)`` of a POST as the page sends it (``X-XSRF-Protected: 1`` unless ``headers``)."""
    response = http.post(f"{BASE}/{route}", query_string=params, data=data,
                         content_type="application/octet-stream",
                         headers={"X-XSRF-Protected": "1"} if headers is None else headers)
    return response.status_code, json.loads(response.get_data(as_text=True))


def ready_unit(http, timeout=120, **params):
    """Polls /unit until its top 9 are ready; returns ``(answer, number of 'mining' answers)``."""
    waits, start = 0, time.monotonic()
    while time.monotonic() - start < timeout:
        status, body = get(http, "unit", **params)
        assert status == 200, body
        if body["status"] == "ready":
            return body, waits
        assert body["status"] == "mining" and 0.0 <= body["progress"] <= 1.0, body
        waits += 1
        time.sleep(0.2)
    raise AssertionError(f"unit {params} not ready after {timeout} s")


def decode(uri):
    """A ``data:image/png;base64,`` URI -> uint8 array."""
    from PIL import Image

    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix), uri[:40]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):]))))


def png_bytes(image):
    """uint8 ``(H, W[, 3])`` -> PNG file bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def copy_run(run, logdir, name="run"):
    """A copy of a run folder under ``logdir`` (the shared fixture stays read-only)."""
    target = logdir / name
    shutil.copytree(run.path, target)
    return target
