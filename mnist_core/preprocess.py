"""Turn what people draw or photograph into what MNIST looks like: one step per function.

Image in (PIL, numpy, or a Gradio Sketchpad dict) -> ink map (white on black, 0..1) -> the digit's
strokes without far-away specks -> cropped, stroke width evened out, fitted into 20x20 keeping the
aspect ratio -> placed in 28x28 with its centre of mass in the middle.
"""
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage, stats

MAX_SIDE = 2048  # larger inputs are shrunk first: the digit survives, the work stays bounded
MIN_CONTRAST = 0.02  # ink must differ from the paper by at least this much (0..1) to count...
NOISE_SIGMAS = 4.0  # ...and by this many times the paper's noise (standard deviations)...
RELATIVE_CONTRAST = 0.15  # ...and by this share of the strongest ink's difference
DARK_PRIOR = 0.4  # dark ink when the median is past this share of the range from the darkest pixels
PAPER_BAND = 0.1  # samples within this share of the image's range of a lighting surface count as its paper
NOISY = 0.1  # an image whose paper noise is over this share of its strongest ink is smoothed first
BOX, SIDE = 20, 28  # MNIST fits each digit in a 20x20 box inside a 28x28 image
WORK = 64  # the cropped digit is evened out at this size (pixels, longer side) before the final fit
STROKE_MIN, STROKE_MAX = 2.2, 4.5  # stroke widths (pixels of the 20x20 box) outside which strokes are evened out
STROKE_THIN_TO = 2.6  # what too-thin strokes are thickened to: a typical MNIST stroke
INK_MIN = 0.05  # in the evened-out digit, fainter than this is background
MIN_INK_PIXELS, MIN_INK_SHARE = 30, 0.002  # on noisy paper a digit has this many pixels of ink, and this share
NATIVE = 64  # an image enlarged by repeating pixels is read from its own pixels when it has at most this many a side
TINY_SIDE = 24  # an image (or its own pixels) under this many pixels a side is enlarged to at least NATIVE a side
FLAT_PAPER = 0.15  # one exact colour over this share of the image (and half its border and in every corner) is flat paper
DESK = 0.6  # a desk beside the page is darker than this share of the way from the darkest pixels to the paper
EDGE_SHARE = 0.5  # ...along this share of a side at least, its dark run ending on one straight line
PAGE_SIDE = 48  # an image (its own pixels) smaller than this a side is cut around the digit, never a photo of a page
SPECK = 4  # marks of fewer pixels than this (of the image as given) are only a speck
MIN_PART = 0.02  # marks with fewer pixels than this share of the largest mark's are specks or noise


class ImageError(ValueError):
    """An input that cannot be read as an image; the message says why in words a user understands."""


SEVERAL_MARKS = "several marks found: read the largest"  # the remark when other marks stand beside the digit read


@dataclass
class Digit:
    """The 28x28 input (0..1, white ink on black) made from one image, or None with the reason."""

    pixels: np.ndarray | None
    message: str = ""  # why nothing was read, or a remark such as SEVERAL_MARKS


def to_array(image) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour (H, W, C) float32 0..1 with C = 1 for gray or 3 for RGB, alpha (H, W) or None).

    Takes a PIL image, a numpy array or a Sketchpad dict (its composite). An untouched canvas
    (composite None) or None gives an empty array.
    """
    if isinstance(image, dict):  # a Sketchpad value
        image = image.get("composite")
    if image is None:  # an untouched Sketchpad, or an API caller that sent null
        return np.zeros((0, 0, 1), np.float32), None
    if isinstance(image, Image.Image):
        return pil_to_array(image)
    if isinstance(image, np.ndarray):
        return numpy_to_array(image)
    raise ImageError(f"expected an image (PIL, numpy array or Sketchpad value), got {type(image).__name__}")


def pil_to_array(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    image = ImageOps.exif_transpose(fit_image(image))  # phone photos carry their rotation in EXIF
    a = np.asarray(image)
    if image.mode == "I":  # 16/32-bit gray
        a = a.astype(np.float32).clip(0, None)
        a *= np.float32(1 / (65535.0 if a.max() > 255 else 255.0))
    return numpy_to_array(a)  # "F" stays float: 0..1 or 0..255, as numpy_to_array reads it


def working_mode(mode: str) -> str:
    """The mode an image is read in: gray, RGB or RGBA in 8 bits, 32-bit integer gray, or float gray."""
    if mode in ("L", "RGB", "RGBA", "I", "F"):
        return mode
    if mode.startswith("I"):  # I;16, I;16B, ...
        return "I"
    if mode in ("LA", "PA", "La", "RGBa"):
        return "RGBA"
    return "L" if mode == "1" else "RGB"  # CMYK, YCbCr, HSV, LAB, palette (RGBA when it has a transparent colour)


def fit_image(image: Image.Image, max_side: int = MAX_SIDE) -> Image.Image:
    """The image in its working mode, shrunk by an integer factor (box average) so no side exceeds max_side.

    Big images are converted and reduced a band of rows at a time, so the only full-size copy is the
    one given; the result carries the original's info (EXIF included).
    """
    target = target_mode(image)
    fx, fy = reduction(image.size, max_side)
    if fx == fy == 1:
        return convert(image, target)
    w, h = image.size
    rows = fy * max(1, 256 // fy)
    bands = (image.crop((0, top, w, min(h, top + rows))) for top in range(0, h, rows))
    info = dict(image.info)
    exif = image.getexif()
    if exif and "exif" not in info:  # EXIF kept elsewhere than info (TIFF tags): carry the orientation over
        info["exif"] = exif.tobytes()
    return fit_bands(bands, image.size, info, target, (fx, fy))


def target_mode(image: Image.Image) -> str:
    return "RGBA" if image.mode == "P" and "transparency" in image.info else working_mode(image.mode)


def reduction(size: tuple[int, int], max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The integer factors (x, y) that bring the longer side to max_side or under; never more than a side."""
    factor = -(-max(size) // max_side)
    return min(factor, size[0]), min(factor, size[1])  # a 1x5000 strip keeps its one row


def fit_bands(bands, size: tuple[int, int], info: dict, target: str, factors: tuple[int, int]) -> Image.Image:
    """An image of `size` put together from its bands of rows, each converted to the target mode and
    reduced by `factors` as it comes; every band but the last is a multiple of factors[1] high."""
    (w, h), (fx, fy) = size, factors
    out = Image.new(target, (-(-w // fx), -(-h // fy)))
    top = 0
    for band in bands:
        out.paste(convert(band, target).reduce((fx, fy)), (0, top // fy))
        top += band.height
    out.info = info
    return out


def convert(image: Image.Image, mode: str) -> Image.Image:
    if image.mode == mode:
        return image
    if image.mode == "La":  # premultiplied gray+alpha converts only to LA
        image = image.convert("LA")
    return image.convert(mode)


def numpy_to_array(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or 0 in a.shape:
        raise ImageError(f"expected a gray, RGB or RGBA image, got an array of shape {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ImageError(f"expected an image of numbers, got an array of {a.dtype}")
    if a.dtype == np.uint8:
        a = a.astype(np.float32)
        a *= np.float32(1 / 255)
    elif a.dtype == bool:
        a = a.astype(np.float32)
    elif a.dtype.kind in "iu":
        a = a.astype(np.float32).clip(0, None)
        a *= np.float32(1 / (65535.0 if a.max() > 255 else 255.0))
    else:  # float: 0..1 or 0..255; NaN and infinities are no ink information, read as 0
        a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0).clip(0, None)
        peak = float(a.max())
        if peak > 1.0:
            a *= np.float32(1 / (255.0 if peak <= 255.0 else peak))
    a = shrink(a)
    if a.shape[2] in (2, 4):  # gray+alpha or RGBA
        return a[:, :, :-1], a[:, :, -1]
    return a, None


def shrink(a: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Downscale by an integer factor so no side exceeds max_side (box average keeps thin strokes visible).

    The factor along a side never exceeds that side, so a 1x5000 strip keeps its row; leftover rows or
    columns that do not fill a whole box are dropped.
    """
    factor = -(-max(a.shape[:2]) // max_side)
    if factor <= 1:
        return a
    fy, fx = min(factor, a.shape[0]), min(factor, a.shape[1])
    h, w = (a.shape[0] // fy) * fy, (a.shape[1] // fx) * fx
    return a[:h, :w].reshape(h // fy, fy, w // fx, fx, a.shape[2]).mean(axis=(1, 3))


def native_pixels(colour: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None, int]:
    """A low-resolution image (at most NATIVE pixels a side) enlarged by repeating each pixel k x k times
    (nearest neighbour) as its own pixels, and k; any other image as it is, and 1. Enlarged again smoothly
    (see enlarge), the blocks' staircase edges are not taken for the strokes' edges.

    k is the greatest common divisor of the sides and of where about eight rows and columns of the first
    channel change value (a drawing's anti-aliased edges change anywhere: k = 1, found in microseconds); every
    block of every channel is then checked. The image must be at least 4 blocks a side.
    """
    h, w = colour.shape[:2]
    rows, cols = colour[:: max(1, h // 8), :, 0], colour[:, :: max(1, w // 8), 0]  # one channel finds k...
    k = np.gcd.reduce(np.concatenate([[h, w], np.flatnonzero((rows[:, 1:] != rows[:, :-1]).any(axis=0)) + 1,
                                      np.flatnonzero((cols[1:] != cols[:-1]).any(axis=1)) + 1]))
    if k < 2 or max(h, w) > NATIVE * k or min(h, w) < 4 * k:
        return colour, alpha, 1
    blocks = colour.reshape(h // k, k, w // k, k, -1)  # ...and every channel must be made of k x k blocks
    if not (blocks == blocks[:, :1, :, :1]).all() or (
            alpha is not None and not (alpha.reshape(h // k, k, w // k, k) == alpha[::k, None, ::k, None]).all()):
        return colour, alpha, 1
    return colour[::k, ::k], None if alpha is None else alpha[::k, ::k], int(k)


def enlarge(colour: np.ndarray, alpha: np.ndarray | None, k: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The image (see native_pixels) enlarged smoothly (bicubic, its overshoot clipped to 0..1) k times, or
    more when it is under TINY_SIDE pixels a side (a low-resolution scan kept at its own size, like the 8x8
    UCI digits): to a longer side of at least NATIVE, for with a few dozen pixels there is no paper to
    measure lighting and noise on, and a stroke is one pixel wide. A strip one pixel thin stays as it is."""
    side = max(colour.shape[:2])
    if side < TINY_SIDE and min(colour.shape[:2]) > 1:
        k = max(k, -(-NATIVE // side))
    if k == 1:
        return colour, alpha
    channels = [resize(colour[:, :, c], k, Image.Resampling.BICUBIC) for c in range(colour.shape[2])]
    alpha = None if alpha is None else np.clip(resize(alpha, k, Image.Resampling.BICUBIC), 0, 1)
    return np.clip(np.stack(channels, axis=2), 0, 1), alpha


def border(a: np.ndarray) -> np.ndarray:
    """The pixels of a frame 1/40 of the image wide (at least one pixel), as rows."""
    k = max(1, min(a.shape[:2]) // 40)
    rest = a.shape[2:]
    return np.concatenate([a[:k].reshape(-1, *rest), a[-k:].reshape(-1, *rest),
                           a[k:-k, :k].reshape(-1, *rest), a[k:-k, -k:].reshape(-1, *rest)])


def ink_map(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """How much each pixel differs from the paper, 0..1, whatever the colours and polarity (see ink_and_noise)."""
    return ink_and_noise(colour, alpha)[0]


@dataclass
class Photo:
    """What ink_and_noise judged of a photo or scan: its gray level, what is not the page (or None), and
    whether its ink is darker than the paper."""

    gray: np.ndarray
    outside: np.ndarray | None
    dark_ink: bool


def ink_and_noise(colour: np.ndarray, alpha: np.ndarray | None, page: bool = True) -> tuple[np.ndarray, float, Photo | None]:
    """(ink 0..1, the paper's noise as a standard deviation in the same units, the Photo judged or None).

    A transparent background makes the alpha channel the ink. A clean canvas (a border of one colour
    that is also the colour of most of the image), or flat paper that the digit reaches the edges of
    (see flat_paper), is paper of that colour, and a pixel's ink is its largest channel difference from
    it. Anything else is read as a photo or scan: its gray level is taken along its main colour axis
    (to_gray), what is not the page is set aside (off_paper: black corners left by rotating it, and when
    it may be a photo of a `page`, a desk beyond the sheet's edges), the polarity is judged from the whole
    image (a digit may touch or cross the edges), and the ink is found by photo_ink.
    """
    if alpha is not None and alpha.min() < 0.5:  # some of it is see-through: what is opaque is the drawing
        return alpha, 0.0, None
    frame = border(colour)
    if (frame == frame[0]).all() and is_majority(colour, frame[0]):  # a clean canvas: skip the statistics
        return difference(colour, frame[0]), 0.0, None
    paper = flat_paper(colour, frame)
    if paper is not None:
        return difference(colour, paper), 0.0, None
    gray = colour[:, :, 0].copy() if colour.shape[2] == 1 else to_gray(colour)
    outside = off_paper(gray, page)
    photo = Photo(gray, outside, ink_is_dark(gray, outside))
    return (*photo_ink(photo), photo)


def photo_ink(photo: Photo, flip: bool = False) -> tuple[np.ndarray, float]:
    """(ink 0..1, the paper's noise) of a photo: the gray level's distance from the paper's lighting, on the
    ink's side (the judged polarity, or the other one with `flip`), 0 off the page.
    The noise is measured on the paper's side of that distance, where strokes never are; a noisy image
    is smoothed (3x3 mean: white noise divided by 3, strokes kept) and measured again."""
    gray, outside, dark_ink = photo.gray, photo.outside, photo.dark_ink != flip
    ink = lighting(gray, dark_ink, outside)
    if dark_ink:
        ink -= gray
    else:
        np.subtract(gray, ink, out=ink)
    if outside is not None:
        ink[outside] = 0
    noise = paper_noise(ink)
    if noise > NOISY * float(ink.max()) and min(ink.shape) >= 3:
        ink = ndimage.uniform_filter(ink, 3)
        noise = paper_noise(ink)
    return np.clip(ink, 0, 1, out=ink), noise


def to_gray(colour: np.ndarray) -> np.ndarray:
    """One gray level 0..1 per pixel of an RGB photo, along the colour axis it varies most on (its first
    principal component, from a sample of about 20,000 pixels): for ink that differs from the paper mostly
    in brightness, about the mean of the channels; for green paint on a red wall, the green-red axis, where
    the mean of the channels may show no contrast at all. The axis is scaled so that no two colours differ
    by more than 1 along it (its weights' absolute values sum to 1) and points towards the brighter."""
    step = max(1, int(np.sqrt(colour.shape[0] * colour.shape[1] / 20_000)))
    sample = colour[::step, ::step].reshape(-1, colour.shape[2]).astype(np.float64)
    if len(sample) < 2:  # one pixel: no axis to find
        return colour.mean(axis=2)
    axis = np.linalg.eigh(np.cov(sample, rowvar=False) + 1e-12 * np.eye(colour.shape[2]))[1][:, -1]
    axis /= np.abs(axis).sum()
    if axis.sum() < 0:
        axis = -axis
    return (colour @ axis.astype(np.float32) + np.float32(np.maximum(-axis, 0).sum())).astype(np.float32)


def paper_noise(signed: np.ndarray) -> float:
    """The standard deviation of the paper's noise in a signed ink map (ink positive): from the negative
    values alone, which only the noise makes (a sample of about 40,000 pixels)."""
    step = max(1, int(np.sqrt(signed.size / 40_000)))
    sample = signed[::step, ::step]
    below = sample[sample < 0]
    return float(np.sqrt(np.mean(np.square(below)))) if below.size else 0.0


def grid_sample(colour: np.ndarray, n: int = 1000) -> np.ndarray:
    """About n of the image's pixels on an even grid, (rows, columns, channels)."""
    step = max(1, int(np.sqrt(colour.shape[0] * colour.shape[1] / n)))
    return colour[step // 2 :: step, step // 2 :: step]


def is_majority(colour: np.ndarray, paper: np.ndarray) -> bool:
    """Whether most of a sample of the image's pixels (a grid of about 1,000) are exactly `paper`."""
    sample = grid_sample(colour).reshape(-1, colour.shape[2])
    return 2 * int(np.count_nonzero((sample == paper).all(axis=1))) > len(sample)


def flat_paper(colour: np.ndarray, frame: np.ndarray) -> np.ndarray | None:
    """The paper's colour when the image is drawn or scanned on flat paper that the digit reaches the edges
    of (a tight crop of a drawing, a scan whose paper is pure white), or None for a photo.

    Flat paper is the image's most common exact colour (in a sample of about 1,000 pixels), when that is over
    FLAT_PAPER of the image and over half of its border, and a twentieth of each of the image's four corner ninths:
    a digit crossing the edges covers only part of the border and, however bold, leaves that much paper, in
    the corners too; a photo whose paper is blown out to white under uneven light has as common a colour,
    but only where the light is strongest, the rest of its paper shading off.
    """
    grid = grid_sample(colour)
    sample = grid.reshape(-1, colour.shape[2])
    colours, counts = np.unique(sample, axis=0, return_counts=True)
    top = int(np.argmax(counts))
    paper = colours[top]
    if counts[top] <= FLAT_PAPER * len(sample) or 2 * int(np.count_nonzero((frame == paper).all(axis=1))) <= len(frame):
        return None
    is_paper = (grid == paper).all(axis=2)
    h, w = is_paper.shape
    corners = [is_paper[rows, cols] for rows in (slice(0, -(-h // 3)), slice(h - -(-h // 3), h))
               for cols in (slice(0, -(-w // 3)), slice(w - -(-w // 3), w))]
    return paper if all(c.mean() > 0.05 for c in corners) else None


def difference(colour: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Each pixel's largest channel difference from the paper colour."""
    diff = np.abs(colour[:, :, 0] - paper[0])  # channel by channel: reductions over a last axis of 3 are slow
    if colour.shape[2] > 1:
        other = np.empty_like(diff)
        for c in range(1, colour.shape[2]):
            np.subtract(colour[:, :, c], paper[c], out=other)
            np.maximum(diff, np.abs(other, out=other), out=diff)
    return diff


def off_paper(gray: np.ndarray, page: bool = True) -> np.ndarray | None:
    """The pixels of a photo that are not the page: black corners left by rotating it, and when it may be a
    photo of a `page`, a desk beyond the sheet's edges."""
    corners, desk = rotation_corners(gray), sheet_edges(gray) if page else None
    if corners is None or desk is None:
        return desk if corners is None else corners
    return corners | desk


def rotation_corners(gray: np.ndarray, margin: float = 2.5) -> np.ndarray | None:
    """The black triangles in the corners of a photo rotated without expanding it, or None when it has none.

    A corner counts when a dark run leads along both edges from it and the triangle they span is dark
    inside and mostly light just beyond its long side (a digit stroke that reaches the corner is not a
    triangle). The mask reaches `margin` pixels past the long side, over its blurred edge.
    """
    h, w = gray.shape
    if min(h, w) < 16:
        return None
    paper = float(np.median(gray[:: max(1, h // 64), :: max(1, w // 64)]))
    if paper < 0.3:  # dark paper: black corners are not told apart from it
        return None
    dark = min(0.25, 0.5 * paper)
    outside = np.zeros((h, w), bool)
    for flip in ((slice(None), slice(None)), (slice(None), slice(None, None, -1)),
                 (slice(None, None, -1), slice(None)), (slice(None, None, -1), slice(None, None, -1))):
        view, mask = gray[flip], outside[flip]
        a, b = leading_run(view[0] < dark), leading_run(view[:, 0] < dark)  # the legs along the edges
        if a < 3 or b < 3 or a > 0.9 * w or b > 0.9 * h:
            continue
        rh, rw = min(h, int(1.5 * b) + 2), min(w, int(1.5 * a) + 2)
        ys, xs = np.mgrid[0:rh, 0:rw].astype(np.float32)
        t = xs / a + ys / b  # 1 on the long side
        region = view[:rh, :rw] < dark
        inside, beyond = region[t < 0.85], region[(t > 1.15) & (t < 1.5)]
        if inside.mean() < 0.9 or beyond.size == 0 or beyond.mean() > 0.4:
            continue
        mask[:rh, :rw] |= (t - 1) * (a * b / np.hypot(a, b)) < margin  # distance past the long side < margin
    return outside if outside.any() else None


def sheet_edges(gray: np.ndarray, margin: float = 2.5) -> np.ndarray | None:
    """What lies beyond the sheet's edges in a photo of a page on a darker desk or table, or None when no
    edge is in view.

    Along each side of the image, every column (or row) is followed in from the edge while it stays darker
    than DESK of the way from the darkest pixels to the paper. A desk along that side starts at least
    EDGE_SHARE of the columns dark, to depths on one straight line (the sheet's edge, found by repeated
    medians so that a desk along the next side does not tilt it), with paper just past it. A digit reaching the
    edge darkens a few columns; a shadow's soft edge is not paper just past the line; a stroke clipped along a
    whole side of a tight crop goes on into the digit (reaches_inside). The mask reaches `margin` pixels past
    the line and its blur.
    """
    h, w = gray.shape
    if min(h, w) < 16:
        return None
    step = max(1, min(h, w) // 128)
    sample = gray[::step, ::step]
    k = [int(q * (sample.size - 1)) for q in (0.01, 0.5)]
    low, paper = np.partition(sample.ravel(), k)[k]
    if paper < 0.3 or paper - low < 0.2:  # dark paper, or nothing much darker than it
        return None
    dark = low + DESK * (paper - low)
    outside, wider = np.zeros((h, w), bool), np.zeros((h, w), bool)
    for view, mask, reach in ((gray, outside, wider), (gray[::-1], outside[::-1], wider[::-1]),
                              (gray.T, outside.T, wider.T), (gray.T[::-1], outside.T[::-1], wider.T[::-1])):
        rows, cols = view.shape
        xs = np.arange(0, cols, max(1, cols // 128))  # about 128 columns: a long side is not slower to fit
        below = view[: rows // 2 + 1, xs] < dark  # a desk never takes more than half the picture
        depth = np.where(below.all(axis=0), rows // 2 + 1, np.argmin(below, axis=0))
        ends = (depth >= 1) & (depth <= rows // 2)  # where a dark run ends (not in a desk along the next side)
        if ends.sum() < EDGE_SHARE * len(xs):
            continue
        blur = max(2, rows // 100)
        slope, intercept = stats.siegelslopes(depth[ends], xs[ends])  # the line most ends lie on (a desk along
        near = ends & (np.abs(depth - (intercept + slope * xs)) <= 2 * blur)  # the next side, a stroke, are not)
        if near.sum() < EDGE_SHARE * len(xs):
            continue
        fit = np.polyfit(xs[near], depth[near], 1)  # the edge, from the ends on the line alone
        beyond = view[np.minimum(np.round(np.polyval(fit, xs[near])).astype(int) + blur, rows - 1), xs[near]]
        if np.median(beyond) < (dark + paper) / 2:  # not paper just past the edge: a soft shadow
            continue
        line = np.polyval(fit, np.arange(cols))[None, :] + margin + blur
        mask |= np.arange(rows)[:, None] < line
        reach |= np.arange(rows)[:, None] < line + 2 * blur
    if not outside.any() or reaches_inside(gray < dark, outside, wider):
        return None
    return outside


def reaches_inside(dark: np.ndarray, band: np.ndarray, wider: np.ndarray) -> bool:
    """Whether a dark mark in the bands along the edges goes on into the picture, past a `wider` band, by as
    many pixels as a digit has at least (MIN_INK_PIXELS, MIN_INK_SHARE): a digit's stroke clipped by a tight
    crop goes on into the digit (a 2's base, the top of a 0), as does one that meets a hard shadow; a desk
    beyond the sheet's edge stops there."""
    labels, n = ndimage.label(dark)
    touching = np.zeros(n + 1, bool)
    touching[labels[band & dark]] = True
    touching[0] = False
    beyond = np.bincount(labels[~wider], minlength=n + 1)
    return bool((beyond[touching] > max(MIN_INK_PIXELS, MIN_INK_SHARE * dark.size)).any())


def leading_run(flags: np.ndarray) -> int:
    """How many of the first flags are True in a row."""
    off = np.flatnonzero(~flags)
    return int(off[0]) if off.size else len(flags)


def ink_is_dark(gray: np.ndarray, outside: np.ndarray | None = None) -> bool:
    """Whether the ink is darker than the paper, from the whole image: the paper is most of it, so the
    median lies nearer the paper's end of the range (1st to 99th percentile) than the ink's. Dark ink,
    by far the commoner in photos and scans, wins when the median is a little past the middle, or when
    the border is mostly light (a bold digit that fills the frame is most of the image, but rarely most
    of its border)."""
    step = max(1, int(np.sqrt(gray.size / 20_000)))
    sample = gray[::step, ::step]
    if outside is not None:
        sample = sample[~outside[::step, ::step]]
    sample = sample.ravel()
    if sample.size == 0:
        return True
    k = [int(q * (sample.size - 1)) for q in (0.01, 0.5, 0.99)]
    low, median, high = np.partition(sample, k)[k]
    edge = border(gray)
    if outside is not None:
        edge = edge[~border(outside)]
    edge_median = float(np.median(edge)) if edge.size else median
    return bool(median >= low + DARK_PRIOR * (high - low) or edge_median >= (low + high) / 2)


def lighting(gray: np.ndarray, dark_ink: bool, outside: np.ndarray | None = None, degree: int = 3) -> np.ndarray:
    """The paper's brightness at each pixel: a smooth surface (a polynomial of `degree` in x and y) fitted
    to the paper alone. Pixels much darker than the fit (lighter for light ink) are left out of the next
    fit, in turn. A cubic can still bend down into a stroke that is a good part of the image (a bold digit
    filling a low-resolution scan), so a plane and a flat level are fitted too, and the one that the most
    samples lie close to is kept (best_surface): a surface that sank into the ink leaves the paper around
    it far above, one too stiff for a shadow leaves the shadowed paper far below.

    The fit works on box averages of about 64x64 (averaging, so sensor noise does not bias it); pixels
    `outside` the paper (rotation corners) are not used.
    """
    h, w = gray.shape
    step = max(1, max(h, w) // 64)
    small = box_average(gray, step)
    valid = np.ones(small.shape, bool) if outside is None else box_average(outside.astype(np.float32), step) == 0
    ys = cell_centres(h, step)
    xs = cell_centres(w, step)
    powers = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]  # x^i y^j
    vy, vx = np.meshgrid(ys, xs, indexing="ij")
    design = np.stack([(vx**i * vy**j).ravel() for i, j in powers], axis=1)
    z = (small if dark_ink else -small).ravel()  # ink below the paper either way
    valid = valid.ravel()
    if valid.sum() < 3 * len(powers):  # too little paper for a surface: its level
        coef = np.zeros(len(powers))
        coef[0] = np.median(z[valid]) if valid.any() else np.median(z)
    else:
        coef = best_surface(design[valid], z[valid], powers)
    if not dark_ink:
        coef = -coef
    by = np.stack([coef_row(coef, powers, i) for i in range(degree + 1)], axis=1)  # sum_j c_ij y^j, per power of x
    py = np.stack([pixel_coords(h) ** j for j in range(degree + 1)], axis=1) @ by  # (h, degree + 1)
    px = np.stack([pixel_coords(w) ** i for i in range(degree + 1)], axis=0)  # (degree + 1, w)
    return (py.astype(np.float32) @ px.astype(np.float32)).astype(np.float32)


def best_surface(design: np.ndarray, z: np.ndarray, powers: list) -> np.ndarray:
    """The coefficients (over all `powers`) of the cubic, plane or level through the paper among samples z
    that the most samples lie close to (within PAPER_BAND of the samples' range, 1st to 99th percentile, so
    within less on faint pencil than under a deep shadow; the highest degree on a tie). A cubic that sank into bold
    strokes leaves the paper around them far above it; a level under a shadow leaves the shadowed paper far
    below it, where it would become ink; the surface that follows the paper has most of it close by."""
    low, high = np.percentile(z, [1, 99])
    band = PAPER_BAND * float(high - low)
    fits = []
    for degree in sorted({max(i + j for i, j in powers), 1, 0}, reverse=True):
        columns = [k for k, (i, j) in enumerate(powers) if i + j <= degree]
        coef = np.zeros(len(powers))
        coef[columns] = paper_surface(design[:, columns], z)
        fits.append((int(np.count_nonzero(np.abs(z - design @ coef) <= band)), coef))
    most = max(support for support, _ in fits)
    return next(coef for support, coef in fits if support == most)


def paper_surface(design: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Coefficients of the surface through the paper among samples z (ink below the paper, any amount).

    First an asymmetric least-squares fit (samples above the surface weigh 19 times those below) finds
    the paper's upper envelope even when ink covers most samples; then plain least squares on the
    samples not much below it, repeated as they change, centres it on the paper's noise. The noise's
    spread is measured above the surface, where ink never is: soft stroke edges below it do not widen it.
    """
    weights = np.full(len(z), 0.5)
    for _ in range(10):
        coef = least_squares(design, z, weights)
        residual = z - design @ coef
        weights = np.where(residual > 0, 0.95, 0.05)
    paper = residual > -1e-3
    for _ in range(6):
        above = residual[residual > 0]  # only the paper's noise lies above it; ink is below, however much
        spread = 1.4826 * float(np.median(above)) if above.size else 0.0
        now = residual > -max(3 * spread, 0.004)  # much darker than the paper: ink
        if now.sum() < design.shape[1] or (now == paper).all():
            break
        paper = now
        coef = least_squares(design, z, paper.astype(np.float64))
        residual = z - design @ coef
    return coef


def least_squares(design: np.ndarray, z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least squares by the normal equations: a 10x10 solve, far cheaper than an SVD of the samples."""
    weighted = design.T * weights
    return np.linalg.solve(weighted @ design + 1e-9 * np.eye(design.shape[1]), weighted @ z)


def coef_row(coef: np.ndarray, powers: list, i: int) -> np.ndarray:
    """The coefficients of y^0 .. y^degree that multiply x^i."""
    out = np.zeros(max(j for _, j in powers) + 1)
    for c, (pi, pj) in zip(coef, powers):
        if pi == i:
            out[pj] = c
    return out


def pixel_coords(n: int) -> np.ndarray:
    """Pixel centres along a side of n pixels, scaled to -1..1."""
    return (np.arange(n) + 0.5) * (2 / n) - 1


def cell_centres(n: int, step: int) -> np.ndarray:
    """The centres of the boxes of `step` pixels along a side of n (the last one partial), scaled to -1..1."""
    starts = np.arange(0, n, step)
    ends = np.minimum(starts + step, n)
    return (starts + ends) / n - 1


def box_average(gray: np.ndarray, step: int) -> np.ndarray:
    """Averages over boxes of step x step pixels, partial ones at the right and bottom edges."""
    h, w = gray.shape
    whole = h // step * step
    strips = gray[:whole].reshape(h // step, step, w).sum(axis=1)  # (a reshape: np.add.reduceat is slow here)
    if whole < h:
        strips = np.concatenate([strips, gray[whole:].sum(axis=0, keepdims=True)])
    xs = np.arange(0, w, step)
    small = np.add.reduceat(strips, xs, axis=1)
    small /= np.outer(np.diff(np.arange(0, h, step), append=h), np.diff(xs, append=w)).astype(np.float32)
    return small


def otsu(values: np.ndarray, peak: float = 1.0, bins: int = 64) -> float:
    """Otsu's threshold of a 2-D array of values in 0..peak."""
    step = max(1, int(np.ceil(np.sqrt(values.size / 20_000))))  # a sample of <= 20k pixels does as well
    sample = values[::step, ::step]
    hist = np.bincount(np.minimum((sample * (bins / peak)).astype(np.int32), bins - 1).ravel(), minlength=bins)
    p = hist / max(hist.sum(), 1)
    levels = np.arange(bins) / bins
    w0, mu = np.cumsum(p), np.cumsum(p * levels)
    between = (mu[-1] * w0 - mu) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    return float(np.argmax(between) + 1) / bins * peak


def contrast_threshold(ink: np.ndarray, noise: float = 0.0) -> float | None:
    """The level above which a pixel is ink, adapted to the image, or None when nothing stands out.

    Otsu's threshold, but never under MIN_CONTRAST, NOISE_SIGMAS times the paper's noise, nor
    RELATIVE_CONTRAST times the strongest ink: faint pencil on clean paper reads, noise alone does not.
    """
    peak = float(ink.max()) if ink.size else 0.0
    least = max(MIN_CONTRAST, NOISE_SIGMAS * noise)
    if not peak >= least:  # also NaN
        return None
    return max(otsu(ink, peak), least, RELATIVE_CONTRAST * peak)


def without_lines(ink: np.ndarray, floor: float, clean: bool = False) -> np.ndarray:
    """The ink with long straight lines that are not part of the digit removed: a box around it, a ruled
    line under or through it, the walls of a form's cell.

    Lines are looked for on a grid of at most 128 cells a side: rows (or columns) with a run of ink over
    half the image long, a slight tilt allowed. A line whose both ends meet perpendicular lines is a side
    of a box, and goes. Another line goes when the rest of the ink is a good part of it (not a 1's flag),
    lies within the line's span, and touches it only away from its ends (a 7's bar, a 4's bar, a 1's
    stem meet other strokes near an end, and stay); the rest leaves out longer parallel lines and lines
    that meet its ends. Where a stroke crosses a removed line, the crossing is kept. On a `clean` canvas
    (a drawing) lines are looked for only when ink in a few rows (or columns) covers CLEAN_LINE of the
    side (a box or a line drawn across it, seldom a digit's stroke): drawings stay fast.
    """
    h, w = ink.shape
    r = max(1, -(-max(h, w) // 128))
    mask = ink > floor
    if clean and not (may_hold_line(mask, 2 * TILT + 1, CLEAN_LINE) or may_hold_line(mask.T, 2 * TILT + 1, CLEAN_LINE)):
        return ink  # most drawings
    small = block_any(mask, r)
    found = [(0,) + line for line in straight_lines(small)] + [(1,) + line for line in straight_lines(small.T)]
    if not found:
        return ink
    found.sort(key=lambda c: c[4] - c[3], reverse=True)
    removed = np.zeros(small.shape, bool)
    total = int(small.sum())
    for c in found:
        band = line_band(c, small.shape)
        axis, _, _, start, end = c
        ends_met = [any(meets(other, c, at) for other in found) for at in (start, end - 1)]
        if all(ends_met):  # a side of a box
            removed |= band & ~crossings(c, small)
            continue
        rest = small & ~removed & ~band
        for other in found:
            if other is not c and (parallel_and_longer(other, c) or meets(other, c, start) or meets(other, c, end - 1)):
                rest &= ~line_band(other, small.shape)
        if rest.sum() < max(4, 0.2 * total):
            continue  # the line is most of the digit
        along = np.flatnonzero(rest.any(axis=axis))
        touch = touching(c, rest)
        length = end - start
        if (along[0] >= start + max(1, 0.05 * length) and along[-1] <= end - 1 - max(1, 0.05 * length)
                and not ((touch < start + 0.2 * length) | (touch > end - 1 - 0.2 * length)).any()):
            removed |= band & ~crossings(c, small)
    if not removed.any():
        return ink
    full = removed.repeat(r, axis=0).repeat(r, axis=1)[:h, :w]
    return np.where(full, 0, ink).astype(ink.dtype, copy=False)


def may_hold_line(mask: np.ndarray, band: int, share: float) -> bool:
    """Whether in some band of `band` rows, ink covers `share` of the columns: a cheap test before looking."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0 or cols[-1] - cols[0] + 1 < share * mask.shape[1]:  # the ink is not that wide at all
        return False
    tall = mask.copy()
    for k in range(1, min(band, mask.shape[0])):
        tall[:-k] |= mask[k:]
    return bool(np.count_nonzero(tall, axis=1).max(initial=0) >= share * mask.shape[1])


def block_any(mask: np.ndarray, r: int) -> np.ndarray:
    """Whether any pixel is set in each r x r block (partial blocks at the right and bottom)."""
    if r == 1:
        return mask
    h, w = mask.shape
    padded = np.zeros((-(-h // r) * r, -(-w // r) * r), bool)
    padded[:h, :w] = mask
    return padded.reshape(padded.shape[0] // r, r, padded.shape[1] // r, r).any(axis=3).any(axis=1)


TILT = 2  # cells above and below a row that count as the same row: lines tilted a few degrees are found
THIN = 0.1  # a line is at most this share of its length thick
CLEAN_LINE = 0.85  # on a clean canvas, lines are looked for when a row or column has this share of its pixels in ink


def straight_lines(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Horizontal lines as (first row, last row, first column, last column + 1): rows whose longest run
    of set cells (a row counting those TILT above and below) is at least half the width, grouped when
    adjacent, and thin for their length. The rows found reach TILT past the line."""
    h, w = mask.shape
    if w < 8:
        return []
    tall = mask.copy()
    for k in range(1, TILT + 1):
        tall[k:] |= mask[:-k]
        tall[:-k] |= mask[k:]
    edges = np.diff(np.pad(tall, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    (rows, starts), (_, ends) = np.nonzero(edges == 1), np.nonzero(edges == -1)
    long = ends - starts >= w / 2
    rows, starts, ends = rows[long], starts[long], ends[long]
    lines = []
    for group in np.split(np.arange(len(rows)), np.flatnonzero(np.diff(rows) > 1) + 1):
        if group.size:
            lo, hi = int(rows[group[0]]), int(rows[group[-1]])  # TILT rows either side of the line, the tilt
            start, end = int(starts[group].min()), int(ends[group].max())
            thickness = np.median(mask[lo : hi + 1, start:end].sum(axis=0))  # ink across the band, column by column
            if thickness <= THIN * (end - start):  # a thick stroke is not a ruled line
                lines.append((lo, hi, start, end))
    return lines


def line_band(line, shape) -> np.ndarray:
    axis, lo, hi, start, end = line
    band = np.zeros(shape, bool)
    if axis == 0:
        band[lo : hi + 1, start:end] = True
    else:
        band[start:end, lo : hi + 1] = True
    return band


def parallel_and_longer(other, line) -> bool:
    return other[0] == line[0] and other[4] - other[3] >= 0.9 * (line[4] - line[3])


def meets(other, line, at: int) -> bool:
    """Whether a perpendicular line crosses `line` near its position `at` (one of its ends: a box's corner)."""
    if other[0] == line[0]:
        return False
    _, lo, hi, start, end = line
    _, olo, ohi, ostart, oend = other
    near = 0.1 * (end - start) + 1
    return ostart <= hi + 1 and oend >= lo - 1 and olo - near <= at <= ohi + near


def touching(line, rest: np.ndarray) -> np.ndarray:
    """Where along the line the rest of the ink touches its band (the positions of set cells just above
    and just below it)."""
    axis, lo, hi, start, end = line
    m = rest if axis == 0 else rest.T
    near = np.zeros(end - start, bool)
    for row in (lo - 1, hi + 1):
        if 0 <= row < m.shape[0]:
            near |= m[row, start:end]
    return start + np.flatnonzero(near)


def crossings(line, mask: np.ndarray) -> np.ndarray:
    """The cells of the line's band where a stroke crosses it: set just above and just below the band, up to
    the band's height apart along it (a slanting stroke)."""
    axis, lo, hi, start, end = line
    m = mask if axis == 0 else mask.T
    keep = np.zeros(m.shape, bool)
    if lo > 0 and hi + 1 < m.shape[0]:
        reach = hi - lo + 1  # a stroke crossing at 45 degrees moves this far along the line across the band
        above = ndimage.binary_dilation(m[lo - 1, start:end], np.ones(2 * reach + 1, bool))
        below = ndimage.binary_dilation(m[hi + 1, start:end], np.ones(2 * reach + 1, bool))
        keep[lo : hi + 1, start:end] = (above & below)[None, :]
    return keep if axis == 0 else keep.T


def isolate_digit(ink: np.ndarray, threshold: float | None = None, noisy: bool = False,
                  speck: float = SPECK) -> tuple[np.ndarray | None, str]:
    """The cropped ink of the largest mark and the strokes that belong to it; specks and other marks removed.

    Returns (soft ink 0..1 cropped to the digit, remark) or (None, reason) when there is nothing to read.
    Pixels over `threshold` are ink (found by contrast_threshold when not given). Marks under MIN_PART of
    the largest one's pixels (specks, a photo's noise) are left out: they neither join the digit nor
    stretch its box. A digit of fewer than `speck` pixels is only a speck (SPECK pixels of the image as
    given: preprocess scales it by the enlargement of a tiny image). On `noisy` paper the digit must also
    have MIN_INK_SHARE of the image's pixels over the threshold: what noise and paper texture raise over it
    comes in small patches.
    """
    if threshold is None:
        threshold = contrast_threshold(ink)
        if threshold is None:
            return None, "nothing to read: the image is blank"
    peak = float(ink.max())
    floor = 0.5 * threshold  # fainter than this is paper; between floor and threshold, anti-aliased edges
    mask = ink > floor
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None, "nothing to read: the image is blank"
    area = ink.size
    box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
    ink, mask = ink[box], mask[box]  # the same marks inside the ink's box: fewer pixels to label on a canvas
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 1:  # one stroke, or strokes that all touch: the box is the ink's
        slices, mass, ids = [(slice(0, mask.shape[0]), slice(0, mask.shape[1]))], np.array([np.count_nonzero(mask)]), np.zeros(1, int)
    elif n <= 16:  # a drawing: count each mark's pixels inside its own box, cheaper than a pass over the image
        slices = ndimage.find_objects(labels)
        mass = np.array([np.count_nonzero(labels[b] == i) for i, b in enumerate(slices, start=1)])
        ids = np.flatnonzero(mass >= MIN_PART * mass.max())
        slices = [slices[i] for i in ids]
    else:  # a noisy photo: one pass for the masses, one for the boxes of the marks that count
        mass = np.bincount(labels.ravel(), minlength=n + 1)[1:]
        ids = np.flatnonzero(mass >= MIN_PART * mass.max())
        if len(ids) <= 4:  # usually the digit alone: its box from one comparison
            slices = [bounding_box(labels == i + 1) for i in ids]
        else:
            relabel = np.zeros(n + 1, np.int32)
            relabel[ids + 1] = np.arange(1, len(ids) + 1)
            slices = ndimage.find_objects(relabel[labels], max_label=len(ids))
    mass = mass[ids]
    y0s, y1s, x0s, x1s = (np.array([getattr(b[axis], end) for b in slices]) for axis, end in
                          ((0, "start"), (0, "stop"), (1, "start"), (1, "stop")))
    main = int(np.argmax(mass))
    keep = np.zeros(len(ids), bool)
    keep[main] = True
    y0, y1, x0, x1 = y0s[main], y1s[main], x0s[main], x1s[main]
    while True:  # grow the digit by the strokes that overlap it sideways and sit close above or below
        height, pad = y1 - y0, 0.1 * max(y1 - y0, x1 - x0)
        near = ~keep & (x0s < x1 + pad) & (x1s > x0 - pad) & (y0s < y1 + 0.5 * height) & (y1s > y0 - 0.5 * height)
        if not near.any():
            break
        keep |= near
        y0, y1, x0, x1 = min(y0, y0s[near].min()), max(y1, y1s[near].max()), min(x0, x0s[near].min()), max(x1, x1s[near].max())
    others = int(np.count_nonzero(~keep & (mass >= 0.15 * mass[main])))
    if mass[keep].sum() < speck:
        return None, "nothing to read: only a speck"
    wanted = np.zeros(n + 1, bool)
    wanted[ids[keep] + 1] = True
    if noisy and np.count_nonzero((ink[y0:y1, x0:x1] > threshold) & wanted[labels[y0:y1, x0:x1]]) < max(
            MIN_INK_PIXELS, MIN_INK_SHARE * area):
        return None, "nothing to read: only faint patches in the paper's grain"
    digit = np.clip((ink[y0:y1, x0:x1] - floor) / max(peak - floor, 1e-6), 0, 1) * wanted[labels[y0:y1, x0:x1]]
    if not digit.any():
        return None, "nothing to read: the marks are too faint"
    return digit, SEVERAL_MARKS if others else ""


def bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def to_working_size(ink: np.ndarray, side: int = WORK) -> np.ndarray:
    """Bring the cropped digit to a longer side of at most `side` (shrunk); one under half of it is enlarged
    to `side` (a digit a few pixels tall, as in a low-resolution scan, has too few pixels to measure its
    strokes by). Then scale its typical stroke to 1.

    Renormalizing by the strokes' brightness (not the brightest pixel, which is often where strokes
    cross) keeps hair-thin strokes, which shrinking turns faint, as bright as thick ones.
    """
    if max(ink.shape) > side:
        ink = resize(ink, side / max(ink.shape), Image.Resampling.BOX)  # area averaging: cheap, no ringing
    elif max(ink.shape) < side // 2:
        ink = resize(ink, side / max(ink.shape), Image.Resampling.BICUBIC)
    strokes = ink[ink > 0.1 * ink.max()]
    if strokes.size == 0:  # no ink left (NaN-free callers never get here): fit_box says so
        return ink
    k = int(0.75 * (strokes.size - 1))
    typical = float(np.partition(strokes, k)[k])  # the 75th percentile, without np.percentile's overhead
    return np.minimum(ink / max(typical, 1e-6), 1.0)


def resize(ink: np.ndarray, scale: float, method=Image.Resampling.LANCZOS) -> np.ndarray:
    """Anti-aliased resize of a float image by `scale`, keeping the aspect ratio."""
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    return np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, method)).clip(0, None)


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: across a stroke the distance to the edge averages a quarter of it."""
    if not mask.any():
        return 0.0
    return float(4 * ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1][mask].mean())


def even_strokes(ink: np.ndarray, width: float) -> np.ndarray:
    """Thicken hair-thin strokes and thin very fat ones so that, once fitted into 20x20, they look like MNIST's.

    Thinning never erodes a stroke to nothing: the radius stays under half the stroke's own width (a
    pixel's distance to the edge is at least 1, so `width` reads at least 4 even for a 1-pixel line),
    and a mark that the erosion would empty all the same is kept as it was.
    """
    scale = BOX / max(ink.shape)
    width_in_box = width * scale
    if width_in_box < STROKE_MIN:
        radius = int(np.ceil((STROKE_THIN_TO - width_in_box) / scale / 2))
        return ndimage.grey_dilation(np.pad(ink, radius), footprint=disk(radius))
    if width_in_box > STROKE_MAX:
        radius = min(int((width_in_box - STROKE_MAX) / scale / 2), int(np.ceil(width / 2 - 1)) - 1)
        if radius < 1:
            return ink
        thinned = ndimage.grey_erosion(ink, footprint=disk(radius))
        marks, n = ndimage.label(ink > INK_MIN, structure=np.ones((3, 3)))
        survived = np.zeros(n + 1, bool)
        survived[marks[thinned > INK_MIN]] = True
        survived[0] = True
        return np.where(survived[marks], thinned, ink)  # marks the erosion emptied stay whole
    return ink


def disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius + radius


def fit_box(ink: np.ndarray, box: int = BOX) -> np.ndarray | None:
    """Crop to the ink, scale so the longer side is `box` pixels keeping the aspect ratio, peak at 1.

    None when no pixel is ink (over INK_MIN).
    """
    rows, cols = np.flatnonzero(ink.max(axis=1) > INK_MIN), np.flatnonzero(ink.max(axis=0) > INK_MIN)
    if rows.size == 0 or cols.size == 0:
        return None
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    resized = resize(ink, box / max(ink.shape))
    return resized / max(float(resized.max()), 1e-6)


def center_by_mass(patch: np.ndarray, side: int = SIDE) -> np.ndarray:
    """Place the patch in a side x side image so that its centre of mass is at the centre.

    The centre is (side - 1) / 2 in pixel indices (13.5 for 28), reached to the nearest whole pixel,
    so within half a pixel; a patch that fits is moved no further than keeps all of it inside.
    """
    total = patch.sum()
    cy = (patch.sum(axis=1) @ np.arange(patch.shape[0])) / total
    cx = (patch.sum(axis=0) @ np.arange(patch.shape[1])) / total
    top, left = int(round((side - 1) / 2 - cy)), int(round((side - 1) / 2 - cx))
    h, w = patch.shape
    if h <= side:
        top = min(max(top, 0), side - h)
    if w <= side:
        left = min(max(left, 0), side - w)
    big = np.zeros((side + 2 * h, side + 2 * w), np.float32)
    big[h + top : 2 * h + top, w + left : 2 * w + left] = patch
    return big[h : h + side, w : w + side]


def strokes(ink: np.ndarray, noise: float, speck: float = SPECK) -> tuple[np.ndarray | None, str]:
    """The digit's cropped soft ink from an ink map (see isolate_digit), or None and why there is none."""
    threshold = contrast_threshold(ink, noise)
    if threshold is None:
        return None, "nothing to read: the image is blank"
    return isolate_digit(without_lines(ink, 0.5 * threshold, clean=noise == 0), threshold, noisy=noise > 0, speck=speck)


def preprocess(image) -> Digit:
    """One image of any kind -> the 28x28 MNIST-like input, or the reason there is nothing to read."""
    colour, alpha = to_array(image)
    if colour.size == 0:
        return Digit(None, "nothing to read: the canvas is empty")
    rows = colour.shape[0]
    colour, alpha, k = native_pixels(colour, alpha)
    page = min(colour.shape[:2]) >= PAGE_SIDE
    colour, alpha = enlarge(colour, alpha, k)
    speck = SPECK * (colour.shape[0] / rows) ** 2  # a speck of the image as given, however enlarged
    ink, noise, photo = ink_and_noise(colour, alpha, page)
    digit, remark = strokes(ink, noise, speck)
    if digit is None and photo is not None:  # the polarity was judged, and a wrong one leaves no ink standing out
        other, other_remark = strokes(*photo_ink(photo, flip=True), speck)  # (light paint on a wall)
        if other is not None:
            digit, remark = other, other_remark
    if digit is None:
        return Digit(None, remark)
    work = to_working_size(digit)
    width = stroke_width(work > 0.5)
    if max(work.shape) < 2 * width:  # a dot is about 1.5 of its own "stroke widths" across
        return Digit(None, "nothing to read: only a dot")
    patch = fit_box(even_strokes(work, width))
    if patch is None:
        return Digit(None, "nothing to read: the mark is too faint")
    return Digit(np.clip(center_by_mass(patch), 0, 1).astype(np.float32), remark)
