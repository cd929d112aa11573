"""The report of a tiny run, opened in a real browser (headless Chromium).

Fails if an image does not load, a link is broken or leaves the folder,
the explorer does not switch maps, or the console shows an error. Drives
Debian's Chromium through Playwright's Python package; nothing is
downloaded (never `playwright install`).
"""

import os
import pathlib
import urllib.parse

import pytest

from tests.browser_helpers import SKIP_WITHOUT_BROWSER, chromium

pytestmark = SKIP_WITHOUT_BROWSER


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """Writes the report (Figs. 2 and 4, the explorer, one missing section) of a tiny run."""
    from tests.report_helpers import make_tiny_run
    from zfkeras.analysis.report.build import write_report
    from zfkeras.data import fashion_mnist

    if not all(os.path.isfile(os.path.join(fashion_mnist.DEBIAN_DIR, f)) for f in fashion_mnist.FILES):
        pytest.skip(f"Fashion-MNIST is not installed: {fashion_mnist.INSTALL_COMMAND}")
    run = make_tiny_run(tmp_path_factory.mktemp("browser") / "run")
    write_report(run, ["fig2_top9", "fig4_evolution", "no_such_section"], verbose=0,
                 params={"fig2_top9": {"test_images": 200}})
    return run / "report"


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def _open(browser, path):
    """Loads a page; returns (page, list of console errors and page errors)."""
    page = browser.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url}"))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def _check_images_and_links(page, folder):
    images = page.evaluate("Array.from(document.images).map(i => [i.src, i.complete, i.naturalWidth])")
    assert images, "the page shows no image"
    broken = [src for src, complete, width in images if not complete or width == 0]
    assert not broken, f"images that did not load: {broken}"
    links = page.evaluate("Array.from(document.links).map(a => a.getAttribute('href'))")
    assert links
    for href in links:
        parsed = urllib.parse.urlparse(href)
        assert not parsed.scheme and not parsed.netloc, f"external link {href!r}: the report must be self-contained"
        if parsed.path:
            target = folder / urllib.parse.unquote(parsed.path)
            assert target.exists(), f"broken link {href!r}"
        elif parsed.fragment:
            assert page.query_selector(f"[id='{parsed.fragment}']"), f"anchor #{parsed.fragment} not on the page"


def test_index_loads_every_image_and_link(browser, report_dir):
    page, errors = _open(browser, report_dir / "index.html")
    _check_images_and_links(page, report_dir)
    text = page.inner_text("body")
    assert "Fig. 2" in text and "Fig. 4" in text and "Missing sections" in text
    assert "no_such_section" in text  # listed with why
    assert not errors, errors


def test_explorer_switches_layers_and_maps(browser, report_dir):
    page, errors = _open(browser, report_dir / "explorer.html")
    _check_images_and_links(page, report_dir)

    def state():
        return page.evaluate(
            "[document.getElementById('sprite').getAttribute('src'), document.getElementById('sprite').style.marginTop,"
            " document.getElementById('heading').textContent, document.querySelector('#top9 tbody').innerText]")

    first = state()
    layers = page.eval_on_selector_all("#layer option", "options => options.map(o => o.value)")
    assert len(layers) == 5  # conv1..conv5
    page.select_option("#layer", layers[2])
    page.wait_for_function("document.getElementById('sprite').complete && "
                           "document.getElementById('sprite').naturalWidth > 0")
    second = state()
    assert second[0] != first[0] and "conv3" in second[0] and "conv3" in second[2]
    page.select_option("#map", "3")
    third = state()
    assert third[0] == second[0] and third[1] != second[1] and "feature map 3" in third[2]
    assert third[3] != second[3]  # the top-9 table follows the map
    page.click("#next")
    assert "feature map 4" in state()[2]
    assert not errors, errors


def test_explorer_opens_at_a_linked_map(browser, report_dir):
    page, errors = _open(browser, pathlib.Path(report_dir / "explorer.html"))
    page.goto((report_dir / "explorer.html").as_uri() + "#conv2/1")
    page.reload()
    assert "conv2, feature map 1" in page.inner_text("#heading")
    assert not errors, errors
