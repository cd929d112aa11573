"""The explorer holds (issue 24, items 6-9): bounded work and memory, POST
routes behind TensorBoard's XSRF header, one link policy (TensorBoard's),
strict integers, no rescan per unknown run, reads that cannot block, stored
results checked, uploads decoded no larger than the model needs. The load
test is tests/test_explore_load.py."""

import io
import json
import os
import threading
import time

import numpy as np
import pytest

from tests.explore_helpers import BASE, client, copy_run, decode, get, png_bytes, post, ready_unit


@pytest.fixture(scope="module")
def logdir(trained_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("explore_holds")
    inside = root / "logdir"
    copy_run(trained_run, inside)
    os.symlink(copy_run(trained_run, root, "elsewhere"), inside / "linked")  # a run linked in, as users do
    return inside


@pytest.fixture(scope="module")
def served(logdir):
    return client(logdir)


@pytest.fixture(scope="module")
def http(served):
    return served[0]


def _explorer(plugin):
    return plugin._routes()


def _image_bytes(image, kind, **options):
    from PIL import Image

    buffer = io.BytesIO()
    (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(buffer, format=kind, **options)
    return buffer.getvalue()


# -- 7. POST routes require X-XSRF-Protected: 1 --------------------------------

@pytest.mark.parametrize("headers", [
    {}, {"X-XSRF-Protected": "0"}, {"X-XSRF-Protected": "true"},
    {"Origin": "http://evil.example", "Content-Type": "text/plain"},
])
def test_a_post_without_the_xsrf_header_is_refused_and_stores_nothing(http, served, headers):
    picture = png_bytes(np.full((30, 30, 3), 90, np.uint8))
    before = len(_explorer(served[1]).uploads._data)
    response = http.post(f"{BASE}/upload", query_string={"run": "run"}, data=picture, headers=headers)
    assert response.status_code == 403
    assert "X-XSRF-Protected: 1" in json.loads(response.get_data(as_text=True))["error"]
    assert len(_explorer(served[1]).uploads._data) == before
    status, body = post(http, "upload", picture, run="run")   # as the page sends it
    assert status == 200 and body["image"].startswith("upload:"), body


def test_the_page_sends_the_xsrf_header_on_its_posts():
    from zfkeras.explore.plugin import static_text

    common = static_text("common.js")
    assert "'X-XSRF-Protected': '1'" in common and "Retry-After" in common
    assert "api('upload'" in static_text("images.js")


# -- 9. integers: ASCII digits only --------------------------------------------

@pytest.mark.parametrize("raw", ["3_0", "+3", " 3", "3 ", "\u0663", "0x3", "3.0", "1" * 19])
def test_an_integer_parameter_is_ascii_digits_only(http, raw):
    status, body = get(http, "test_images", run="run", offset=raw, count="2")
    assert status == 400 and "'offset'" in body["error"] and "integer" in body["error"], body
    status, body = get(http, "analyze", run="run", image=f"test:{raw}")
    assert status == 400 and "test:<index>" in body["error"], body


def test_plain_digits_still_read_as_their_value(http):
    status, body = get(http, "test_images", run="run", offset="30", count="2")
    assert status == 200 and body["offset"] == 30 and [i["image"] for i in body["images"]] == ["test:30", "test:31"]
    status, body = get(http, "test_images", run="run", offset="-1", count="2")
    assert status == 400 and "0.." in body["error"]


# -- 9. unknown run ids answered from the cached listing ------------------------

def test_unknown_run_ids_do_not_rescan_the_log_folder(logdir):
    http, plugin = client(logdir)
    assert get(http, "runs")[0] == 200
    scans = plugin.discovery.scans
    start = time.monotonic()
    for i in range(30):
        status, body = get(http, "info", run=f"nope{i}")
        assert status == 400 and "no zfkeras run" in body["error"]
    assert plugin.discovery.scans == scans, "an unknown id rescanned the log folder"
    assert time.monotonic() - start < 5.0   # within one cache period: no rescan was due
    get(http, "runs")
    get(http, "runs")  # the run list's forced rescans, at most one a second
    assert plugin.discovery.scans <= scans + 1


# -- 8. one link policy: TensorBoard's ------------------------------------------

def test_a_run_linked_into_the_log_folder_is_listed_and_served(http, logdir):
    status, runs = get(http, "runs")
    assert status == 200
    assert {"id": "linked", "kind": "run"} in runs["runs"] and {"id": "run", "kind": "run"} in runs["runs"]
    status, info = get(http, "info", run="linked")
    assert status == 200 and info["run"] == "linked"
    assert get(http, "info", run="run")[1]["layers"] == info["layers"]


def test_links_inside_a_run_are_followed_for_reading_and_no_write_leaves_the_run_folder(trained_run, tmp_path):
    logdir = tmp_path / "logdir"
    run = copy_run(trained_run, logdir, "evil")
    outside = tmp_path / "outside"
    (outside / "mined").mkdir(parents=True)
    names = [f"name {i}" for i in range(10)]
    (outside / "names.json").write_text(json.dumps(names))
    (run / "class_names.json").unlink()
    os.symlink(outside / "names.json", run / "class_names.json")       # a file linked in: read, as TensorBoard reads
    os.symlink(outside / "mined", run / "mined")                      # a folder linked out: never written
    http, _ = client(logdir)
    status, info = get(http, "info", run="evil")
    assert status == 200 and info["class_names"] == names
    unit, _ = ready_unit(http, run="evil", layer="conv2", map="0")
    assert len(unit["panels"]) == 9 and all(p["label"] in names for p in unit["panels"])
    assert list((outside / "mined").iterdir()) == []                  # kept in memory only
    # a run's own mined/ (no link) is written as before
    os.unlink(run / "mined")
    http, _ = client(logdir)
    ready_unit(http, run="evil", layer="conv2", map="0")
    assert (run / "mined" / "conv2.npz").is_file() and not (run / "mined").is_symlink()


def test_the_link_policy_is_documented_as_it_is():
    from pathlib import Path

    text = " ".join((Path(__file__).parents[1] / "docs" / "EXPLORER.md").read_text().split())
    assert "nothing outside the log folder is read" not in text and "never reads outside the log folder" not in text
    assert "Links placed in the log folder are followed, for whole runs and inside them" in text
    assert "never writes outside a run's folder as resolved" in text


# -- 9. reads that cannot block: regular files only ----------------------------

def _within(seconds, call):
    answer = []
    worker = threading.Thread(target=lambda: answer.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert answer, f"no answer within {seconds} s: a read blocked"
    return answer[0]


def test_a_fifo_where_a_file_is_read_is_refused_at_once(trained_run, tmp_path):
    logdir = tmp_path / "logdir"
    fifo_model = copy_run(trained_run, logdir, "fifo_model")
    (fifo_model / "checkpoints").mkdir(exist_ok=True)   # still a run by its checkpoints
    (fifo_model / "model.keras").unlink()
    os.mkfifo(fifo_model / "model.keras")
    fifo_mined = copy_run(trained_run, logdir, "fifo_mined")
    (fifo_mined / "mined").mkdir(exist_ok=True)
    os.mkfifo(fifo_mined / "mined" / "conv1.npz")
    http, _ = client(logdir)
    assert {r["id"] for r in get(http, "runs")[1]["runs"]} >= {"fifo_model", "fifo_mined"}
    status, body = _within(60, lambda: get(http, "info", run="fifo_model"))
    assert status == 400 and "'model.keras'" in body["error"] and "not a regular file" in body["error"], body
    status, body = _within(60, lambda: get(http, "unit", run="fifo_mined", layer="conv1", map="0"))
    assert status == 400 and "conv1.npz" in body["error"] and "not a regular file" in body["error"], body


# -- 9. stored results naming images that are not there ------------------------

def test_a_stored_result_with_image_ids_outside_the_images_is_mined_again(trained_run, tmp_path):
    logdir = tmp_path / "logdir"
    run = copy_run(trained_run, logdir, "negative")
    http, _ = client(logdir)
    good, _ = ready_unit(http, run="negative", layer="conv1", map="1")
    path = run / "mined" / "conv1.npz"
    with np.load(path) as f:
        arrays = {name: f[name] for name in f.files}
    assert arrays["image_ids"].min() >= 0
    arrays["image_ids"] = np.full_like(arrays["image_ids"], -1)            # np indexing would show image 199
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    again, _ = client(logdir)
    status, first = get(again, "unit", run="negative", layer="conv1", map="1")
    assert status == 200 and first["status"] == "mining"                 # not the stored result
    unit, _ = ready_unit(again, run="negative", layer="conv1", map="1")
    assert [p["image"] for p in unit["panels"]] == [p["image"] for p in good["panels"]]
    with np.load(path) as f:
        assert f["image_ids"].min() >= 0                                  # stored again, right


# -- 6. / 9. uploads: bounded decoding, clear refusals --------------------------

def test_a_one_bit_bmp_is_read_like_the_same_picture_in_png(http):
    from PIL import Image

    bits = np.zeros((40, 50), bool)
    bits[5:30, 10:35] = True
    one_bit = _image_bytes(Image.fromarray(bits).convert("1"), "BMP")
    assert Image.open(io.BytesIO(one_bit)).mode == "1"
    status, from_bmp = post(http, "upload", one_bit, run="run")
    assert status == 200, from_bmp
    status, from_png = post(http, "upload", png_bytes(np.repeat(bits[..., None] * np.uint8(255), 3, -1)), run="run")
    assert status == 200
    np.testing.assert_array_equal(decode(from_bmp["thumb"]), decode(from_png["thumb"]))


def test_an_upload_the_server_cannot_read_is_named_without_its_paths_or_internals(monkeypatch):
    from zfkeras.explore.uploads import cut
    from zfkeras.utils.errors import InputError

    class Source:  # what zfkeras.runs.sources.read_image_file raises for a file TensorFlow cannot decode
        @staticmethod
        def read_image(path):
            raise InputError(f"cannot read image file {path!r}: {{{{function_node __wrapped__DecodeBmp_device_/"
                             "job:localhost/replica:0/task:0/device:CPU:0}} Number of channels inherited from "
                             "the BMP file header is 1 [Op:DecodeBmp]")

    with pytest.raises(InputError) as error:
        cut(Source(), b"BM....")
    message = str(error.value)
    assert message == "cannot read image file the upload: Number of channels inherited from the BMP file header is 1"


def test_uploads_are_decoded_no_larger_than_the_model_needs():
    from PIL import Image

    from zfkeras.explore.uploads import decode_upload

    flat = _image_bytes(Image.new("RGB", (5000, 5000), (10, 200, 30)), "PNG")
    assert len(flat) < 200_000                                     # 25 MP in a small file
    image, kind = decode_upload(flat, 256)
    assert kind == "PNG" and 256 <= min(image.size) < 512 and image.mode == "RGB"
    assert image.getpixel((100, 100)) == (10, 200, 30)
    rng = np.random.default_rng(0)
    photo = _image_bytes(np.repeat(np.repeat(rng.integers(0, 255, (375, 500, 3), np.uint8), 8, 0), 8, 1),
                         "JPEG", quality=90)                          # 4000x3000
    seen = []
    original = Image.Image.load

    def load(self):                                                 # the size Pillow decodes at
        seen.append(self.size)
        return original(self)

    Image.Image.load = load
    try:
        image, _ = decode_upload(photo, 256)
    finally:
        Image.Image.load = original
    assert seen[0] == (500, 375)                                    # draft mode: the DCT scaled by 1/8
    assert 256 <= min(image.size) < 512


@pytest.mark.parametrize("width, height, code", [(5001, 5000, 413), (10001, 10, 413)])
def test_the_pixel_budget_is_checked_from_the_header(http, width, height, code):
    from PIL import Image

    from zfkeras.explore import uploads

    data = _image_bytes(Image.new("1", (width, height)), "PNG")
    calls = []
    original = Image.Image.load
    Image.Image.load = lambda self: calls.append(self.size) or original(self)
    try:
        status, body = post(http, "upload", data, run="run")
    finally:
        Image.Image.load = original
    assert status == code and f"{width}x{height}" in body["error"], body
    assert calls == [], "pixels were decoded before the size was checked"
    assert uploads.MAX_PIXELS == 25_000_000


# -- 6. a bounded pool, a bounded session cache --------------------------------

def test_the_gate_lets_a_few_compute_queues_a_few_and_answers_503_beyond():
    from zfkeras.explore.limits import Gate
    from zfkeras.explore.params import BadRequest

    gate = Gate(workers=1, queue=1, wait_seconds=30, on_idle=None)
    entered, release = threading.Event(), threading.Event()
    order = []

    def hold():
        with gate.turn():
            entered.set()
            release.wait(30)
            order.append("first")

    def wait():
        with gate.turn():
            order.append("second")

    threads = [threading.Thread(target=hold), threading.Thread(target=wait)]
    threads[0].start()
    assert entered.wait(10)
    threads[1].start()
    deadline = time.monotonic() + 10
    while gate.waiting != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gate.running == 1 and gate.waiting == 1
    with pytest.raises(BadRequest) as busy:
        with gate.turn("a third"):
            pass
    assert busy.value.status == 503 and busy.value.retry_after >= 1 and "try again" in str(busy.value)
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first", "second"] and gate.running == 0 and gate.refused == 1


def test_a_busy_explorer_answers_503_with_retry_after(logdir):
    from zfkeras.explore.limits import Gate

    http, plugin = client(logdir)
    explorer = _explorer(plugin)
    explorer.gate = Gate(workers=1, queue=0, wait_seconds=1, on_idle=None)
    release = threading.Event()
    holder = threading.Thread(target=lambda: explorer.gate.turn().__enter__() and release.wait(30))
    holder.start()
    time.sleep(0.2)
    response = http.get(f"{BASE}/analyze", query_string={"run": "run", "image": "test:0"})
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1
    assert "busy" in json.loads(response.get_data(as_text=True))["error"]
    status, body = post(http, "upload", png_bytes(np.full((30, 30, 3), 5, np.uint8)), run="run")
    assert status == 503 and "/upload" in body["error"]                # refused before its body is read
    assert explorer.uploads._data == {}
    assert get(http, "runs")[0] == 200     # the run list computes nothing: never refused
    release.set()
    holder.join(10)


def test_loaded_sessions_are_a_bounded_lru_cache_and_a_dropped_model_is_freed(logdir):
    import gc
    import weakref

    http, plugin = client(logdir)
    explorer = _explorer(plugin)
    explorer.sessions.size = 1
    assert get(http, "info", run="run")[0] == 200
    first = weakref.ref(explorer.sessions.get(next(iter(explorer.sessions.keys()))).model)
    assert get(http, "info", run="linked")[0] == 200
    assert [key[0] for key in explorer.sessions.keys()] == ["linked"]
    gc.collect()
    assert first() is None, "the dropped session's model is still referenced"
    assert get(http, "info", run="run")[0] == 200    # loaded again on demand
    assert [key[0] for key in explorer.sessions.keys()] == ["run"]


def test_memory_is_trimmed_once_the_gate_is_idle():
    from zfkeras.explore import limits

    calls = []
    gate = limits.Gate(workers=2, queue=2, on_idle=lambda: calls.append(time.monotonic()), idle_seconds=0.1)
    for _ in range(5):
        with gate.turn():
            pass
    time.sleep(0.5)
    assert len(calls) == 1 and gate.trims == 1          # once per idle moment, not per request
    assert limits.trim_memory() in (True, False)


def test_a_session_keeps_a_bounded_size_of_drawn_units():
    from zfkeras.explore.session import _Cache

    cache = _Cache(size=100, max_bytes=10_000)
    for i in range(50):
        cache.put(i, {"panels": [{"projection": "x" * 1000, "patch": "y" * 500}]})
    assert cache.bytes <= 10_000 and len(cache) == 6 and list(cache) == list(range(44, 50))
    assert cache.bytes == 6 * 1500                     # the strings of the units kept


def test_a_16_bit_grey_png_is_read_as_tensorflow_reads_it(http, logdir, tmp_path):
    from zfkeras.explore import pictures
    from zfkeras.runs import RunFolder

    rng = np.random.default_rng(3)
    image = (rng.integers(0, 256, (45, 60)) * 257 + rng.integers(0, 2, (45, 60))).astype(np.uint16)
    path = tmp_path / "deep.png"
    path.write_bytes(_image_bytes(image, "PNG"))
    status, body = post(http, "upload", path.read_bytes(), run="run")
    assert status == 200, body
    expected = RunFolder(logdir / "run").read_image(path)        # the core's reader (TensorFlow's decoder)
    np.testing.assert_array_equal(decode(body["thumb"]), decode(pictures.raw_uri(expected)))


def test_mining_passes_are_queued_within_a_limit(logdir):
    http, plugin = client(logdir)
    jobs = _explorer(plugin).jobs
    jobs.queue = 0                                      # no pass may wait: the next is refused
    response = http.get(f"{BASE}/unit", query_string={"run": "run", "layer": "conv4", "map": "0"})
    body = json.loads(response.get_data(as_text=True))
    assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1, body
    assert "mining" in body["error"] and jobs._jobs == {}
    jobs.queue = 8
    unit, waits = ready_unit(http, run="run", layer="conv4", map="0")
    assert len(unit["panels"]) == 9
