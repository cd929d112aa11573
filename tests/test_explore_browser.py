"""The explorer tab in a real browser: headless Chromium (Debian's, through
Playwright; nothing downloaded) against ``tensorboard --logdir TMP`` serving
a tiny trained run, on 127.0.0.1 and a free port, stopped at teardown.

The tab appears, the unit page's images load, choosing another unit changes
them, the permanent link reopens the same unit, an upload (file picker and
drag-and-drop) shows its classes, a class explanation by the registered
methods, projections and occlusion maps; a unit's optimised image appears
beside its top 9 and the Classes view shows one per class; no page logs an
error. Feature visualisation runs 4 steps here (``ZFKERAS_EXPLORE_FV_STEPS``).
"""

import base64
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.browser_helpers import SKIP_WITHOUT_BROWSER, chromium
from tests.explore_helpers import copy_run, png_bytes
from tests.subprocess_helpers import quiet_env

TENSORBOARD = pathlib.Path(sys.executable).with_name("tensorboard")
pytestmark = SKIP_WITHOUT_BROWSER

LOADED = "e => [...e.querySelectorAll('img')].map(i => i.complete && i.naturalWidth > 0)"
SOURCES = "e => [...e.querySelectorAll('img')].map(i => i.src)"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained_run, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("explore_browser")
    copy_run(trained_run, logdir)
    port = _free_port()
    process = subprocess.Popen([str(TENSORBOARD), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port)],
                               env=dict(quiet_env(), ZFKERAS_EXPLORE_FV_STEPS="4"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            try:
                urllib.request.urlopen(f"{url}/data/plugins_listing", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "TensorBoard did not answer within 120 s"
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def _open(browser, url, errors):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    page.goto(url)
    return page, page.frame_locator("iframe").first


def _wait_images(locator, count, timeout=90_000):
    locator.locator("img").nth(count - 1).wait_for(timeout=timeout)
    deadline = time.monotonic() + 30
    while not all(locator.evaluate(LOADED)):
        assert time.monotonic() < deadline, "images did not load"
        time.sleep(0.1)
    return locator.evaluate(SOURCES)


def test_a_units_optimised_image_beside_its_top_9_and_one_per_class(server, browser):
    # first in this module: its layer's and the classes' jobs are not queued behind the next test's layers
    errors = []
    page, frame = _open(browser, f"{server}/#zfkeras&run=run&view=units&layer=conv1&map=20", errors)
    frame.get_by_text("conv1 / map 20: top 9").wait_for(timeout=120_000)
    assert len(_wait_images(frame.locator("#projections"), 9)) == 9
    beside = frame.locator("#unit .row > #visualization")          # in the row of the top 9
    shown = _wait_images(beside, 2, timeout=300_000)               # the image and the same faded by its transparency
    assert len(shown) == 2 and all(src.startswith("data:image/png;base64,") for src in shown)
    sizes = beside.locator("img").evaluate_all("is => is.map(i => [i.naturalWidth, i.naturalHeight])")
    assert sizes == [[28, 28], [28, 28]]
    frame.get_by_text("optimised image (maco, 4 steps, seed 0)").first.wait_for(timeout=10_000)
    frame.locator("#tab-classes").click()
    classes = frame.locator("#class-visualizations")
    assert len(_wait_images(classes, 20, timeout=300_000)) == 20     # 10 classes, each with its faded twin
    captions = classes.locator("figcaption").evaluate_all("cs => cs.map(c => c.textContent)")
    assert len(captions) == 10 and captions[0].startswith("0: ") and captions[9].startswith("9: ")
    frame.get_by_text("Each image maximises its class's score").wait_for(timeout=60_000)
    assert "view=classes" in page.url
    page.close()
    assert not errors, errors


def test_units_permalink_and_an_uploaded_image(server, browser, tmp_path):
    from tests.images_helpers import photos, small

    errors = []
    page, frame = _open(browser, f"{server}/#zfkeras", errors)
    page.get_by_text("zfkeras", exact=True).first.wait_for(timeout=60_000)     # the tab
    frame.locator("#layer").wait_for(timeout=60_000)
    first = _wait_images(frame.locator("#projections"), 9)
    assert len(first) == 9 and len(_wait_images(frame.locator("#patches"), 9)) == 9
    assert frame.locator("#layer").input_value() == "conv5"
    frame.locator("#search").fill("conv3 / 1")
    frame.locator("#search").press("Enter")
    frame.get_by_text("conv3 / map 1: top 9").wait_for(timeout=60_000)
    second = _wait_images(frame.locator("#projections"), 9)
    assert second != first
    frame.locator("#next-map").click()
    frame.get_by_text("conv3 / map 2: top 9").wait_for(timeout=30_000)
    third = _wait_images(frame.locator("#projections"), 9)
    assert third != second
    link = frame.locator("#permalink").get_attribute("href")
    assert "#zfkeras&" in link and "layer=conv3" in link and "map=2" in link and page.url == link

    again, again_frame = _open(browser, link, errors)
    again_frame.get_by_text("conv3 / map 2: top 9").wait_for(timeout=60_000)
    assert _wait_images(again_frame.locator("#projections"), 9) == third
    assert again_frame.locator("#map").input_value() == "2"
    again.close()

    frame.locator("#tab-images").click()
    _wait_images(frame.locator("#test-images"), 24)
    photo = tmp_path / "chelsea.png"
    photo.write_bytes(png_bytes(small(photos()["chelsea"], 50, 70)))
    frame.locator("#upload-input").set_input_files(str(photo))
    occlusion = _wait_images(frame.locator("#occlusion-maps"), 3)
    assert len(occlusion) == 3
    frame.get_by_text("computed by incremental occlusion").or_(
        frame.get_by_text("computed by full occlusion")).wait_for(timeout=30_000)   # auto's choice, named
    frame.locator("#occ-method").select_option("approximate")
    frame.locator("#occlude").click()
    frame.get_by_text("computed by approximate occlusion").wait_for(timeout=60_000)
    assert frame.get_by_text("the rest interpolated").count() == 1
    assert len(_wait_images(frame.locator("#occlusion-maps"), 3)) == 3
    assert frame.locator("#top-classes li").count() == 5
    # the class explanation: its menu is the method registry's, and another method draws another map
    from zfkeras.methods.registry import method_names

    options = frame.locator("#explain-method option").evaluate_all("os => os.map(o => o.value)")
    assert options == list(method_names())
    explained = _wait_images(frame.locator("#explanation-map"), 1)
    frame.locator("#explain-method").select_option("grad_cam")
    frame.get_by_text("grad_cam map of class").wait_for(timeout=60_000)
    assert _wait_images(frame.locator("#explanation-map"), 1) != explained
    projection = _wait_images(frame.locator("#image-projection"), 2)
    maps = frame.locator("#maps img.thumb")
    assert maps.count() >= 5 * 4
    maps.nth(0).click()                                                  # conv1's strongest map
    frame.get_by_text("of conv1 /").wait_for(timeout=30_000)
    clicked = _wait_images(frame.locator("#image-projection"), 2)
    assert clicked[1] != projection[1]
    frame.locator("#image-projection img.clickable").click(position={"x": 10, "y": 10})
    frame.get_by_text("at (1, 1)").wait_for(timeout=30_000)              # 28x28 conv1 maps shown at 224 px
    before = frame.locator("#summary img").get_attribute("src")
    dropped = base64.b64encode(png_bytes(small(photos()["coffee"], 64, 48))).decode()
    frame.locator("#drop").evaluate(
        "(el, b64) => { const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));"
        " const data = new DataTransfer(); data.items.add(new File([bytes], 'coffee.png', {type: 'image/png'}));"
        " el.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true})); }", dropped)
    deadline = time.monotonic() + 60
    while frame.locator("#summary img").get_attribute("src") == before:
        assert time.monotonic() < deadline, "the dropped image was not shown"
        time.sleep(0.2)
    _wait_images(frame.locator("#occlusion-maps"), 3)
    assert not errors, errors

