"""Real-world test sets made here: digits degraded as cameras and scanners degrade them, one kind at a time.

Handwritten digits come from the MNIST TEST set only (never used in training), rendered large as dark ink
on paper; printed digits from the system's Liberation and DejaVu fonts (matplotlib's bundled fonts are
left to training). Every kind is built from its own fixed seed, so a set is the same on every machine:

    frame    frame-filling crops: about square cells the digit touches or crosses; low-resolution scans, 20-40 px
    faint    faint pencil: ink 4-14% darker than the paper, paper texture and grain
    photo    photos: lighting gradients, vignetting, sensor noise and JPEG
    rotated  photos of tilted paper straightened without expanding: black triangles in the corners
    boxed    scanned forms: a box printed around the digit, or lines crossing the image
    lowres   low-resolution scans (12-16 px) upscaled, bilinear or nearest
    printed  printed digits in many fonts (light, italic, bold, condensed), photographed: blur, noise, JPEG
    street   digits cropped from street photos (house numbers): square 32x32 windows as tall as the digit,
             parts of the neighbours at the sides, colour plates and walls, light or dark digits, blur, JPEG.
             Made only here: training's photographed digits never have neighbours or coloured walls.

Real scans, not made here and never trained on (so they check the generator above as much as the model):
the UCI "optical recognition of handwritten digits" test set bundled with scikit-learn, 1,797 digits by
43 writers on NIST forms, normalized to fill the frame and stored as 8x8 images of 17 gray levels. It
is given four ways, as people upload low-resolution scans:

    scan8    as stored, 8x8
    scan32   enlarged 4x by repeating pixels (nearest neighbour)
    scan64   enlarged 8x, bilinear
    scan64c  enlarged 8x, bicubic

build(kind, mnist_dir, n) -> (images as uint8 arrays, labels).
"""
import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from .data import normalize, read_split, resolve_data_dir

KINDS = ("frame", "faint", "photo", "rotated", "boxed", "lowres", "printed", "street", "desk")
SEEDS = {kind: 1200 + i for i, kind in enumerate(KINDS)}  # issue 12
SCANS = {"scan8": (1, None), "scan32": (4, Image.Resampling.NEAREST), "scan64": (8, Image.Resampling.BILINEAR),
         "scan64c": (8, Image.Resampling.BICUBIC)}  # the real scans: (enlargement, how)
FONT_DIRS = (Path("/usr/share/fonts/truetype/liberation"), Path("/usr/share/fonts/truetype/dejavu"))


def fonts() -> list[Path]:
    """The system's Liberation and DejaVu text fonts (not the maths font: it has no plain digits of its own)."""
    return sorted(p for d in FONT_DIRS for p in d.glob("*.ttf") if "Math" not in p.name)


def handwritten(image28: np.ndarray, height: int, rng) -> np.ndarray:
    """An MNIST digit as smooth ink 0..1, cropped to its strokes and scaled to about `height` pixels tall."""
    a = image28.astype(np.float32) / 255
    rows, cols = np.flatnonzero(a.max(1) > 0.05), np.flatnonzero(a.max(0) > 0.05)
    a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = height / a.shape[0]
    size = (max(1, round(a.shape[1] * scale)), max(1, round(height)))
    big = np.asarray(picture(a).resize(size, Image.Resampling.BICUBIC)).clip(0, 1)
    return np.clip((big - 0.15) / 0.55, 0, 1)  # MNIST's soft edges made into ink with a crisp edge


def printed(digit: int, font: Path, height: int, rng) -> np.ndarray:
    """A digit typed in `font`, as ink 0..1 cropped to the glyph, about `height` pixels tall."""
    f = ImageFont.truetype(str(font), size=max(8, int(height * 1.4)))
    left, top, right, bottom = f.getbbox(str(digit))
    img = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(img).text((4 - left, 4 - top), str(digit), fill=255, font=f)
    a = np.asarray(img, np.float32) / 255
    rows, cols = np.flatnonzero(a.max(1) > 0.1), np.flatnonzero(a.max(0) > 0.1)
    return a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def picture(a: np.ndarray) -> Image.Image:
    """A float image as a PIL "F" image (which must be given float32: float64 bytes would be misread)."""
    return Image.fromarray(np.ascontiguousarray(a, np.float32), "F")


def place(ink: np.ndarray, size: tuple[int, int], top: int, left: int) -> np.ndarray:
    """`ink` on an empty canvas (h, w) with its top-left corner at (top, left); what falls outside is cut."""
    h, w = size
    out = np.zeros((h, w), np.float32)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + ink.shape[0], h), min(left + ink.shape[1], w)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = ink[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def with_margins(ink: np.ndarray, margins) -> np.ndarray:
    """The ink on a canvas with (top, bottom, left, right) margins, as fractions of its size; negative cuts in."""
    h, w = ink.shape
    t, b, l, r = (int(round(m * s)) for m, s in zip(margins, (h, h, w, w)))
    return place(ink, (max(1, h + t + b), max(1, w + l + r)), t, l)


def resize(a: np.ndarray, size: tuple[int, int], method=Image.Resampling.BILINEAR) -> np.ndarray:
    """Resize a float image to (h, w)."""
    return np.asarray(picture(a).resize((size[1], size[0]), method))


def shrink_to(a: np.ndarray, side: int) -> np.ndarray:
    """Area-average a float image so its longer side is `side` pixels."""
    s = side / max(a.shape)
    return resize(a, (max(1, round(a.shape[0] * s)), max(1, round(a.shape[1] * s))), Image.Resampling.BOX)


def smooth_noise(shape, scale: float, rng) -> np.ndarray:
    """Blotchy noise of unit standard deviation with features about `scale` pixels across."""
    n = ndimage.gaussian_filter(rng.normal(0, 1, shape), max(scale, 0.5))
    return (n / max(float(n.std()), 1e-6)).astype(np.float32)


def lit_paper(shape, rng, strength: float, vignette: float) -> np.ndarray:
    """Paper brightness under uneven light: a gradient from a random direction times a vignette, <= 1."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = ((xs / w - 0.5) * np.cos(angle) + (ys / h - 0.5) * np.sin(angle)) * 1.4 + 0.5  # about 0..1 across
    light = 1 - strength * np.clip(t, 0, 1)
    r2 = ((xs / w - 0.5) ** 2 + (ys / h - 0.5) ** 2) * 2  # 0 at the centre, 1 in the corners
    return light * (1 - vignette * r2)


def on_paper(ink: np.ndarray, paper, depth) -> np.ndarray:
    """Dark ink on paper: brightness = paper * (1 - depth * ink); paper and depth scalars or arrays."""
    return paper * (1 - depth * ink)


def tinted(gray: np.ndarray, rng) -> np.ndarray:
    """A gray picture as RGB with a slight colour cast (warm or cool light)."""
    cast = 1 + rng.uniform(-0.06, 0.06, 3)
    return gray[..., None] * cast[None, None, :].astype(np.float32)


def to_uint8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.round(a * 255), 0, 255).astype(np.uint8)


def jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    """A uint8 image through JPEG at the given quality and back."""
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert(Image.fromarray(a).mode))


def noisy(a: np.ndarray, sigma: float, rng) -> np.ndarray:
    return a + rng.normal(0, sigma, a.shape).astype(np.float32)


# the kinds -----------------------------------------------------------------------------------------

def frame(image28, label, rng):
    ink = handwritten(image28, rng.integers(60, 120), rng)
    if rng.random() < 0.3:  # a bolder pen
        ink = ndimage.grey_dilation(ink, size=int(rng.integers(2, 5)))
    h, w = ink.shape  # a cell cut from a grid: about square, the digit touching or just crossing its edges
    side_y, side_x = h * rng.uniform(0.94, 1.02), h * rng.uniform(0.75, 1.05)
    top = int(round((h - side_y) / 2 + rng.uniform(-0.04, 0.04) * h))
    left = int(round((w - side_x) / 2 + rng.uniform(-0.08, 0.08) * h))
    ink = place(ink, (int(side_y), int(side_x)), -top, -left)
    ink = shrink_to(ink, int(rng.integers(20, 41)))  # a low-resolution scan
    paper = rng.uniform(0.72, 0.97)
    gray = noisy(on_paper(ink, paper, rng.uniform(0.55, 0.9)), rng.uniform(0.0, 0.03), rng)
    out = to_uint8(gray)
    return jpeg(out, rng.integers(60, 95)) if rng.random() < 0.4 else out


def faint(image28, label, rng):
    ink = handwritten(image28, rng.integers(80, 200), rng)
    ink = with_margins(ink, rng.uniform(0.1, 0.6, 4))
    ink *= np.clip(1 + 0.3 * smooth_noise(ink.shape, 1.0, rng), 0, 1.3)  # graphite: uneven along the stroke
    paper = rng.uniform(0.75, 0.97) * (1 + rng.uniform(0.003, 0.012) * smooth_noise(ink.shape, rng.uniform(4, 20), rng))
    paper *= lit_paper(ink.shape, rng, rng.uniform(0, 0.1), 0)
    gray = noisy(on_paper(np.clip(ink, 0, 1), paper, rng.uniform(0.04, 0.14)), rng.uniform(0.002, 0.01), rng)
    out = to_uint8(gray)
    return jpeg(out, rng.integers(80, 96)) if rng.random() < 0.3 else out


def photo(image28, label, rng):
    ink = handwritten(image28, rng.integers(60, 200), rng)
    ink = with_margins(ink, rng.uniform(0.15, 0.9, 4))
    ink = ndimage.gaussian_filter(ink, rng.uniform(0.3, 1.5))  # focus
    paper = rng.uniform(0.7, 1.0) * lit_paper(ink.shape, rng, rng.uniform(0.2, 0.6), rng.uniform(0.1, 0.5))
    gray = on_paper(ink, paper, rng.uniform(0.45, 0.85))
    rgb = noisy(tinted(gray, rng), rng.uniform(0.01, 0.05), rng)
    return jpeg(to_uint8(rgb), rng.integers(25, 75))


def rotated(image28, label, rng):
    angle = rng.uniform(8, 35) * rng.choice([-1, 1])
    ink = handwritten(image28, rng.integers(60, 160), rng)
    ink = np.asarray(picture(ink).rotate(-angle + rng.uniform(-6, 6), Image.Resampling.BILINEAR,
                                                      expand=True))  # upright again once the photo is turned
    ink = with_margins(ink, rng.uniform(0.2, 0.6, 4))
    paper = rng.uniform(0.7, 0.97) * lit_paper(ink.shape, rng, rng.uniform(0, 0.35), rng.uniform(0, 0.3))
    gray = on_paper(ink, paper, rng.uniform(0.5, 0.85))
    turned = np.asarray(picture(gray).rotate(angle, Image.Resampling.BILINEAR, expand=False,
                                                          fillcolor=rng.uniform(0, 0.06)))
    rgb = noisy(tinted(turned, rng), rng.uniform(0.005, 0.03), rng)
    return jpeg(to_uint8(rgb), rng.integers(40, 90))


def boxed(image28, label, rng):
    ink = handwritten(image28, rng.integers(50, 110), rng)
    h, w = ink.shape
    line = np.zeros_like(ink)
    if rng.random() < 0.5:  # a box printed around the digit, near the image's edges
        gap = rng.uniform(0.05, 0.3, 4) * h
        outside = rng.uniform(-0.02, 0.12, 4) * h
        t = int(rng.integers(1, 5))
        H = int(h + gap[0] + gap[1] + 2 * t + outside[0] + outside[1])
        W = int(w + gap[2] + gap[3] + 2 * t + outside[2] + outside[3])
        canvas = place(ink, (H, W), int(outside[0] + t + gap[0]), int(outside[2] + t + gap[2]))
        box = Image.new("F", (W, H), 0)
        x0, y0 = int(outside[2]), int(outside[0])
        x1, y1 = int(W - 1 - outside[3]), int(H - 1 - outside[1])
        ImageDraw.Draw(box).rectangle((x0, y0, x1, y1), outline=1.0, width=t)
        line = np.asarray(box)
    else:  # lines crossing the image: a ruled line through or under the digit, now and then cell walls
        canvas = with_margins(ink, rng.uniform(0.1, 0.5, 4))
        H, W = canvas.shape
        img = Image.new("F", (W, H), 0)
        d = ImageDraw.Draw(img)
        t = int(rng.integers(1, 5))
        y = rng.uniform(0.45, 0.95) * H
        tilt = np.tan(np.radians(rng.uniform(-3, 3))) * W
        d.line((0, y - tilt / 2, W, y + tilt / 2), fill=1.0, width=t)
        if rng.random() < 0.3:
            for x in (rng.uniform(0, 0.08) * W, rng.uniform(0.92, 1) * W):
                d.line((x, 0, x, H), fill=1.0, width=t)
        line = np.asarray(img)
    paper = rng.uniform(0.8, 0.98)
    gray = on_paper(np.maximum(canvas, line * rng.uniform(0.4, 0.9)), paper, rng.uniform(0.6, 0.9))
    out = to_uint8(noisy(gray, rng.uniform(0.0, 0.02), rng))
    return jpeg(out, rng.integers(60, 95)) if rng.random() < 0.4 else out


def lowres(image28, label, rng):
    ink = handwritten(image28, rng.integers(60, 120), rng)
    ink = with_margins(ink, rng.uniform(0.05, 0.35, 4))
    small = shrink_to(ink, int(rng.integers(12, 17)))
    paper = rng.uniform(0.75, 0.97)
    small = to_uint8(noisy(on_paper(small, paper, rng.uniform(0.55, 0.9)), rng.uniform(0, 0.02), rng))
    factor = int(rng.integers(6, 20))
    method = Image.Resampling.NEAREST if rng.random() < 0.5 else Image.Resampling.BILINEAR
    img = Image.fromarray(small).resize((small.shape[1] * factor, small.shape[0] * factor), method)
    out = np.asarray(img)
    return jpeg(out, rng.integers(50, 90)) if rng.random() < 0.4 else out


def printed_photo(digit, rng, font_list):
    font = font_list[int(rng.integers(len(font_list)))]
    ink = printed(digit, font, int(rng.integers(40, 120)), rng)
    if rng.random() < 0.3:  # a slanted sign, or a photo taken at an angle
        shear = rng.uniform(-0.25, 0.25)
        h, w = ink.shape
        pad = int(abs(shear) * h) + 1
        ink = np.asarray(picture(np.pad(ink, ((0, 0), (pad, pad)))).transform(
            (w + 2 * pad, h), Image.Transform.AFFINE, (1, shear, -shear * h / 2, 0, 1, 0), Image.Resampling.BILINEAR))
    ink = np.asarray(picture(ink).rotate(rng.uniform(-6, 6), Image.Resampling.BILINEAR, expand=True))
    ink = with_margins(ink, rng.uniform(0.05, 0.5, 4))
    ink = ndimage.gaussian_filter(ink, rng.uniform(0.3, 2.0))
    paper = rng.uniform(0.6, 1.0) * lit_paper(ink.shape, rng, rng.uniform(0, 0.4), rng.uniform(0, 0.3))
    if rng.random() < 0.25:  # light on dark: a house number, a sign
        gray = rng.uniform(0.05, 0.35) + ink * rng.uniform(0.4, 0.6)
    else:
        gray = on_paper(ink, paper, rng.uniform(0.5, 0.9))
    rgb = noisy(tinted(gray, rng), rng.uniform(0.01, 0.05), rng)
    side = int(rng.integers(32, 97))
    small = np.stack([shrink_to(rgb[..., c], side) for c in range(3)], axis=2)
    return jpeg(to_uint8(small), rng.integers(30, 85))


def street(digit, rng, font_list):
    """A digit cropped from a street photo, as house-number sets crop them: a number in one font, light on a
    dark plate or dark on a light wall, in colour; the window square and as tall as the digit, so parts of the
    neighbouring digits show at its sides; tilted, blurred, shrunk to 32x32, noisy, JPEG. Never in training."""
    font = font_list[int(rng.integers(len(font_list)))]
    height = int(rng.integers(40, 100))
    glyphs = [printed(int(d), font, height, rng) for d in (rng.integers(0, 10), digit, rng.integers(0, 10))]
    gap = int(rng.uniform(0.05, 0.4) * height)
    tall = max(g.shape[0] for g in glyphs)
    number = np.zeros((tall + 2 * height, sum(g.shape[1] for g in glyphs) + 2 * gap + 2 * height), np.float32)
    left = height
    for i, g in enumerate(glyphs):  # on one baseline
        number[height + tall - g.shape[0] : height + tall, left : left + g.shape[1]] = g
        if i == 1:
            centre, box_h = left + g.shape[1] / 2, g.shape[0]
        left += g.shape[1] + gap
    number = np.asarray(picture(number).rotate(rng.uniform(-8, 8), Image.Resampling.BILINEAR))
    side = box_h * rng.uniform(1.0, 1.3)
    top, x0 = int(height + tall - box_h / 2 - side / 2), int(centre - side / 2 + rng.uniform(-0.08, 0.08) * side)
    ink = ndimage.gaussian_filter(number[top : top + int(side), x0 : x0 + int(side)], rng.uniform(0.5, 2.5))
    wall = rng.uniform(0.1, 1.0, 3)  # a coloured plate or wall, the digit lighter or darker by a good margin
    paint = np.clip(wall + rng.choice([-1, 1]) * rng.uniform(0.35, 0.8) * rng.uniform(0.6, 1.0, 3), 0, 1)
    if abs(float(paint.mean() - wall.mean())) < 0.25:
        paint = 1 - wall
    light = lit_paper(ink.shape, rng, rng.uniform(0, 0.4), rng.uniform(0, 0.3))[..., None]
    grain = 1 + 0.04 * smooth_noise(ink.shape, rng.uniform(1, 6), rng)[..., None]
    rgb = (wall + ink[..., None] * (paint - wall)) * light * grain
    small = np.stack([resize(rgb[..., c], (32, 32), Image.Resampling.BOX) for c in range(3)], axis=2)
    return jpeg(to_uint8(noisy(small, rng.uniform(0.005, 0.03), rng)), rng.integers(30, 85))


def desk(image28, label, rng):
    """A phone photo of a digit on a sheet of paper that does not fill the picture: a darker, textured desk
    shows beyond one or two of the sheet's edges, each a straight line at a slight tilt. Never in training."""
    ink = with_margins(handwritten(image28, rng.integers(60, 160), rng), rng.uniform(0.3, 1.0, 4))
    h, w = ink.shape
    paper = rng.uniform(0.75, 0.98) * lit_paper(ink.shape, rng, rng.uniform(0, 0.4), rng.uniform(0, 0.3))
    rgb = np.repeat(on_paper(ink, paper, rng.uniform(0.6, 0.9))[..., None], 3, axis=2)
    ys, xs = np.mgrid[0:h, 0:w]
    beyond = np.zeros((h, w), bool)
    for side in rng.choice(4, int(rng.integers(1, 3)), replace=False):  # top, bottom, left, right
        depth, tilt = rng.uniform(0.05, 0.2), rng.uniform(-0.15, 0.15)
        across, along, size = (ys, xs, h) if side < 2 else (xs, ys, w)
        reach = depth * size + tilt * (along - along.mean())
        beyond |= across < reach if side % 2 == 0 else across > size - reach
    wood = np.array([0.45, 0.3, 0.18]) * rng.uniform(0.4, 1.2)
    grain = 1 + 0.15 * smooth_noise((h, w), rng.uniform(1, 4), rng)
    rgb[beyond] = wood[None, :] * grain[beyond][:, None]
    return jpeg(to_uint8(noisy(rgb.astype(np.float32), rng.uniform(0.005, 0.03), rng)), rng.integers(40, 90))


MAKERS = {"frame": frame, "faint": faint, "photo": photo, "rotated": rotated, "boxed": boxed, "lowres": lowres}
EVALUATION_ONLY = {"desk": desk}  # kinds made from MNIST test digits that training (generated.py) never makes


def scans(kind: str, n: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """The first n of the real scans (all 1,797 by default), dark ink on white, as `kind` gives them."""
    try:
        from sklearn.datasets import load_digits  # the data ships inside scikit-learn: nothing is downloaded
    except ImportError as e:
        raise RuntimeError("the real scans come with scikit-learn: pip install -r requirements-dev.txt") from e
    digits = load_digits()
    factor, method = SCANS[kind]
    images = []
    for a in digits.images[:n]:
        gray = Image.fromarray(np.round(255 - a * (255 / 16)).astype(np.uint8))
        images.append(np.asarray(gray if factor == 1 else gray.resize((8 * factor, 8 * factor), method)))
    return images, digits.target[:n].astype(np.int64)


def build(kind: str, mnist_dir=None, n: int | None = 400) -> tuple[list[np.ndarray], np.ndarray]:
    """The `kind` set: n images (uint8 gray or RGB arrays) and their labels; the first k are the same for any n >= k.
    n None: all 1,797 of the real scans, 400 of a set made here."""
    if kind in SCANS:
        return scans(kind, n)
    n = 400 if n is None else n
    rng = np.random.default_rng(SEEDS[kind])
    if kind in ("printed", "street"):
        font_list, make = fonts(), printed_photo if kind == "printed" else street
        labels, images = np.zeros(n, np.int64), []
        for i in range(n):  # one digit at a time, so the first k images are the same whatever n is
            labels[i] = rng.integers(0, 10)
            images.append(make(int(labels[i]), rng, font_list))
        return images, labels
    images, labels = read_split(resolve_data_dir(mnist_dir), "test")
    picks = rng.permutation(len(images))[:n]
    make = MAKERS.get(kind) or EVALUATION_ONLY[kind]
    return [make(images[i], labels[i], rng) for i in picks], labels[picks]


# the baseline ---------------------------------------------------------------------------------------

def plain_resize(image: np.ndarray, stretch: bool = False) -> np.ndarray:
    """The whole image to gray 0..1, ink made bright (inverted when the median pixel is light), 28x28;
    with stretch, also its darkest pixel made 0 and its brightest 1 (a common demo's extra step)."""
    gray = image.astype(np.float32) / 255
    if gray.ndim == 3:
        gray = gray.mean(axis=2)
    if np.median(gray) > 0.5:
        gray = 1 - gray
    small = np.asarray(Image.fromarray(gray, "F").resize((28, 28), Image.Resampling.BILINEAR))
    if stretch:
        small = (small - small.min()) / max(float(small.max() - small.min()), 1e-6)
    return small


@torch.inference_mode()
def baseline_accuracy(model, images, labels, stretch: bool = False) -> float:
    x = normalize(torch.from_numpy(np.stack([plain_resize(im, stretch) for im in images])).unsqueeze(1))
    return float((model(x).argmax(1).numpy() == labels).mean())
