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
STROKE_MIN, STROKE_MAX = 2.2, 6.0  # stroke widths (pixels of the 20x20 box) outside which strokes are evened out
STROKE_THIN_TO = 2.6  # what too-thin strokes are thickened to: a typical MNIST stroke


class ImageError(ValueError):
    """An input that cannot be read as an image; the message says why in words a user understands."""


@dataclass
class Digit:
    """The 28x28 input (0..1, white ink on black) made from one image, or None with the reason."""

    pixels: np.ndarray | None
    message: str = ""  # why nothing was read, or a remark such as "several marks: read the largest"


def to_array(image) -> np.ndarray:
    """Float32 (H, W, 4) RGBA in 0..1 from a PIL image, a numpy array or a Sketchpad dict.

    A Sketchpad dict gives its composite; an untouched canvas (composite None) gives an empty array.
    """
    if isinstance(image, dict):
        image = image.get("composite")
        if image is None:
            return np.zeros((0, 0, 4), np.float32)
    if isinstance(image, Image.Image):
        return pil_to_array(image)
    if isinstance(image, np.ndarray):
        return numpy_to_array(image)
    raise ImageError(f"expected an image (PIL, numpy array or Sketchpad value), got {type(image).__name__}")


def pil_to_array(image: Image.Image) -> np.ndarray:
    image = ImageOps.exif_transpose(image)  # phone photos carry their rotation in EXIF
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16/32-bit gray
        gray = np.asarray(image, np.float32)
        peak = 65535.0 if gray.max() > 255 else 255.0
        return numpy_to_array(gray / peak)
    if image.mode == "P" and "transparency" in image.info or image.mode in ("LA", "PA", "La"):
        image = image.convert("RGBA")
    elif image.mode != "RGBA":
        image = image.convert("RGB")  # CMYK, YCbCr, palette, 1-bit, gray
    return numpy_to_array(np.asarray(image))


def numpy_to_array(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
        raise ImageError(f"expected a gray, RGB or RGBA image, got an array of shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.float32)
    elif np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float32) / (65535.0 if a.max() > 255 else 255.0)
    else:
        a = np.nan_to_num(a.astype(np.float32)).clip(0, None)
        a = a / 255.0 if a.max() > 1.0 else a
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 3:
        a = np.concatenate([a, np.ones_like(a[:, :, :1])], axis=2)
    return a


def shrink(rgba: np.ndarray, max_side: int = MAX_SIDE) -> np.ndarray:
    """Downscale by an integer factor so no side exceeds max_side (box average keeps thin strokes visible)."""
    factor = -(-max(rgba.shape[:2]) // max_side)
    if factor <= 1:
        return rgba
    h, w = (rgba.shape[0] // factor) * factor, (rgba.shape[1] // factor) * factor
    return rgba[:h, :w].reshape(h // factor, factor, w // factor, factor, 4).mean(axis=(1, 3))


def border(a: np.ndarray) -> np.ndarray:
    """The pixels of a frame 1/20 of the image wide (at least one pixel)."""
    k = max(1, min(a.shape[:2]) // 20)
    return np.concatenate([a[:k].reshape(-1, *a.shape[2:]), a[-k:].reshape(-1, *a.shape[2:]),
                           a[:, :k].reshape(-1, *a.shape[2:]), a[:, -k:].reshape(-1, *a.shape[2:])])


def ink_map(rgba: np.ndarray) -> np.ndarray:
    """How much each pixel differs from the paper, 0..1, whatever the colours and polarity.

    A transparent background makes the alpha channel the ink. Otherwise the paper colour is the
    median of the border, and a pixel's ink is its largest channel difference from it; an unevenly
    lit photo (a border that is not one colour) gets its lighting estimated and removed first.
    """
    alpha = rgba[:, :, 3]
    if alpha.min() < 0.5:  # some of it is see-through: what is opaque is the drawing
        return alpha.astype(np.float32)
    rgb = rgba[:, :, :3]
    paper = np.median(border(rgb), axis=0)
    diff = np.abs(rgb - paper).max(axis=2)
    if np.percentile(border(diff), 90) > MIN_CONTRAST:
        gray = rgb.mean(axis=2)
        diff = np.clip(gray - lighting(gray, dark_ink=paper.mean() > 0.5), -1, 1)
        diff = np.clip(-diff if paper.mean() > 0.5 else diff, 0, 1)
    return diff.astype(np.float32)


def lighting(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """The paper's brightness at each pixel: strokes narrower than 1/8 of the image removed by a closing."""
    step = max(1, max(gray.shape) // 64)
    small = gray[::step, ::step]
    op = ndimage.grey_closing if dark_ink else ndimage.grey_opening
    paper = ndimage.uniform_filter(op(small, size=9), size=5)
    zoom = (gray.shape[0] / small.shape[0], gray.shape[1] / small.shape[1])
    return ndimage.zoom(paper, zoom, order=1, grid_mode=True, mode="nearest")[: gray.shape[0], : gray.shape[1]]


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold of values in 0..1."""
    hist, edges = np.histogram(values, bins=64, range=(0, 1))
    p = hist / max(hist.sum(), 1)
    w0 = np.cumsum(p)
    mu = np.cumsum(p * edges[:-1])
    between = (mu[-1] * w0 - mu) ** 2 / np.maximum(w0 * (1 - w0), 1e-12)
    return float(edges[np.argmax(between) + 1])


def isolate_digit(ink: np.ndarray) -> tuple[np.ndarray | None, str]:
    """The ink of the largest mark and the strokes that belong to it; specks and other marks removed.

    Returns (soft ink map with only the digit, remark) or (None, reason) when there is nothing to read.
    """
    peak = float(ink.max()) if ink.size else 0.0
    if peak < MIN_CONTRAST:
        return None, "nothing to read: the image is blank"
    threshold = max(otsu(ink / peak) * peak, MIN_CONTRAST)
    mask = ink >= threshold
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    mass = ndimage.sum_labels(ink, labels, index=np.arange(1, n + 1))
    boxes = ndimage.find_objects(labels)
    order = np.argsort(-mass)
    main = order[0]
    y0, y1, x0, x1 = boxes[main][0].start, boxes[main][0].stop, boxes[main][1].start, boxes[main][1].stop
    keep, others = [main], 0
    changed = True
    while changed:  # grow the digit by the strokes that overlap it sideways and sit close above or below
        changed = False
        for i in order:
            if i in keep:
                continue
            (a, b), (c, d) = (boxes[i][0].start, boxes[i][0].stop), (boxes[i][1].start, boxes[i][1].stop)
            height = y1 - y0
            pad = 0.1 * max(height, x1 - x0)
            overlaps_x = c < x1 + pad and d > x0 - pad
            near_y = a < y1 + 0.5 * height and b > y0 - 0.5 * height
            if overlaps_x and near_y:
                keep.append(i)
                y0, y1, x0, x1 = min(y0, a), max(y1, b), min(x0, c), max(x1, d)
                changed = True
    others = sum(1 for i in order if i not in keep and mass[i] >= 0.15 * mass[main])
    digit_mask = ndimage.binary_dilation(np.isin(labels, np.array(keep) + 1), iterations=1)
    digit = np.clip((ink - 0.5 * threshold) / max(peak - 0.5 * threshold, 1e-6), 0, 1) * digit_mask
    stroke = stroke_width(digit_mask[y0:y1, x0:x1])
    if max(y1 - y0, x1 - x0) < 2.5 * stroke or mask.sum() < 4:
        return None, "nothing to read: only a dot"
    remark = "several marks found: read the largest" if others else ""
    return digit, remark


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: across a stroke the distance to the edge averages a quarter of it."""
    if not mask.any():
        return 0.0
    return float(4 * ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1][mask].mean())


def crop(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def even_strokes(ink: np.ndarray) -> np.ndarray:
    """Thicken hair-thin strokes and thin very fat ones so that, once fitted into 20x20, they look like MNIST's."""
    factor = -(-max(ink.shape) // 256)
    if factor > 1:  # work at <= 256 px; max-pooling keeps one-pixel strokes
        h, w = -(-ink.shape[0] // factor) * factor, -(-ink.shape[1] // factor) * factor
        ink = np.pad(ink, ((0, h - ink.shape[0]), (0, w - ink.shape[1])))
        ink = ink.reshape(h // factor, factor, w // factor, factor).max(axis=(1, 3))
    scale = BOX / max(ink.shape)
    width = stroke_width(ink > 0.5) * scale
    if 0 < width < STROKE_MIN:
        radius = int(np.ceil((STROKE_THIN_TO - width) / scale / 2))
        ink = ndimage.grey_dilation(np.pad(ink, radius), footprint=disk(radius))
    elif width > STROKE_MAX:
        radius = int((width - STROKE_MAX) / scale / 2)
        ink = crop(ndimage.grey_erosion(ink, footprint=disk(radius))) if radius else ink
    return ink


def disk(radius: int) -> np.ndarray:
    y, x = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius + radius


def fit_box(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio, with anti-aliasing."""
    h, w = ink.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.Resampling.LANCZOS))
    resized = resized.clip(0, None)
    return resized / max(float(resized.max()), 1e-6)


def center_by_mass(patch: np.ndarray, side: int = SIDE) -> np.ndarray:
    """Place the patch in a side x side image so that its centre of mass is at the centre."""
    cy, cx = ndimage.center_of_mass(patch)
    top, left = int(round(side / 2 - cy - 0.5)), int(round(side / 2 - cx - 0.5))
    big = np.zeros((side + 2 * patch.shape[0], side + 2 * patch.shape[1]), np.float32)
    oy, ox = patch.shape[0] + top, patch.shape[1] + left
    big[oy : oy + patch.shape[0], ox : ox + patch.shape[1]] = patch
    return big[patch.shape[0] : patch.shape[0] + side, patch.shape[1] : patch.shape[1] + side]


def preprocess(image) -> Digit:
    """One image of any kind -> the 28x28 MNIST-like input, or the reason there is nothing to read."""
    rgba = to_array(image)
    if rgba.size == 0:
        return Digit(None, "nothing to read: the canvas is empty")
    digit, remark = isolate_digit(ink_map(shrink(rgba)))
    if digit is None:
        return Digit(None, remark)
    patch = fit_box(even_strokes(crop(digit)))
    return Digit(np.clip(center_by_mass(patch), 0, 1).astype(np.float32), remark)
