"""A real browser (Debian's Chromium driven by Playwright) uses the app as a person would.

Screenshots of each tab go to test-artifacts/. Outside CI the tests skip when no Chromium is installed.
"""
import os
import shutil

import pytest

from conftest import ARTIFACTS, held_open, needs_mnist, wait_for
from drawing import draw

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
if not CHROMIUM and not os.environ.get("CI"):
    pytest.skip("no Chromium found (apt-get install -y chromium); CI installs it", allow_module_level=True)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(server)
    page.wait_for_selector("#sketch .pixi-target canvas", timeout=30_000)
    yield page
    page.close()


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def stroke(page, points):
    """One mouse stroke through points given relative to the canvas centre (pixels)."""
    box = page.locator("#sketch .pixi-target canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx + points[0][0], cy + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(cx + x, cy + y, steps=6)
    page.mouse.up()


def top_digit(page):
    return page.locator("#probs h2").inner_text().strip()


def test_draw_read_clear_and_draw_again(page):
    canvas = page.locator("#sketch .pixi-target canvas")
    container = page.locator("#sketch").bounding_box()
    assert canvas.bounding_box()["width"] <= container["width"] + 1  # the layout race did not happen
    stroke(page, [(-60, -70), (60, -70), (-10, 80)])  # a 7, with the brush the page selected by itself
    page.wait_for_selector("#probs .confidence-set", timeout=30_000)
    assert top_digit(page) == "7"
    assert page.locator("#probs .confidence-set").count() == 10
    assert "Read as" in page.locator("#hint").inner_text()
    shot(page, "draw")
    page.click("#sketch button[aria-label='Clear canvas']")
    wait_for(lambda: page.locator("#probs .confidence-set").count() == 0, timeout=20)
    assert "Draw a digit" in page.locator("#hint").inner_text()
    stroke(page, [(0, -80), (0, 80)])  # a 1, straight after Clear: the brush came back by itself
    wait_for(lambda: page.locator("#probs .confidence-set").count() == 10 and top_digit(page) == "1", timeout=30)


def test_upload_shows_each_files_result(page, tmp_path):
    page.get_by_role("tab", name="Upload").click()
    paths = []
    for digit, kw in ((4, {}), (0, {"ink": 255, "paper": 0})):
        paths.append(str(tmp_path / f"digit{digit}.png"))
        draw(digit, **kw).save(paths[-1])
    page.locator("#upload input[type=file]").set_input_files(paths)
    wait_for(lambda: "digit0.png" in page.locator("#upload-summary").inner_text(), timeout=30)
    summary = page.locator("#upload-summary").inner_text()
    assert "digit4.png: 4" in summary and "digit0.png: 0" in summary
    page.wait_for_selector("#upload-probs .confidence-set")
    shot(page, "upload")


@needs_mnist
def test_training_makes_the_plots_grow(page, app_module):
    page.get_by_role("tab", name="Train").click()
    job = app_module.JOB
    runs_before = job.run
    with held_open(job, after_iteration=300):  # the run waits there until Stop: it cannot end before the checks
        page.click("#start")
        wait_for(lambda: job.run is not runs_before and job.run.last is not None and job.run.last.iteration >= 100,
                 timeout=120)
        line = page.locator("#loss-plot g.mark-line path").first
        line.wait_for(timeout=20_000)
        first_line, first_status = line.get_attribute("d"), page.locator("#train-status").inner_text()
        assert "iteration" in first_status and job.run.device in first_status
        # the curve gets longer and the status moves on while the run goes (the page polls every second)
        wait_for(lambda: len(line.get_attribute("d")) > len(first_line), timeout=10)
        wait_for(lambda: page.locator("#train-status").inner_text() != first_status, timeout=10)
        wait_for(lambda: page.locator("#acc-plot g.mark-line path").count() == 2, timeout=30)  # train and test
        shot(page, "train")
        page.click("#stop")
        wait_for(lambda: "stopped" in page.locator("#train-status").inner_text(), timeout=20)


@needs_mnist
def test_explore_shows_digits_and_the_models_mistakes(page):
    page.get_by_role("tab", name="Explore").click()
    page.get_by_role("button", name="Show random training digits").click()
    page.wait_for_selector("#train-digits img", timeout=60_000)
    page.get_by_role("button", name="Check the active model").click()
    wait_for(lambda: "mistakes" in page.get_by_text("of the 10,000 test digits").first.inner_text(), timeout=90)
    shot(page, "explore")
