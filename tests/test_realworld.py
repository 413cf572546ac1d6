"""Issue 12's failure kinds, one test each: the shipped model must read the right digit from photos and scans
that the preprocessing used to get wrong (a digit touching the edges, faint pencil, black rotation corners, a
box, a crossing line, a low-resolution scan upscaled), and still say "nothing to read" for blank paper and noise.

Each image is generated here: tests/drawing.py strokes, or MNIST TEST digits degraded by mnist_core.realworld.
"""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import MNIST_DIR, needs_mnist
from drawing import draw
from mnist_core import realworld
from mnist_core.data import read_split, resolve_data_dir
from mnist_core.preprocess import preprocess
from mnist_core.reader import load_model, predict

DIGITS = (0, 2, 3, 4, 7)  # drawing.py's digits that are not a plain stroke (a 1 is too easy to fake)


@pytest.fixture(scope="module")
def model():
    return load_model()


def on_paper(img: Image.Image, paper: float, depth: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A drawing's ink (black on white) as dark ink `depth` below gray paper, with sensor noise; uint8."""
    ink = 1 - np.asarray(img.convert("L"), np.float32) / 255
    gray = paper * (1 - depth * ink) + np.random.default_rng(seed).normal(0, noise, ink.shape)
    return np.clip(gray * 255, 0, 255).round().astype(np.uint8)


def read(model, image) -> int | None:
    p = predict(model, image)
    return p.digit


@pytest.mark.parametrize("digit", DIGITS)
def test_a_digit_filling_the_frame_and_touching_its_edges(model, digit):
    """A tight, low-resolution scan: the strokes reach (or cross) all four edges, paper is light gray."""
    big = draw(digit, size=(160, 200), box=(10, 12, 150, 188), width=30)  # strokes cross the edges
    scan = big.resize((26, 32), Image.Resampling.BOX)
    assert read(model, on_paper(scan, 0.85, 0.8, noise=0.01)) == digit


@pytest.mark.parametrize("digit", DIGITS)
def test_faint_pencil(model, digit):
    """Ink 6% darker than the paper, with the paper's grain: below the old fixed 15% contrast."""
    photo = on_paper(draw(digit, size=(200, 240), width=10), 0.9, 0.06, noise=0.004, seed=digit)
    assert read(model, photo) == digit


@pytest.mark.parametrize("digit", DIGITS)
def test_black_corners_of_a_rotated_photo(model, digit):
    """A photo of tilted paper straightened without expanding: black triangles fill the corners."""
    angle = 25
    upright = draw(digit, size=(280, 280), box=(90, 70, 190, 210), width=16).rotate(-angle, fillcolor=255)
    gray = Image.fromarray(on_paper(upright, 0.85, 0.8, noise=0.01))
    turned = gray.rotate(angle, Image.Resampling.BILINEAR, expand=False, fillcolor=0)
    assert np.asarray(turned)[0, 0] == 0  # the corners are black
    assert read(model, turned) == digit


@pytest.mark.parametrize("digit", DIGITS)
def test_a_box_printed_around_the_digit(model, digit):
    img = draw(digit, size=(120, 140), box=(35, 30, 85, 110), width=8)
    ImageDraw.Draw(img).rectangle((6, 6, 113, 133), outline=0, width=3)
    assert read(model, on_paper(img, 0.95, 0.8)) == digit


@pytest.mark.parametrize("digit", DIGITS)
def test_a_line_crossing_the_image(model, digit):
    """A ruled line from edge to edge, through the lower part of the digit."""
    img = draw(digit, size=(200, 160), box=(65, 20, 135, 140), width=10)
    ImageDraw.Draw(img).line((0, 118, 200, 122), fill=0, width=3)
    assert read(model, on_paper(img, 0.95, 0.8)) == digit


@needs_mnist
@pytest.mark.parametrize("kind", [k for k in realworld.KINDS if k not in ("street", "desk")])
def test_each_kind_of_photo_and_scan_is_read_95_percent_right(model, kind):
    """The first 60 images of each of bench/realworld.py's sets (MNIST test digits and system fonts, never trained
    on): at most 3 wrong, misread or not read (the shipped model: 0 to 2; the README's table has 400 of each)."""
    images, labels = realworld.build(kind, MNIST_DIR, 60)
    digits = [p.digit for p in predict(model, images)]
    wrong = [(int(y), d) for y, d in zip(labels, digits) if d != y]
    assert len(wrong) <= 3, wrong


@needs_mnist
def test_a_desk_beyond_the_sheets_edges_is_not_taken_for_ink(model):
    """A photo of a digit on a sheet that does not fill the picture: the darker desk beyond one or two of its
    edges is set aside like a rotated photo's black corners. The first 100 of the desk set: the shipped model
    gets 10 wrong (91.0% of all 400 right); before, the desk was read as the digit's strokes and 77 of these 100
    were wrong. A digit reaching the edges of a tight crop keeps its strokes (see the next test)."""
    images, labels = realworld.build("desk", MNIST_DIR, 100)
    digits = [p.digit for p in predict(model, images)]
    assert sum(d != y for d, y in zip(digits, labels)) <= 15


@pytest.mark.parametrize("digit", [2, 7])
def test_a_stroke_clipped_along_a_whole_edge_is_not_taken_for_a_desk(model, digit):
    """A tight crop of a bold 2 (its base along the bottom edge) or 7 (its bar along the top), 148x100 on
    gray paper: a dark run along a whole side, ending on a straight line with paper past it, as a desk
    would. It goes on into the digit, so it is kept (read as 7 and 1 when it is set aside)."""
    big = draw(digit, size=(120, 160), box=(10, 8, 110, 152), width=22).crop((10, 2, 110, 150))
    assert read(model, on_paper(big, 0.85, 0.8, noise=0.01)) == digit


@pytest.mark.parametrize("seed", range(3))
def test_blank_paper_and_noise_have_nothing_to_read(seed):
    rng = np.random.default_rng(seed)
    h, w = 240, 200
    ys, xs = np.mgrid[0:h, 0:w] / max(h, w)
    lit = 0.9 - 0.3 * xs - 0.1 * ys  # blank paper under uneven light, with grain
    blanks = [
        rng.integers(0, 256, (h, w), dtype=np.uint8),  # uniform noise
        np.clip(rng.normal(128, 20, (h, w)), 0, 255).astype(np.uint8),  # gray noise
        np.clip((lit + rng.normal(0, 0.02, (h, w))) * 255, 0, 255).astype(np.uint8),
    ]
    for size in ((32, 32), (1536, 2048)):  # a street photo's window, and a phone photo: ink must beat 4 sigmas
        ys, xs = np.mgrid[0 : size[0], 0 : size[1]] / max(size)
        gray = np.clip((0.85 - 0.3 * xs - 0.1 * ys + rng.normal(0, 0.03, size)) * 255, 0, 255).astype(np.uint8)
        blanks += [gray, np.stack([gray, (gray * 0.9).astype(np.uint8), (gray * 0.7).astype(np.uint8)], axis=2)]
    for image in blanks:
        digit = preprocess(image)
        assert digit.pixels is None and digit.message.startswith("nothing to read"), digit.message


@needs_mnist
@pytest.mark.parametrize("light", ["shadow", "blown out"])
def test_a_page_half_in_shadow_is_read(model, light):
    """A soft shadow across a third of the page (0.85 -> 0.5), or a page whose lit part is blown out to white and
    the rest falls to half as bright: the lighting must follow the paper, not stay at its brightest level and
    take the shadow for ink, and blown-out white is not the flat paper of a clean scan. (A review found 15 and
    33 of 30 and 60 such digits read while the lighting was chosen by how little paper rose above it.)"""
    rng = np.random.default_rng(3)
    images, labels = [], []
    digits, all_labels = read_split(resolve_data_dir(MNIST_DIR), "test")
    for i in range(30):
        ink = realworld.with_margins(realworld.handwritten(digits[i], 160, rng), (0.2, 0.2, 0.3, 0.3))
        x = np.mgrid[0 : ink.shape[0], 0 : ink.shape[1]][1] / ink.shape[1]
        if light == "shadow":
            paper = 0.85 - 0.35 / (1 + np.exp(-(x - 0.7) / 0.05))
        else:
            paper = np.where(x < 0.6, 1.08, 1.08 - (x - 0.6) / 0.4 * 0.58)
        images.append(realworld.to_uint8(paper * (1 - 0.7 * ink) + rng.normal(0, 0.02, ink.shape)))
        labels.append(all_labels[i])
    digits_read = [p.digit for p in predict(model, images)]
    assert sum(d != y for d, y in zip(digits_read, labels)) <= 2


def test_light_paint_judged_dark_is_read_the_other_way_round(model):
    """Light paint on a mid-tone wall can be judged dark ink on light paper; the strokes then sink below the
    wall's grain and nothing stands out. A photo that reads as nothing is read again with the other polarity:
    these four street windows were 'nothing to read' before."""
    images, labels = realworld.build("street", n=389)
    chosen = [88, 142, 237, 388]
    assert [p.digit for p in predict(model, [images[i] for i in chosen])] == list(labels[chosen])


def test_digits_cropped_from_street_photos_are_read_85_percent_right(model):
    """The street set (coloured walls, neighbours at the sides; nothing like it in training): the first 100.
    The shipped model gets 7 wrong (90% of all 400 right); a plain resize gets 14 right."""
    images, labels = realworld.build("street", n=100)
    digits = [p.digit for p in predict(model, images)]
    assert sum(d != y for d, y in zip(digits, labels)) <= 15


def test_a_tiny_image_is_read_from_a_smooth_enlargement(model):
    """A scan kept at its own few pixels (the UCI digits are 8x8) is enlarged smoothly to NATIVE before its
    paper and ink are measured. Measured at 8x8, a bicubic fit of the lighting left residuals as large as the
    strokes: these twelve real scans (7s and 6s) were each 'nothing to read: only faint patches'."""
    from mnist_core.preprocess import NATIVE, enlarge, to_array
    small = draw(7, size=(80, 80), box=(12, 4, 68, 76), width=12).resize((8, 8), Image.BOX)
    assert enlarge(*to_array(small), 1)[0].shape == (NATIVE, NATIVE, 1)
    images, labels = realworld.scans("scan8")
    unread = [317, 413, 447, 467, 494, 689, 732, 1094, 1109, 1115, 1191, 1252]
    assert [p.digit for p in predict(model, [images[i] for i in unread])] == list(labels[unread])


@pytest.mark.parametrize("kind", realworld.SCANS)
def test_real_low_resolution_scans_are_read_92_percent_right_and_above_a_plain_resize(model, kind):
    """Real handwriting that is not MNIST: the first 300 of the UCI scans (8x8, filling the frame), as stored and
    enlarged three ways. The shipped model gets 12 to 19 wrong; before the fixes for them, 150 to 180 of the 8x8
    and bilinear ones were 'nothing to read'. A plain resize of the whole image gets 21 to 54 wrong."""
    images, labels = realworld.build(kind, n=300)
    digits = np.array([-1 if p.digit is None else p.digit for p in predict(model, images)])
    accuracy = float((digits == labels).mean())
    assert accuracy >= 0.92
    assert accuracy > realworld.baseline_accuracy(model, images, labels)
