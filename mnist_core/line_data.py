"""Lines of digits to train the line reader on, composed of MNIST digits: each digit scaled a little and its
strokes sometimes thickened or thinned, bottoms on a slightly sloping line, each next to the one before with a
gap or pushed against it until the strokes touch (and a few pixels further). White ink on black, 0..1."""
import numpy as np
from PIL import Image
from scipy import ndimage

INK = 0.3  # a pixel brighter than this is ink when placing digits
LENGTHS = (1, 2, 2, 3, 3, 4, 4, 5, 5, 6)  # digits per line, drawn uniformly from this list
SIZES = (0.75, 1.25)  # each digit is scaled by a factor from this range
SLOPE = 0.12  # the line rises or falls by up to this many pixels per pixel
TOUCHING = 0.6  # the share of neighbours that touch; the others have a gap of 1-11 pixels
OVERLAP = 5  # touching digits are pushed 0 to OVERLAP - 1 pixels past the point where they meet


def digit_ink(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """A 28x28 uint8 MNIST digit scaled, its strokes thickened (a quarter of them) or thinned (a tenth), cut to
    its ink; None if no ink is left."""
    side = max(8, round(28 * rng.uniform(*SIZES)))
    a = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR), np.float32) / 255
    r = rng.random()
    if r < 0.25:
        a = ndimage.grey_dilation(a, size=(2, 2))
    elif r < 0.35:
        a = ndimage.grey_erosion(a, size=(2, 2))
    ink = a > INK
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    return a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def meeting_x(canvas: np.ndarray, piece: np.ndarray, top: int) -> int | None:
    """The x at which `piece` (its top at row `top`) first touches the ink on `canvas` coming from the right: in
    each row they share, its leftmost ink one pixel past the canvas's rightmost. None when they share no row."""
    old, new = canvas[top : top + piece.shape[0]] > INK, piece > INK
    rows = old.any(axis=1) & new.any(axis=1)
    if not rows.any():
        return None
    right = old.shape[1] - 1 - np.argmax(old[:, ::-1], axis=1)
    return int((right - np.argmax(new, axis=1))[rows].max()) + 1


def compose_line(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator,
                 length: int | None = None) -> tuple[np.ndarray, str, list[tuple[int, int]]]:
    """One line of `length` (else a random number from LENGTHS) random marks from `images` (N, 28, 28 uint8), its
    text (each mark's label: "" for a mark that is no digit), and each mark's columns (x0, x1)."""
    picks = rng.integers(0, len(images), length or int(rng.choice(LENGTHS)))
    pieces = [(digit_ink(images[i], rng), str(labels[i])) for i in picks]
    pieces = [(p, t) for p, t in pieces if p is not None] or [(np.ones((20, 3), np.float32), str(1))]
    tallest = max(p.shape[0] for p, _ in pieces)
    slope = rng.uniform(-SLOPE, SLOPE)
    width = sum(p.shape[1] for p, _ in pieces) + 14 * len(pieces) + 20
    rise = int(abs(slope) * width)
    canvas = np.zeros((tallest + rise + 20, width), np.float32)
    base = tallest + 8 + (rise if slope < 0 else 0)  # where the line's bottom is at x = 0
    x, right, spans = 4, None, []
    for p, _ in pieces:
        h, w = p.shape
        top = int(np.clip(int(base + slope * x) - h + rng.integers(-2, 3), 0, canvas.shape[0] - h))
        if right is not None:
            meet = meeting_x(canvas, p, top) if rng.random() < TOUCHING else None
            x = meet - int(rng.integers(0, OVERLAP)) if meet is not None else right + int(rng.integers(1, 12))
            x = int(np.clip(x, 0, width - w))
        canvas[top : top + h, x : x + w] = np.maximum(canvas[top : top + h, x : x + w], p)
        right = max(right or 0, x + w)
        spans.append((x, x + w))
    rows, cols = np.flatnonzero((canvas > INK).any(axis=1)), np.flatnonzero((canvas > INK).any(axis=0))
    return (canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], "".join(t for _, t in pieces),
            [(x0 - cols[0], x1 - cols[0]) for x0, x1 in spans])
