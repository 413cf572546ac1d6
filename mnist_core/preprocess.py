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
    image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
    if image.mode.startswith("I"):  # 16/32-bit gray
        image = image.convert("I")
    elif image.mode == "P" and "transparency" in image.info or image.mode in ("LA", "PA", "La"):
        image = image.convert("RGBA")
    elif image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGB")  # CMYK, YCbCr, palette, 1-bit
    factor = -(-max(image.size) // MAX_SIDE)
    if factor > 1:  # shrink before going to float, so huge images cost bounded memory
        image = image.reduce(factor)
    a = np.asarray(image)
    if image.mode == "I":
        a = a.astype(np.float32) / (65535.0 if a.max() > 255 else 255.0)
    return numpy_to_array(a)


def numpy_to_array(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or 0 in a.shape:
        raise ImageError(f"expected a gray, RGB or RGBA image, got an array of shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float32) * np.float32(1 / (65535.0 if a.max() > 255 else 255.0))
    else:
        a = np.nan_to_num(a.astype(np.float32)).clip(0, None)
        a = a / 255.0 if a.max() > 1.0 else a
    a = shrink(a)
    if a.shape[2] in (2, 4):  # gray+alpha or RGBA
        return a[:, :, :-1], a[:, :, -1]
    return a, None


def shrink(a: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Downscale by an integer factor so no side exceeds max_side (box average keeps thin strokes visible)."""
    factor = -(-max(a.shape[:2]) // max_side)
    if factor <= 1:
        return a
    h, w = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
    return a[:h, :w].reshape(h // factor, factor, w // factor, factor, a.shape[2]).mean(axis=(1, 3))


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
    paper = frame[0] if uniform else np.median(frame, axis=0)
    diff = np.abs(colour - paper)
    diff = diff[:, :, 0] if diff.shape[2] == 1 else diff.max(axis=2)
    if not uniform and np.percentile(border(diff), 90) > MIN_CONTRAST:
        gray = colour.mean(axis=2)
        dark_ink = paper.mean() > 0.5
        diff = gray - lighting(gray, dark_ink)
        diff = np.clip(-diff if dark_ink else diff, 0, 1)
    return diff


def lighting(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """The paper's brightness at each pixel: strokes narrower than 1/8 of the image removed by a closing."""
    step = max(1, max(gray.shape) // 64)
    small = gray[::step, ::step]
    op = ndimage.grey_closing if dark_ink else ndimage.grey_opening
    paper = ndimage.uniform_filter(op(small, size=9), size=5)
    zoom = (gray.shape[0] / small.shape[0], gray.shape[1] / small.shape[1])
    return ndimage.zoom(paper, zoom, order=1, grid_mode=True, mode="nearest")[: gray.shape[0], : gray.shape[1]]


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
    """
    peak = float(ink.max()) if ink.size else 0.0
    if peak < MIN_CONTRAST:
        return None, "nothing to read: the image is blank"
    threshold = max(otsu(ink, peak), MIN_CONTRAST)
    floor = 0.5 * threshold  # fainter than this is paper; between floor and threshold, anti-aliased edges
    labels, n = ndimage.label(ink > floor, structure=np.ones((3, 3)))
    slices = ndimage.find_objects(labels)
    boxes = [(b[0].start, b[0].stop, b[1].start, b[1].stop) for b in slices]
    if n <= 16:  # a drawing: count each mark's pixels inside its own box, cheaper than a pass over the image
        mass = np.array([np.count_nonzero(labels[b] == i) for i, b in enumerate(slices, start=1)])
    else:  # a noisy photo
        mass = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    order = list(np.argsort(-mass))
    main = order[0]
    y0, y1, x0, x1 = boxes[main]
    keep = {main}
    changed = True
    while changed:  # grow the digit by the strokes that overlap it sideways and sit close above or below
        changed = False
        for i in order:
            a, b, c, d = boxes[i]
            height, pad = y1 - y0, 0.1 * max(y1 - y0, x1 - x0)
            if i not in keep and c < x1 + pad and d > x0 - pad and a < y1 + 0.5 * height and b > y0 - 0.5 * height:
                keep.add(i)
                y0, y1, x0, x1 = min(y0, a), max(y1, b), min(x0, c), max(x1, d)
                changed = True
    others = sum(1 for i in order if i not in keep and mass[i] >= 0.15 * mass[main])
    if mass[list(keep)].sum() < 4:
        return None, "nothing to read: only a speck"
    wanted = np.zeros(n + 1, bool)
    wanted[np.array(sorted(keep)) + 1] = True
    digit = np.clip((ink[y0:y1, x0:x1] - floor) / max(peak - floor, 1e-6), 0, 1) * wanted[labels[y0:y1, x0:x1]]
    return digit, "several marks found: read the largest" if others else ""


def to_working_size(ink: np.ndarray, side: int = WORK) -> np.ndarray:
    """Shrink the cropped digit so its longer side is at most `side`, then scale its typical stroke to 1.

    Renormalizing by the strokes' brightness (not the brightest pixel, which is often where strokes
    cross) keeps hair-thin strokes, which shrinking turns faint, as bright as thick ones.
    """
    if max(ink.shape) > side:
        ink = resize(ink, side / max(ink.shape), Image.Resampling.BOX)  # area averaging: cheap, no ringing
    strokes = ink[ink > 0.1 * ink.max()]
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
    """Thicken hair-thin strokes and thin very fat ones so that, once fitted into 20x20, they look like MNIST's."""
    scale = BOX / max(ink.shape)
    width_in_box = width * scale
    if width_in_box < STROKE_MIN:
        radius = int(np.ceil((STROKE_THIN_TO - width_in_box) / scale / 2))
        return ndimage.grey_dilation(np.pad(ink, radius), footprint=disk(radius))
    if width_in_box > STROKE_MAX:
        radius = int((width_in_box - STROKE_MAX) / scale / 2)
        return ndimage.grey_erosion(ink, footprint=disk(radius)) if radius else ink
    return ink


def disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius + radius


def fit_box(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Crop to the ink, scale so the longer side is `box` pixels keeping the aspect ratio, peak at 1."""
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.05), np.flatnonzero(ink.max(axis=0) > 0.05)
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    resized = resize(ink, box / max(ink.shape))
    return resized / max(float(resized.max()), 1e-6)


def center_by_mass(patch: np.ndarray, side: int = SIDE) -> np.ndarray:
    """Place the patch in a side x side image so that its centre of mass is at the centre."""
    total = patch.sum()
    cy = (patch.sum(axis=1) @ np.arange(patch.shape[0])) / total
    cx = (patch.sum(axis=0) @ np.arange(patch.shape[1])) / total
    top, left = int(round(side / 2 - cy - 0.5)), int(round(side / 2 - cx - 0.5))
    h, w = patch.shape
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
    return Digit(np.clip(center_by_mass(patch), 0, 1).astype(np.float32), remark)
