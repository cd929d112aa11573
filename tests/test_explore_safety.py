"""The explorer on a shared machine: it serves only the runs the log folder
holds (links placed there followed, as TensorBoard does), limits and checks
uploads, and answers every bad parameter with 400 and a message (a failure
inside with 500 and one line), never a stack trace."""

import json
import os

import numpy as np
import pytest

from tests.explore_helpers import BASE, client, copy_run, get, png_bytes, post


@pytest.fixture(scope="module")
def logdir(trained_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("explore_safety")
    inside = root / "logdir"
    copy_run(trained_run, inside)
    outside = copy_run(trained_run, root, "outside")   # a real run, next to the log folder
    os.symlink(outside, inside / "link")               # a run linked into the log folder (served: test_explore_holds)
    corrupt = copy_run(trained_run, inside, "corrupt")
    data = (corrupt / "model.keras").read_bytes()
    (corrupt / "model.keras").write_bytes(data[: len(data) // 2])
    return inside


@pytest.fixture(scope="module")
def http(logdir):
    return client(logdir)[0]


def _refused(status, body, *words, code=400):
    assert status == code, (status, body)
    assert isinstance(body["error"], str) and body["error"]
    assert "Traceback" not in body["error"]
    for word in words:
        assert word in body["error"], body["error"]


@pytest.mark.parametrize("run_id, words", [
    ("../..", ["relative path"]), ("..", ["relative path"]), ("run/../..", ["relative path"]),
    ("/etc", ["relative path"]), ("run\\..", ["relative path"]), ("./run", ["relative path"]),
    ("nope", ["no zfkeras run"]), ("", ["missing"]),
])
def test_a_run_outside_the_log_folder_or_unknown_is_refused(http, logdir, run_id, words):
    _refused(*get(http, "info", run=run_id), *words)
    _refused(*get(http, "unit", run=run_id, layer="conv1", map="0"), *words)


def test_an_absolute_path_to_a_real_run_is_refused(http, logdir):
    _refused(*get(http, "info", run=str(logdir / "run")), "relative path")
    _refused(*get(http, "info", run=str(logdir.parent / "outside")), "relative path")


def test_a_corrupt_model_is_a_message(http):
    _refused(*get(http, "info", run="corrupt"), "corrupt")


@pytest.mark.parametrize("route, params, words", [
    ("unit", {"layer": "nope", "map": "0"}, ["unknown layer"]),
    ("unit", {"layer": "conv1", "map": "-1"}, ["'map'", "0.."]),
    ("unit", {"layer": "conv1", "map": "999"}, ["'map'"]),
    ("unit", {"layer": "conv1", "map": "1e3"}, ["integer"]),
    ("unit", {"layer": "conv1"}, ["missing parameter 'map'"]),
    ("unit", {"layer": "conv1", "map": "0", "method": "magic"}, ["'method'"]),
    ("analyze", {"image": "test:99999"}, ["does not exist"]),
    ("analyze", {"image": "../etc/passwd"}, ["test:<index>"]),
    ("analyze", {"image": "upload:" + "0" * 64}, ["upload the image again"]),
    ("analyze", {}, ["missing parameter 'image'"]),
    ("project", {"image": "test:0", "layer": "conv5", "map": "0", "y": "99", "x": "0"}, ["'y'"]),
    ("project", {"image": "test:0", "layer": "conv5", "map": "0", "y": "1"}, ["'x'"]),
    ("project", {"image": "test:0", "layer": "dense", "map": "0"}, ["unknown layer"]),
    ("occlusion", {"image": "test:0", "size": "0", "stride": "2"}, ["'size'"]),
    ("occlusion", {"image": "test:0", "size": "29", "stride": "2"}, ["'size'"]),
    ("occlusion", {"image": "test:0", "size": "6", "stride": "x"}, ["'stride'"]),
    ("occlusion", {"image": "test:0", "size": "6", "stride": "2", "method": "magic"}, ["'method'", "approximate"]),
    # zfnet_small has no incremental path for a 20 px square: the library's InputError, as a 400
    ("occlusion", {"image": "test:0", "size": "20", "stride": "2", "method": "incremental"},
     ["method='incremental' cannot run", "use method='full'"]),
    ("test_images", {"count": "1000"}, ["'count'"]),
])
def test_every_bad_parameter_is_a_400_with_a_message(http, route, params, words):
    _refused(*get(http, route, run="run", **params), *words)


def test_occlusion_positions_are_limited(http, monkeypatch):
    from zfkeras.explore import session

    monkeypatch.setattr(session, "MAX_OCCLUSION_POSITIONS", 100)
    _refused(*get(http, "occlusion", run="run", image="test:0", size="2", stride="1"), "729 square positions")
    assert get(http, "occlusion", run="run", image="test:0", size="10", stride="3")[0] == 200


def test_uploads_are_limited_and_must_decode(http):
    from PIL import Image

    from zfkeras.explore.uploads import MAX_BYTES

    _refused(*post(http, "upload", b"", run="run"), "empty")
    _refused(*post(http, "upload", b"GIF89a not really" * 10, run="run"), "does not decode")
    _refused(*post(http, "upload", b"\0" * (MAX_BYTES + 1), run="run"), "at most", code=413)
    import io

    huge = io.BytesIO()
    Image.new("1", (6000, 5000)).save(huge, format="PNG")      # 30 MP in a few kB
    assert len(huge.getvalue()) < MAX_BYTES
    _refused(*post(http, "upload", huge.getvalue(), run="run"), "6000x5000", code=413)
    tiff = io.BytesIO()
    Image.new("RGB", (8, 8)).save(tiff, format="TIFF")
    _refused(*post(http, "upload", tiff.getvalue(), run="run"), "TIFF")
    truncated = png_bytes(np.full((40, 40, 3), 7, np.uint8))[:-20]
    _refused(*post(http, "upload", truncated, run="run"), "does not decode")
    response = http.get(f"{BASE}/upload", query_string={"run": "run"})
    _refused(response.status_code, json.loads(response.get_data(as_text=True)), "POST")


def test_a_failure_inside_is_a_500_with_one_line_and_no_traceback(http, monkeypatch):
    from zfkeras.explore.session import Session

    def broken(self, raw):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(Session, "analyze", broken)
    status, body = get(http, "analyze", run="run", image="test:0")
    assert status == 500
    assert body["error"].startswith("internal error (RuntimeError)") and "\n" not in body["error"]
    assert "something inside broke" not in body["error"] and "Traceback" not in body["error"]
