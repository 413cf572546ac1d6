"""A real browser (Debian's Chromium driven by Playwright) uses the app as a person would.

Screenshots of each tab go to test-artifacts/. Outside CI the tests skip when no Chromium is installed.
"""
import io
import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

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


def open_page(browser, server, width=1280, height=1000, theme="light", phone=False):
    context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.goto(f"{server}/?__theme={theme}")
    page.wait_for_selector("#sketch .pixi-target canvas", timeout=60_000)
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server)
    yield page
    page.context.close()


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def stroke(page, points):
    """One mouse stroke through points in the pad's own pixels (app.PAD), from its centre: the same drawing on any
    screen, however large the pad is shown."""
    from app import PAD  # imported by then, by the server fixture (which points its checkpoints elsewhere first)

    box = page.locator("#sketch").bounding_box()  # the pad (its sheet fills the box)
    cx, cy, scale = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] / PAD[0]
    page.mouse.move(cx + scale * points[0][0], cy + scale * points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(cx + scale * x, cy + scale * y, steps=6)
    page.mouse.up()


def top_digit(page):
    """The most likely digit: the first of the bars (sorted by probability)."""
    return page.locator("#probs .confidence-set").first.inner_text().split()[0]


def zoom(page):
    return page.locator("#sketch span[role=button]").filter(has_text="%").first.inner_text().strip()


def header(page):
    return page.locator("#model-line .label-wrap").inner_text().strip()


def test_draw_read_clear_and_draw_again(page, app_module):
    canvas = page.locator("#sketch .pixi-target canvas")
    container = page.locator("#sketch").bounding_box()
    # the layout race did not happen (the drawing surface reaches app.PAD_BORDER past the pad on each side)
    assert abs(canvas.bounding_box()["width"] - (container["width"] + 2 * app_module.PAD_BORDER)) <= 1
    stroke(page, [(-60, -70), (60, -70), (-10, 80)])  # a 7, with the brush the page selected by itself
    page.wait_for_selector("#probs .confidence-set", timeout=30_000)
    wait_for(lambda: top_digit(page) == "7", timeout=30)
    assert page.locator("#probs .confidence-set").count() == 10
    assert "Read as 7" in page.locator("#hint").inner_text()
    shot(page, "draw")
    opened_zoom, opened_box = zoom(page), canvas.bounding_box()
    page.click("#sketch button[aria-label='Clear canvas']")
    wait_for(lambda: page.locator("#probs .confidence-set").count() == 0, timeout=20)
    assert "Draw a digit" in page.locator("#hint").inner_text()
    # the pad keeps the zoom it opened with (Gradio's Clear alone drops it to 100%)
    wait_for(lambda: zoom(page) == opened_zoom, timeout=10)
    stroke(page, [(0, -80), (0, 80)])  # a 1, straight after Clear: the brush came back by itself
    wait_for(lambda: page.locator("#probs .confidence-set").count() == 10 and top_digit(page) == "1", timeout=30)
    assert zoom(page) == opened_zoom and canvas.bounding_box() == opened_box


def test_upload_shows_each_files_result(page, tmp_path):
    page.get_by_role("tab", name="Upload").click()
    paths = []
    for digit, kw in ((4, {}), (0, {"ink": 255, "paper": 0})):
        paths.append(str(tmp_path / f"digit{digit}.png"))
        draw(digit, **kw).save(paths[-1])
    number = Image.new("L", (600, 240), 255)  # a number in one file: read whole, a box per digit
    for i, digit in enumerate((4, 2)):
        number.paste(draw(digit, size=(280, 240)), (20 + 280 * i, 0))
    paths.append(str(tmp_path / "number.png"))
    number.save(paths[-1])
    page.locator("#upload input[type=file]").set_input_files(paths)
    wait_for(lambda: "number.png" in page.locator("#upload-summary").inner_text(), timeout=30)
    summary = page.locator("#upload-summary").inner_text()
    assert "digit4.png: 4" in summary and "digit0.png: 0" in summary and "number.png: read as 42" in summary
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
                 timeout=600)  # the first run on a machine makes its generated images (minutes)
        line = page.locator("#loss-plot g.mark-line path").first
        line.wait_for(timeout=20_000)
        first_line, first_status = line.get_attribute("d"), page.locator("#train-status").inner_text()
        assert "step" in first_status and job.run.device in first_status
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
    page.get_by_role("button", name="Check this page's model").click()
    wait_for(lambda: "mistakes" in page.locator("#check-summary").inner_text(), timeout=120)
    assert "mnist_cnn.safetensors" in page.locator("#check-summary").inner_text()  # the model the header names
    shot(page, "explore")


def test_phone_shows_the_pad_and_the_reading_on_the_first_screen(browser, server):
    page = open_page(browser, server, 375, 812, phone=True)
    try:
        box = page.locator("#sketch").bounding_box()
        assert 340 <= box["width"] <= 375 and box["y"] + box["height"] <= 812  # the whole pad, nearly the screen's width
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
        stroke(page, [(-60, -70), (60, -70), (-10, 80)])  # a 7
        wait_for(lambda: page.locator("#probs .confidence-set").count() == 10 and top_digit(page) == "7", timeout=30)
        assert page.evaluate("window.scrollY") == 0
        hint = page.locator("#hint").bounding_box()
        assert "Read as 7" in page.locator("#hint").inner_text() and hint["y"] + hint["height"] <= 812
        for row in range(3):  # the top three bars fit on the first screen too
            bar = page.locator("#probs .confidence-set").nth(row).bounding_box()
            assert bar["y"] + bar["height"] <= 812, f"bar {row + 1} is below the first screen"
        seen = page.locator("#seen").bounding_box()
        assert seen["y"] < 812 + 600  # the 28x28 view: one short scroll away
        shot(page, "phone")
    finally:
        page.context.close()


@pytest.mark.parametrize("size,theme", [((1280, 900), "light"), ((375, 812), "light"), ((800, 1000), "dark"),
                                        ((1920, 1000), "light")], ids=["desktop", "phone", "wrapped-dark", "wide"])
def test_the_whole_pad_is_paper_up_to_its_edges(browser, server, app_module, size, theme):
    """The pad is wide enough for a number, at any screen width, and every point of it takes ink, even after the
    zoom-out button: strokes begun on its very edge are drawn, and no paper shows outside it (Gradio alone shows a
    border of page colour around its sheet where a stroke begun is lost, which on the light theme looks like more
    paper). At 800 px the pad sits above the reading, in the dark theme."""
    pad_w, pad_h = app_module.PAD
    page = open_page(browser, server, *size, theme=theme, phone=size[0] < 700)
    try:
        page.click("#sketch button[aria-label='Zoom out']")  # a visitor may; the sheet must still fill the pad
        page.click("#sketch button[aria-label='Zoom out']")
        box = page.locator("#sketch").bounding_box()
        assert abs(box["width"] / box["height"] - pad_w / pad_h) < 0.02 and box["x"] + box["width"] <= size[0]
        edge = 1.5 * pad_w / box["width"]  # 1.5 screen pixels in, in pad pixels
        stroke(page, [(-pad_w / 2 + edge, 0), (-40, 0)])  # from the left edge, across
        stroke(page, [(100, -pad_h / 2 + edge), (100, pad_h / 2 - edge)])  # from the top edge to the bottom one
        wait_for(lambda: page.locator("#probs .confidence-set").count() == 10, timeout=30)
        band = 8  # px of page around the pad, in the screenshot
        shot = page.screenshot(clip={"x": box["x"] - band, "y": box["y"], "width": box["width"] + 2 * band,
                                     "height": box["height"] + band})
        area = np.asarray(Image.open(io.BytesIO(shot)).convert("L")).astype(int)
        pad = area[:-band, band:-band]
        h, w = pad.shape
        x_bar = round(w / 2 + 100 * w / pad_w)
        assert pad[h // 2, 2:6].max() < 100, "the stroke begun on the left edge is not drawn from there"
        assert pad[2:6, x_bar - 2 : x_bar + 3].min(axis=1).max() < 100, "the stroke begun on the top edge is cut"
        assert pad[h - 6 : h - 2, x_bar - 2 : x_bar + 3].min(axis=1).max() < 100, "the stroke to the bottom is cut"
        assert pad[h // 4, w // 4] > 200 and pad[3 * h // 4, w - 8] > 200  # paper where nothing was drawn
        page_colour = area[h // 2, : band - 3].mean()  # left of the pad, beside the stroke begun on its edge
        assert page_colour < 253, "paper outside the pad"  # the light theme's page is 249-251, the sheet 255
        assert abs(area[-3, band : w + band] - page_colour).max() < 8, "paper or ink below the pad"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    finally:
        page.context.close()


def test_two_pages_read_with_different_models(browser, server, app_module):
    from test_app_handlers import random_model

    models = app_module.MODELS
    path = random_model(models, "another-page.safetensors", 0)
    models.add(path)
    pages = [open_page(browser, server) for _ in range(2)]
    try:
        chooser, other = pages
        chooser.click("#model-line .label-wrap")  # the header line opens the model list
        chooser.locator("#models input").click()
        chooser.get_by_role("option", name="another-page.safetensors").click()
        wait_for(lambda: "another-page.safetensors" in header(chooser), timeout=20)
        for page in pages:
            stroke(page, [(-60, -70), (60, -70), (-10, 80)])
        for page in pages:
            wait_for(lambda: page.locator("#probs .confidence-set").count() == 10, timeout=30)
        readings = [p.locator("#probs").inner_text() for p in pages]
        assert readings[0] != readings[1] and top_digit(other) == "7"  # an untrained model reads it otherwise
        assert "mnist_cnn.safetensors" in header(other) and models.default.path.name == "mnist_cnn.safetensors"
        time.sleep(6)  # a poll later, the other page still reads with its own model
        assert "mnist_cnn.safetensors" in header(other) and "another-page.safetensors" in header(chooser)
    finally:
        for page in pages:
            page.context.close()
        path.unlink()


def test_the_header_follows_the_server_on_a_page_that_stays_on_draw(browser, server, app_module):
    from test_app_handlers import random_model

    models = app_module.MODELS
    shipped = models.default.path
    page = open_page(browser, server)
    better = random_model(models, "better-held-out.safetensors", 1, {"val_acc": 1.0})
    try:
        assert "mnist_cnn.safetensors" in header(page)
        models.select(shipped)
        if "val_acc" not in models.default.metrics:  # an older shipped model: nothing can beat it, so say it plainly
            models.default.metrics["val_acc"] = 0.99
        assert models.add(better)[1]  # a run elsewhere made a model that scores better on held-out digits
        wait_for(lambda: "better-held-out.safetensors" in header(page), timeout=20)  # polled on the Draw tab
        assert page.get_by_role("tab", name="Draw").get_attribute("aria-selected") == "true"
    finally:
        models.select(shipped)
        page.context.close()
        better.unlink()


def test_dark_mode_pictures_sit_on_the_dark_page(browser, server, tmp_path):
    page = open_page(browser, server, theme="dark")
    try:
        page.get_by_role("tab", name="Upload").click()
        paths = [str(tmp_path / "four.png"), str(tmp_path / "notes.png")]
        draw(4).save(paths[0])
        (tmp_path / "notes.png").write_text("not an image")
        page.locator("#upload input[type=file]").set_input_files(paths)
        wait_for(lambda: "notes.png" in page.locator("#upload-summary").inner_text(), timeout=30)
        summary = page.locator("#upload-summary").inner_text()
        assert "Pillow" not in summary and "four.png: 4" in summary
        image = page.locator("#upload-cards img")
        image.wait_for(timeout=20_000)
        page.wait_for_function("() => document.querySelector('#upload-cards img').complete")
        pixels = np.asarray(Image.open(io.BytesIO(image.screenshot())).convert("L"), np.float32)
        page_colour = np.asarray(Image.open(io.BytesIO(page.screenshot(clip={"x": 2, "y": 2, "width": 8, "height": 8})))
                                 .convert("L"), np.float32).mean()
        assert page_colour < 60  # the page is dark
        assert np.median(pixels) < 80, "the cards are a bright slab on the dark page"
        shot(page, "upload-dark")
    finally:
        page.context.close()


# Whole numbers and the inside of the network ------------------------------------------------------------------

from drawing import STROKES  # noqa: E402

SIX = [[(0.8, 0.05), (0.4, 0.2), (0.15, 0.55), (0.2, 0.85), (0.5, 1.0), (0.8, 0.85), (0.85, 0.65), (0.6, 0.5),
        (0.3, 0.55), (0.17, 0.7)]]
STAR = [(0.0, -1.0), (0.59, 0.81), (-0.95, -0.31), (0.95, -0.31), (-0.59, 0.81), (0.0, -1.0)]  # a five-point star
DOCS = os.environ.get("DOCS_SCREENSHOTS")  # a folder (docs/) to save the README's screenshots in, when set


def draw_digit(page, digit, left, top, width, height):
    """A digit from tests/drawing.py's strokes (and SIX) in the box at (left, top) from the pad's centre, in pad
    pixels."""
    for line in SIX if digit == 6 else STROKES[digit]:
        stroke(page, [(left + x * width, top + y * height) for x, y in line])


def doc_shot(page, name, full_page=True):
    if DOCS:
        page.screenshot(path=str(os.path.join(DOCS, f"screenshot-{name}.png")), full_page=full_page)


def hint(page):
    return page.locator("#hint").inner_text()


@pytest.mark.parametrize("size", [(1280, 900), (375, 812)], ids=["desktop", "phone"])
def test_a_number_is_read_whole_and_a_doodle_is_refused(browser, server, size):
    phone = size[0] < 700
    page = open_page(browser, server, *size, phone=phone)
    try:
        w, h, gap = 80, 160, 30  # wide digits, gaps wider than the brush
        left = -(4 * w + 3 * gap) / 2
        for i, digit in enumerate((2, 0, 2, 6)):
            draw_digit(page, digit, left + i * (w + gap), -h / 2, w, h)
        wait_for(lambda: "Read as 2026" in hint(page), timeout=60)
        settled = []  # the 6's stroke may still be on its way: wait until the picture stays the same for a second

        def picture_settled():
            settled.append(page.locator("#number img").get_attribute("src") if page.locator("#number img").count() else None)
            return len(settled) > 5 and settled[-1] is not None and len(set(settled[-6:])) == 1

        wait_for(picture_settled, timeout=30)
        assert page.locator("#probs .confidence-set").count() == 10  # the bars: the largest digit's reading
        assert "refused" not in page.locator("#probs").get_attribute("class")
        wait_for(lambda: page.locator("#number img").is_visible(), timeout=20)  # the boxes and the cards
        assert page.locator("#number img").bounding_box()["width"] <= size[0]
        doc_shot(page, "number" + ("-phone" if phone else ""), full_page=False)
        page.click("#sketch button[aria-label='Clear canvas']")
        wait_for(lambda: page.locator("#probs .confidence-set").count() == 0, timeout=20)
        assert not page.locator("#number img").is_visible()
        stroke(page, [(x * 90, y * 90) for x, y in STAR])
        wait_for(lambda: "Not a digit" in hint(page), timeout=30)
        assert page.locator("#probs .confidence-set").count() == 10  # refused, and the bars still show, greyed
        assert "refused" in page.locator("#probs").get_attribute("class")
        assert "digits that touch" not in hint(page)  # nothing in a star looks like digits
        doc_shot(page, "refused" + ("-phone" if phone else ""), full_page=False)
    finally:
        page.context.close()


def test_an_equals_sign_is_not_read_as_a_number(page):
    """Two bars drawn in the browser, one above the other, make one group (as a 5's bar and body do), much wider
    than tall: the line reader read it as 52, its "5" cut from the bars' rounded ends, which preprocessing cannot
    read (a black card). Such a piece now sends the group back to the digit network, which refuses it."""
    for y in (-27.5, 17.5):
        stroke(page, [(-70, y), (70, y)])
    def both_bars_read():  # not the first bar's reading alone
        line = hint(page)
        return line if "several marks" in line or " digits." in line else None

    line = wait_for(both_bars_read, timeout=30)
    assert line.startswith("Not a digit"), line
    assert not page.locator("#number img").is_visible()


PICTURES = ("input", "stage1", "hidden", "outputs", "why", "neighbours", "sweep")


def picture_sources(page):
    """Each picture's image address (None when it shows none), read in one go: a picture may go as it is read."""
    return page.evaluate("""names => Object.fromEntries(names.map(n => {
        const img = document.querySelector(`#inside-${n} img`); return [n, img ? img.getAttribute('src') : null]; }))""",
                         list(PICTURES))


@pytest.mark.parametrize("size", [(1280, 900), (375, 812)], ids=["desktop", "phone"])
def test_inside_section_follows_the_drawing_and_empties_after_clear(browser, server, size):
    phone = size[0] < 700
    page = open_page(browser, server, *size, phone=phone)
    try:
        page.click("#inside .label-wrap")  # open the section
        stroke(page, [(-60, -70), (60, -70), (-10, 80)])  # a 7
        wait_for(lambda: all(picture_sources(page).values()), timeout=60)
        assert "Read as 7" in hint(page)
        # the look-alikes come when the index of the training digits is built (the page looks again by itself)
        wait_for(lambda: "Building" not in page.locator("#inside-status").inner_text(), timeout=300)
        first = wait_for(lambda: picture_sources(page), timeout=10)
        page.locator("#inside").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        doc_shot(page, "inside" + ("-phone" if phone else ""))
        page.evaluate("window.scrollTo(0, 0)")  # the pad back in view to draw on
        stroke(page, [(-60, 0), (60, 0)])  # a bar across: another drawing
        wait_for(lambda: all(picture_sources(page)[n] != first[n] for n in ("input", "stage1", "outputs", "why")),
                 timeout=60)
        page.click("#sketch button[aria-label='Clear canvas']")
        wait_for(lambda: not any(picture_sources(page).values()), timeout=30)
        page.click("#inside .label-wrap")  # closed: drawing reads as before, and the section stays as it was
        page.evaluate("window.scrollTo(0, 0)")
        stroke(page, [(0, -80), (0, 80)])  # a 1
        wait_for(lambda: "Read as 1" in hint(page), timeout=30)
        page.wait_for_timeout(1500)
        assert not any(picture_sources(page).values())
    finally:
        page.context.close()
