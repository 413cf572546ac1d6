"""Turn what people draw or photograph into what MNIST looks like: one step per function.

Image in (PIL, numpy, or a Gradio Sketchpad dict) -> ink map (white on black, 0..1) -> the digit's
strokes without far-away specks -> cropped, stroke width evened out, fitted into 20x20 keeping the
aspect ratio -> placed in 28x28 with its centre of mass in the middle.
"""
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

MAX_SIDE = 2048  # larger inputs are shrunk first: the digit survives, the work stays bounded
MIN_CONTRAST = 0.15  # ink must differ from the background by this much (0..1) to count
BOX, SIDE = 20, 28  # MNIST fits each digit in a 20x20 box inside a 28x28 image
WORK = 64  # the cropped digit is evened out at this size (pixels, longer side) before the final fit
STROKE_MIN, STROKE_MAX = 2.2, 4.5  # stroke widths (pixels of the 20x20 box) outside which strokes are evened out
STROKE_THIN_TO = 2.6  # what too-thin strokes are thickened to: a typical MNIST stroke
INK_MIN = 0.05  # in the evened-out digit, fainter than this is background
MIN_PART = 0.02  # marks with fewer pixels than this share of the largest mark's are specks or noise


class ImageError(ValueError):
    """An input that cannot be read as an image; the message says why in words a user understands."""


@dataclass
class Digit:
    """The 28x28 input (0..1, white ink on black) made from one image, or None with the reason."""

    pixels: np.ndarray | None
    message: str = ""  # why nothing was read, or a remark such as "several marks found: read the largest"


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


def border(a: np.ndarray) -> np.ndarray:
    """The pixels of a frame 1/40 of the image wide (at least one pixel), as rows."""
    k = max(1, min(a.shape[:2]) // 40)
    rest = a.shape[2:]
    return np.concatenate([a[:k].reshape(-1, *rest), a[-k:].reshape(-1, *rest),
                           a[k:-k, :k].reshape(-1, *rest), a[k:-k, -k:].reshape(-1, *rest)])


def ink_map(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """How much each pixel differs from the paper, 0..1, whatever the colours and polarity.

    A transparent background makes the alpha channel the ink. Otherwise the paper colour is the
    median of the border, and a pixel's ink is its largest channel difference from it; an unevenly
    lit photo (a border that is not one colour) gets its lighting estimated and removed first.
    """
    if alpha is not None and alpha.min() < 0.5:  # some of it is see-through: what is opaque is the drawing
        return alpha
    frame = border(colour)
    uniform = bool((frame == frame[0]).all())  # a clean canvas: skip the statistics
    frame = frame[:: max(1, len(frame) // 20_000)]  # a sample of the border does as well for its statistics
    paper = frame[0] if uniform else np.median(frame, axis=0)
    if not uniform and np.percentile(np.abs(frame - paper).max(axis=1), 90) > MIN_CONTRAST:  # uneven light
        channels = colour.shape[2]
        gray = colour[:, :, 0] if channels == 1 else colour @ np.full(channels, 1 / channels, np.float32)
        dark_ink = paper.mean() > 0.5
        diff = lighting(gray, dark_ink)
        diff -= gray
        return np.clip(diff if dark_ink else np.negative(diff, out=diff), 0, 1, out=diff)
    diff = np.abs(colour[:, :, 0] - paper[0])  # channel by channel: reductions over a last axis of 3 are slow
    if colour.shape[2] > 1:
        other = np.empty_like(diff)
        for c in range(1, colour.shape[2]):
            np.subtract(colour[:, :, c], paper[c], out=other)
            np.maximum(diff, np.abs(other, out=other), out=diff)
    return diff


def lighting(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """The paper's brightness at each pixel: strokes narrower than 1/8 of the image removed by a closing.

    Works on box averages of about 64x64 (averaging, not sampling, so sensor noise does not bias the
    closing upwards), then interpolates back to full size (bilinear, pixel centres aligned).
    """
    h, w = gray.shape
    step = max(1, max(h, w) // 64)
    whole = h // step * step  # boxes of step x step, partial ones at the edges
    strips = gray[:whole].reshape(h // step, step, w).sum(axis=1)  # (a reshape: np.add.reduceat is slow here)
    if whole < h:
        strips = np.concatenate([strips, gray[whole:].sum(axis=0, keepdims=True)])
    xs = np.arange(0, w, step)
    small = np.add.reduceat(strips, xs, axis=1)
    small /= np.outer(np.diff(np.arange(0, h, step), append=h), np.diff(xs, append=w)).astype(np.float32)
    op = ndimage.grey_closing if dark_ink else ndimage.grey_opening
    pad = 4 + 2  # the reach of the two filters; mirrored about the edge values, a linear slope stays linear
    padded = np.pad(small, pad, mode="reflect", reflect_type="odd")
    paper = ndimage.uniform_filter(op(padded, size=9), size=5)[pad:-pad, pad:-pad]
    iy, ty = interpolation(h, paper.shape[0])
    ix, tx = interpolation(w, paper.shape[1])
    paper = np.pad(paper, ((0, 1), (0, 1)), mode="edge")  # a neighbour for a single row or column of samples
    rows = paper[:, ix] * (1 - tx) + paper[:, ix + 1] * tx
    out = rows[iy]
    out *= (1 - ty)[:, None]
    out += rows[iy + 1] * ty[:, None]
    return out


def interpolation(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """For n pixels drawn from m samples (centres aligned): the left sample of each and its weight.

    Beyond the first and last sample centres the line through the two nearest samples is followed, so
    a linear slope comes back exact up to the image's edges.
    """
    if m == 1:
        return np.zeros(n, np.int32), np.zeros(n, np.float32)
    x = (np.arange(n, dtype=np.float32) + 0.5) * (m / n) - 0.5
    i = np.clip(np.floor(x), 0, m - 2).astype(np.int32)
    return i, (x - i).astype(np.float32)


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


def isolate_digit(ink: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The cropped ink of the largest mark and the strokes that belong to it; specks and other marks removed.

    Returns (soft ink 0..1 cropped to the digit, remark) or (None, reason) when there is nothing to read.
    Marks under MIN_PART of the largest one's pixels (specks, a photo's noise) are left out: they
    neither join the digit nor stretch its box.
    """
    peak = float(ink.max()) if ink.size else 0.0
    if not peak >= MIN_CONTRAST:  # also NaN
        return None, "nothing to read: the image is blank"
    threshold = max(otsu(ink, peak), MIN_CONTRAST)
    floor = 0.5 * threshold  # fainter than this is paper; between floor and threshold, anti-aliased edges
    labels, n = ndimage.label(ink > floor, structure=np.ones((3, 3)))
    if n == 0:
        return None, "nothing to read: the image is blank"
    if n <= 16:  # a drawing: count each mark's pixels inside its own box, cheaper than a pass over the image
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
    if mass[keep].sum() < 4:
        return None, "nothing to read: only a speck"
    wanted = np.zeros(n + 1, bool)
    wanted[ids[keep] + 1] = True
    digit = np.clip((ink[y0:y1, x0:x1] - floor) / max(peak - floor, 1e-6), 0, 1) * wanted[labels[y0:y1, x0:x1]]
    if not digit.any():
        return None, "nothing to read: the marks are too faint"
    return digit, "several marks found: read the largest" if others else ""


def bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def to_working_size(ink: np.ndarray, side: int = WORK) -> np.ndarray:
    """Shrink the cropped digit so its longer side is at most `side`, then scale its typical stroke to 1.

    Renormalizing by the strokes' brightness (not the brightest pixel, which is often where strokes
    cross) keeps hair-thin strokes, which shrinking turns faint, as bright as thick ones.
    """
    if max(ink.shape) > side:
        ink = resize(ink, side / max(ink.shape), Image.Resampling.BOX)  # area averaging: cheap, no ringing
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


def preprocess(image) -> Digit:
    """One image of any kind -> the 28x28 MNIST-like input, or the reason there is nothing to read."""
    colour, alpha = to_array(image)
    if colour.size == 0:
        return Digit(None, "nothing to read: the canvas is empty")
    digit, remark = isolate_digit(ink_map(colour, alpha))
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
