"""Property test: thousands of random inputs, each gets a reading or a message saying why not, never an exception.

A fixed seed (numpy's RNG; no hypothesis), the shipped model, and predict(model, list) in chunks, as the
app calls it. The kinds of input: small marks anywhere on canvases of 1 to 700 px drawn with brushes of
1 to 40 px, Sketchpad values (RGBA or gray ink on opaque white), noise, 1-pixel-wide strips, float
arrays with NaN and infinities, images in every PIL mode, and items that cannot be read at all.
Then the crash that issue 8 reported, as a named case, and the bounded cost of big and many uploads.
"""
import numpy as np
import pytest
from PIL import Image

from drawing import STROKES, draw, sketchpad_value
from mnist_core.reader import Prediction, load_model, predict
from mnist_core.preprocess import ImageError, preprocess, shrink

SEED = 8  # issue 8
CHUNK = 64
MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA", "I", "I;16", "F", "La", "RGBa", "HSV", "LAB"]


@pytest.fixture(scope="module")
def model():
    return load_model()


def random_mark(rng, size=None):
    """A digit drawn small or large anywhere on a canvas of 1..700 px a side, with a 1..40 px brush."""
    w, h = size or (int(rng.integers(1, 701)), int(rng.integers(1, 701)))
    bw, bh = int(rng.integers(0, min(w, 60) + 1)), int(rng.integers(0, min(h, 60) + 1))
    if rng.random() < 0.25:  # now and then a large one
        bw, bh = int(rng.integers(0, w + 1)), int(rng.integers(0, h + 1))
    x0, y0 = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
    digit = int(rng.choice(sorted(STROKES)))
    ink, paper = (0, 255) if rng.random() < 0.8 else (255, 0)
    brush = int(round(np.exp(rng.uniform(0, np.log(40)))))  # 1 to 40 px, thin brushes as often as thick
    return draw(digit, size=(w, h), box=(x0, y0, x0 + bw, y0 + bh), width=brush, ink=ink, paper=paper)


def sketchpad(rng):
    """What the Draw tab sends: ink on an opaque white canvas, as gray (image_mode="L") or RGBA."""
    mark = random_mark(rng, (int(rng.integers(1, 400)), int(rng.integers(1, 400))))
    if rng.random() < 0.5:
        value = sketchpad_value(mark)
    else:
        gray = np.asarray(mark.convert("L"))
        rgba = np.empty(gray.shape + (4,), np.uint8)
        rgba[..., :3] = gray[..., None]
        rgba[..., 3] = 255
        value = {"background": None, "layers": [], "composite": rgba}
    if rng.random() < 0.2:
        value["background"] = np.full_like(value["composite"], 255)
    return value


def noise(rng):
    shape = (int(rng.integers(1, 300)), int(rng.integers(1, 300)))
    kind = rng.integers(4)
    if kind == 0:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if kind == 1:
        return rng.integers(0, 256, shape + (int(rng.choice([1, 2, 3, 4])),), dtype=np.uint8)
    if kind == 2:  # a faint speckle on white
        a = np.full(shape, 255, np.uint8)
        a[rng.random(shape) < rng.random() * 0.05] = 0
        return a
    return Image.fromarray(rng.integers(0, 256, shape + (3,), dtype=np.uint8), "RGB")


def strip(rng):
    """1xN and Nx1, as arrays and as images, from 1 to 6000 long."""
    n = int(rng.integers(1, 6001))
    a = np.full(n, 255, np.uint8)
    a[rng.integers(0, n, int(rng.integers(0, 8)))] = 0
    a = a[None, :] if rng.random() < 0.5 else a[:, None]
    return Image.fromarray(a, "L") if rng.random() < 0.5 else a


def floats_with_nan(rng):
    mark = np.asarray(random_mark(rng, (int(rng.integers(1, 300)), int(rng.integers(1, 300)))), np.float64)
    a = mark / 255 if rng.random() < 0.5 else mark
    a = a.astype(rng.choice([np.float16, np.float32, np.float64]))
    bad = rng.random(a.shape) < rng.random() * 0.3
    a[bad] = rng.choice([np.nan, np.inf, -np.inf], int(bad.sum()))
    if rng.random() < 0.1:
        a[:] = rng.choice([np.nan, np.inf, -np.inf])
    return a[..., None].repeat(3, axis=2) if rng.random() < 0.3 else a


def in_mode(rng, mode):
    source = random_mark(rng, (int(rng.integers(1, 300)), int(rng.integers(1, 300)))).convert("RGBA")
    if rng.random() < 0.3:  # see-through background, the ink opaque
        alpha = 255 - np.asarray(source.convert("L"))
        source.putalpha(Image.fromarray(alpha))
    if mode == "La":
        return source.convert("LA").convert("La")
    if mode in ("1", "L", "I", "I;16", "F"):
        return source.convert("L").convert(mode)
    if mode in ("P", "PA", "CMYK", "YCbCr", "HSV", "LAB"):
        return source.convert("RGB").convert(mode)
    return source.convert(mode)


def unreadable(rng):
    return [np.zeros((5, 5, 5)), np.zeros((0, 10)), np.zeros((3, 3, 3, 3)), np.array([["a"]]),
            "/no/such/file.png", 42, object()][int(rng.integers(7))]


def check(item_kind, prediction: Prediction):
    assert isinstance(prediction, Prediction), item_kind
    if prediction.probs is None:
        assert prediction.digit is None and prediction.message, item_kind
    else:
        assert prediction.probs.shape == (10,) and np.isfinite(prediction.probs).all(), item_kind
        assert abs(float(prediction.probs.sum()) - 1) < 1e-4, item_kind
        if prediction.refused:  # read, but not taken for a digit: the probabilities stay, and the message says so
            assert prediction.digit is None and prediction.message.startswith("not a digit"), item_kind
        else:
            assert prediction.digit == int(np.argmax(prediction.probs)), item_kind
        assert prediction.pixels.shape == (28, 28) and np.isfinite(prediction.pixels).all(), item_kind
        assert prediction.pixels.min() >= 0 and prediction.pixels.max() <= 1, item_kind


def inputs(rng):
    yield from (("mark", random_mark(rng)) for _ in range(1500))
    yield from (("sketchpad", sketchpad(rng)) for _ in range(300))
    yield from (("noise", noise(rng)) for _ in range(200))
    yield from (("strip", strip(rng)) for _ in range(200))
    yield from (("floats with NaN/inf", floats_with_nan(rng)) for _ in range(200))
    yield from ((f"mode {mode}", in_mode(rng, mode)) for mode in MODES for _ in range(20))
    yield from (("unreadable", unreadable(rng)) for _ in range(40))


def test_thousands_of_random_inputs_each_get_a_reading_or_a_message(model):
    rng = np.random.default_rng(SEED)
    chunk, counts = [], {"read": 0, "message": 0}
    for item in inputs(rng):
        chunk.append(item)
        if len(chunk) == CHUNK:
            run(model, chunk, counts)
            chunk = []
    run(model, chunk, counts)
    assert counts["read"] + counts["message"] > 2500
    assert counts["read"] > 1000  # most marks are digits that can be read, not all refusals


def run(model, chunk, counts):
    if not chunk:
        return
    kinds, images = zip(*chunk)
    predictions = predict(model, list(images))
    assert len(predictions) == len(images)
    for kind, prediction in zip(kinds, predictions):
        check(kind, prediction)
        counts["read" if prediction.probs is not None else "message"] += 1


def test_every_pil_mode_of_a_clear_digit_reads_right(model):
    seven = draw(7).convert("RGBA")
    images = [seven.convert("LA").convert("La") if m == "La" else seven.convert(m) for m in MODES]
    for mode, prediction in zip(MODES, predict(model, images)):
        assert prediction.digit == 7, (mode, prediction.message)


def test_seven_by_six_mark_drawn_with_a_two_pixel_brush(model):
    """The crash of issue 8: a 0 drawn in a 7x6 box with a 2 px brush. The stroke width reads about 4 px
    (a pixel's distance to the edge is at least 1), so even_strokes eroded the whole mark away and
    fit_box indexed an empty array (IndexError). Now the erosion stops short of emptying a stroke."""
    mark = draw(0, size=(280, 280), box=(100, 100, 107, 106), width=2)
    digit = preprocess(mark)
    assert digit.pixels is not None, digit.message
    assert predict(model, mark).probs is not None
    for d in sorted(STROKES):  # the neighbours of that case: every digit, boxes of 3 to 11 px, brushes 1 to 3 px
        for bw in range(3, 12):
            for bh in range(3, 12):
                for brush in (1, 2, 3):
                    small = preprocess(draw(d, size=(60, 60), box=(20, 20, 20 + bw, 20 + bh), width=brush))
                    assert small.pixels is not None or small.message.startswith("nothing to read"), small.message


def test_one_unreadable_item_does_not_fail_the_batch(model, tmp_path):
    draw(7).save(tmp_path / "seven.png")
    (tmp_path / "notes.png").write_text("not an image")
    items = [str(tmp_path / "seven.png"), np.zeros((5, 5, 5)), str(tmp_path / "notes.png"), str(tmp_path / "gone.png"),
             draw(4)]
    read = predict(model, items)
    assert [p.digit for p in read] == [7, None, None, None, 4]
    assert "shape (5, 5, 5)" in read[1].message
    assert read[2].message.startswith("notes.png: not an image")
    assert read[3].message == "gone.png: file not found"


def test_a_single_unreadable_input_still_raises(model, tmp_path):
    with pytest.raises(ImageError, match="shape"):
        predict(model, np.zeros((5, 5, 5)))
    with pytest.raises(ImageError, match="gone.png: file not found"):
        predict(model, tmp_path / "gone.png")


@pytest.mark.parametrize("shape", [(1, 5000), (5000, 1), (1, 2049), (3, 7000), (2, 4097, 3)])
def test_shrink_keeps_at_least_one_row_and_column(shape):
    a = np.ones(shape + (1,) * (3 - len(shape)), np.float32)
    small = shrink(a)
    assert 1 <= min(small.shape[:2]) and max(small.shape[:2]) <= 2048
    assert small.shape[0] <= a.shape[0] and small.shape[1] <= a.shape[1]
    line = np.full(shape[:2], 255, np.uint8)
    line.flat[len(line.flat) // 2 :][:40] = 0  # a short dash in the middle
    for image in (line, Image.fromarray(line)):
        digit = preprocess(image)
        assert digit.pixels is not None or digit.message, digit


# Bounded cost (issue 8, part 2) ------------------------------------------------------------------

OPEN_AND_MEASURE = """
import sys
from mnist_core.reader import open_image

def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise OSError("no VmHWM")

def reset_peak_rss():  # "5": reset the peak resident set size (Linux)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

try:
    reset_peak_rss()
    peak_rss_mb()
except OSError as e:
    print("skip", e)
    sys.exit()
open_image(sys.argv[1])  # warm-up: imports and caches
reset_peak_rss()
before = peak_rss_mb()
image = open_image(sys.argv[1])
print(peak_rss_mb() - before, *image.size)
"""


def test_a_big_png_is_opened_without_a_full_size_copy(tmp_path):
    """A 4000x4000 RGB PNG is 64 MB once Pillow decodes it whole (4 bytes a pixel); open_image reads it
    band by band, so its peak stays well under that. Measured in a process of its own: in the test process
    other threads (the app's background work) can raise the peak meanwhile."""
    import subprocess
    import sys
    from pathlib import Path

    big = tmp_path / "big.png"
    draw(7, size=(4000, 4000), box=(1000, 600, 3000, 3400), width=150, mode="RGB", ink=(0, 0, 0),
         paper=(255, 255, 255)).save(big, compress_level=1)
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", OPEN_AND_MEASURE, str(big)], cwd=root, capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    if out[0] == "skip":
        pytest.skip(f"no peak-RSS reset on this system ({' '.join(out[1:])})")
    grown, size = int(out[0]), (int(out[1]), int(out[2]))
    assert size == (2000, 2000)
    assert grown < 40, f"opening the PNG raised the peak by {grown} MB"


def test_uploads_beyond_max_files_are_named_not_read(app_module, tmp_path):
    draw(7).save(tmp_path / "seven.png")
    files = [str(tmp_path / "seven.png")] * (app_module.MAX_FILES + 6)
    _, first, summary = app_module.read_uploads(files)
    assert max(first, key=first.get) == "7"
    lines = [line for line in summary.splitlines() if line.startswith("- ")]
    assert len(lines) == app_module.MAX_FILES
    assert f"Only the first {app_module.MAX_FILES} of {len(files)} files were read" in summary
