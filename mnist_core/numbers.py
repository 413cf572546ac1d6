"""Read whole numbers: every digit on a canvas or photo, left to right. One step per function.

image -> ink map (preprocess.to_array + ink_map) -> connected marks, specks dropped -> marks whose
horizontal extents overlap grouped into one digit (a two-stroke 5, a 7's crossbar) -> groups much shorter than the
number joined to a neighbour they overlap or nearly touch (a 5's bar drawn apart, a broken stroke), scraps still too
short to be a digit dropped -> a group too wide to be one digit read by the line reader (mnist_core.line_reader),
which finds touching digits and reads them with their neighbours (a group hardly wider than tall that it reads as
two keeps the digit network's reading of it whole when that is surer: a wide 0, 6 or 8); a group it reads as one
digit, and every narrower group, is read from its own crop by reader.predict, in one batch -> Number.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .line_reader import LineNet, read_line, shipped_line_reader
from .preprocess import ink_map, preprocess, to_array
from .reader import Prediction, judged, open_image, predict

MIN_INK = 0.15  # ink weaker than this (0..1) is paper, whatever the brightest pixel
INK_SHARE = 0.25  # ...and so is ink under this share of the brightest pixel (anti-aliased fringes, photo noise)
SPECK_SHARE = 0.03  # marks with fewer pixels than this share of the largest mark's are specks (0.02, 0.03, 0.05 and
# 0.08 were tried on 1,000 gapped and 1,000 touching validation numbers: 0.03 and 0.05 read two more than 0.02)
MIN_PIXELS = 4  # a mark this small (pixels) is a speck however large the others are
OVERLAP_SHARE = 0.5  # marks belong to one digit when their x-extents overlap by this share of the narrower one
SHORT = 0.5  # a group under this share of the number's height (its tallest group's) is a piece of a digit...
JOIN_GAP = 0.05  # ...when it overlaps a neighbour or comes within this share of the height of it (on 1,000 gapped
# validation numbers such pieces overlapped or came within 0.05, or were scraps; whole short digits stood 0.11 apart)
TINY = 1 / 3  # a group still under this share of the number's height is a scrap, left out like a speck (the shortest
# whole digit in those numbers was 0.37 of the tallest; scraps broken off a digit, read alone, come out as 1s)
CONSIDER = 0.8  # a group narrower than this times the number's height is one digit, never given to the line reader
SQUARE = 1.0  # a group no wider than this times the number's height that the line reader reads as two digits is
# also read whole by the digit network, and the surer reading wins (a wide 0, 6 or 8 read as "00", "61", "90")
MARGIN = 4  # paper (pixels) around each digit's crop, so predict sees the ink surrounded by paper
MAX_MARKS = 100  # more marks than this (after specks) are a page of text or a grid, not a number: not read (a
# number of 10 digits, each in a few strokes, has some 30; grouping costs grow with the cube of the marks)


@dataclass
class Number:
    """What read_number found: the digits as text ("?" where a mark is not a digit), one Prediction and one
    box (x0, y0, x1, y1, in the image's pixels, x1 and y1 exclusive) per digit, left to right."""

    text: str
    digits: list[Prediction]
    boxes: list[tuple[int, int, int, int]]
    message: str = ""  # why nothing was read, or a remark


@dataclass
class Part:
    """A piece of ink: a boolean mask and where its top-left corner sits in the ink map."""

    x0: int
    y0: int
    mask: np.ndarray  # (h, w) bool

    @property
    def x1(self) -> int:
        return self.x0 + self.mask.shape[1]

    @property
    def y1(self) -> int:
        return self.y0 + self.mask.shape[0]

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x0, self.y0, self.x1, self.y1


def read_number(model, image, lines: LineNet | None = None) -> Number:
    """Every digit in `image` (anything predict takes: PIL, numpy, Sketchpad dict, path), left to right, read by
    the digit network `model` and, where digits touch, the line reader `lines` (the shipped one when None).

    Raises ImageError for an input that is not an image, as predict does.
    """
    if isinstance(image, (str, Path)):
        size, image = header_size(image), open_image(image)
    else:
        size = image_size(image)
    colour, alpha = to_array(image)
    ink = ink_map(colour, alpha) if colour.size else np.zeros((0, 0), np.float32)
    marks = find_marks(ink)
    if len(marks) > MAX_MARKS:
        return Number("", [], [], f"not read as a number: {len(marks)} separate marks, more than a number of digits "
                                  f"has (at most {MAX_MARKS})")
    groups = join_short(group_by_overlap(marks))
    kept = drop_scraps(groups)
    parts = split_touching(model, lines, ink, kept)
    if not parts:
        return whole_image(model, image, size)
    alone = [i for i, (_, r) in enumerate(parts) if r is None]
    readings = [r for _, r in parts]
    for i, r in zip(alone, predict(model, [crop(ink, parts[i][0]) for i in alone])):  # one batch for these
        readings[i] = r
    parts = [p for p, _ in parts]
    scale = (size[0] / ink.shape[1], size[1] / ink.shape[0])
    return assemble(readings, [scaled(p.box, scale) for p in parts], len(groups) - len(kept))


def find_marks(ink: np.ndarray) -> list[Part]:
    """The connected marks (8-connected) of the ink map, specks left out, left to right."""
    peak = float(ink.max()) if ink.size else 0.0
    if not peak >= MIN_INK:  # blank (also NaN)
        return []
    labels, n = ndimage.label(ink > max(MIN_INK, INK_SHARE * peak), structure=np.ones((3, 3)))
    slices = ndimage.find_objects(labels)
    marks = [Part(b[1].start, b[0].start, labels[b] == i) for i, b in enumerate(slices, start=1)]
    mass = np.array([m.mask.sum() for m in marks])
    keep = (mass >= SPECK_SHARE * mass.max()) & (mass >= MIN_PIXELS) if marks else []
    return sorted((m for m, k in zip(marks, keep) if k), key=lambda m: m.x0)


def group_by_overlap(marks: list[Part]) -> list[Part]:
    """Marks merged into digits: two marks whose x-extents overlap by OVERLAP_SHARE of the narrower one are
    one digit (the bar and body of a 5, a detached crossbar, a dot above), repeated until nothing merges."""
    groups = list(marks)
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
                if overlap >= OVERLAP_SHARE * min(a.x1 - a.x0, b.x1 - b.x0):
                    groups[i] = union(a, b)
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return sorted(groups, key=lambda g: g.x0)


def gap(a: Part, b: Part) -> int:
    """Paper columns between two parts' x-extents; negative where they overlap."""
    return max(a.x0, b.x0) - min(a.x1, b.x1)


def join_short(groups: list[Part]) -> list[Part]:
    """Groups (left to right) with a group under SHORT of the tallest's height joined to a neighbour it overlaps
    or comes within JOIN_GAP of that height of (a 5's bar overlapping its body by less than OVERLAP_SHARE, a
    stroke broken off), the closest pair first, until no such pair is left: a piece alone reads as nonsense."""
    groups = list(groups)
    height = max((g.mask.shape[0] for g in groups), default=0)
    while True:
        pairs = [(gap(a, b), i) for i, (a, b) in enumerate(zip(groups, groups[1:]))
                 if min(a.mask.shape[0], b.mask.shape[0]) < SHORT * height and gap(a, b) <= JOIN_GAP * height]
        if not pairs:
            return groups
        i = min(pairs)[1]
        groups[i : i + 2] = [union(groups[i], groups[i + 1])]


def drop_scraps(groups: list[Part]) -> list[Part]:
    """The groups less those under TINY of the tallest's height: scraps too short to be a digit (a stroke broken off
    and standing apart, a dot), left out as specks are."""
    height = max((g.mask.shape[0] for g in groups), default=0)
    return [g for g in groups if g.mask.shape[0] >= TINY * height]


def union(a: Part, b: Part) -> Part:
    x0, y0, x1, y1 = min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1)
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for p in (a, b):
        mask[p.y0 - y0 : p.y1 - y0, p.x0 - x0 : p.x1 - x0] |= p.mask
    return Part(x0, y0, mask)


def split_touching(model, lines: LineNet | None, ink: np.ndarray,
                   groups: list[Part]) -> list[tuple[Part, Prediction | None]]:
    """Every group as the digits it holds, each with the line reader's reading (or, for a group read whole by
    surer_whole, the digit network's), or None where the group is one digit for the digit network to read: it is
    narrower than CONSIDER of the number's height (its tallest group's), or the line reader reads one digit (or
    none) in it, or a digit it reads has no ink of its own, or too little for preprocessing to make a 28x28 of
    (the rounded ends of two bars, cut off an "="). A group no wider than
    SQUARE of the height that the line reader reads as two digits keeps the digit network's reading of it whole
    when that is surer (see surer_whole). The line reader is `lines`, else the shipped one, loaded only when a
    group is that wide."""
    height = max((g.mask.shape[0] for g in groups), default=0)
    out = []
    for g in groups:
        pieces = []
        if g.mask.shape[1] > CONSIDER * height:
            lines = lines if lines is not None else shipped_line_reader()
            chars = read_line(lines, window(ink, g)[:, 1:-1])
            pieces = [(trim(g.x0 + c.x0, g.y0, g.mask[:, c.x0 : c.x1]), c.probs) for c in chars]
        readings = [] if len(pieces) < 2 or any(p.mask.size == 0 for p, _ in pieces) else \
            [line_reading(probs, ink, p, lines.threshold) for p, probs in pieces]
        if not readings or any(r.pixels is None for r in readings):
            out.append((g, None))
            continue
        whole = surer_whole(model, ink, g, readings) if len(readings) == 2 and g.mask.shape[1] <= SQUARE * height \
            else None
        out += [(g, whole)] if whole is not None else [(p, r) for (p, _), r in zip(pieces, readings)]
    return out


def surer_whole(model, ink: np.ndarray, group: Part, pair: list[Prediction]) -> Prediction | None:
    """The digit network's reading of the group whole, when it reads a digit (does not refuse it) with a top
    probability above the chance the line reader gives its two digits (the product of their top probabilities),
    else None."""
    whole = predict(model, crop(ink, group))
    two = float(pair[0].probs.max() * pair[1].probs.max())
    return whole if whole.digit is not None and whole.probs.max() > two else None


def line_reading(probs: np.ndarray, ink: np.ndarray, piece: Part, threshold: float | None) -> Prediction:
    """A Prediction of the line reader's probabilities for one of the touching digits it read, with the 28x28 that
    preprocessing makes of its piece of the line (to show; the probabilities are the line reader's, which saw
    the digit with its neighbours), refused as "not a digit" under the line reader's own threshold."""
    pixels = preprocess(crop(ink, piece)).pixels
    return judged(Prediction(probs, pixels, "read with the digits it touches"), threshold)


def trim(x0: int, y0: int, mask: np.ndarray) -> Part:
    """The part cut to the box of its ink (a cut can leave empty rows above or below one side)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return Part(x0, y0, mask[:0, :0])
    return Part(x0 + cols[0], y0 + rows[0], mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def window(ink: np.ndarray, part: Part) -> np.ndarray:
    """The part's ink (soft values kept, other marks inside its box removed) on black paper, with the box grown
    by one pixel on each side for the anti-aliased fringe just outside the mask."""
    grown = ndimage.binary_dilation(np.pad(part.mask, 1))
    y0, x0 = part.y0 - 1, part.x0 - 1
    out = np.zeros(grown.shape, np.float32)
    ys, xs = slice(max(y0, 0), min(part.y1 + 1, ink.shape[0])), slice(max(x0, 0), min(part.x1 + 1, ink.shape[1]))
    out[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = ink[ys, xs]
    return out * grown


def crop(ink: np.ndarray, part: Part) -> np.ndarray:
    """The part's window centred in a square with a margin: white ink on black, 0..1, the form predict reads like
    any other image. Square, so paper is most of it: a fat 1 cropped to its box is mostly ink, and preprocessing
    would take the ink for paper."""
    a = window(ink, part)
    h, w = a.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    return np.pad(a, ((MARGIN + top, MARGIN + side - h - top), (MARGIN + left, MARGIN + side - w - left)))


def assemble(readings: list[Prediction], boxes: list[tuple[int, int, int, int]], scraps: int = 0) -> Number:
    """The Number from one reading per part: parts with nothing to read (a dot, a faint scrap) are left out
    and mentioned, as are the `scraps` drop_scraps left out (a digit drawn under a third of the others'
    height is one of them); a part predict refuses as not a digit (digit None) shows as "?"."""
    kept = [(r, b) for r, b in zip(readings, boxes) if r.probs is not None]
    dropped = len(readings) - len(kept) + scraps
    if not kept:
        return Number("", [], [], readings[0].message if readings else "nothing to read")
    text = "".join("?" if r.digit is None else str(r.digit) for r, _ in kept)
    remarks = []
    if "?" in text:
        remarks.append(f"{text.count('?')} mark(s) are not digits (shown as ?)")
    if dropped:
        remarks.append(f"{dropped} small mark(s) left out: a digit much smaller than the others is read as a scrap")
    return Number(text, [r for r, _ in kept], [b for _, b in kept], "; ".join(remarks))


def whole_image(model, image, size: tuple[int, int]) -> Number:
    """No marks found: predict's own reading of the whole image says why (a blank canvas, only a speck)."""
    reading = predict(model, image)
    if reading.probs is None:
        return Number("", [], [], reading.message)
    text = "?" if reading.digit is None else str(reading.digit)  # predict saw a digit the marks missed: the whole
    return Number(text, [reading], [(0, 0, *size)], reading.message)


def image_size(image) -> tuple[int, int]:
    """(width, height) of the image as given, before predict's shrinking of large images."""
    if isinstance(image, dict):
        image = image.get("composite")
    if isinstance(image, Image.Image):
        w, h = image.size
        return (h, w) if image.getexif().get(0x0112, 1) in (5, 6, 7, 8) else (w, h)  # these turn it a quarter
    if isinstance(image, np.ndarray) and image.ndim >= 2:
        return image.shape[1], image.shape[0]
    return 0, 0


def header_size(path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return image_size(im)
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0, 0  # open_image raises the reason next


def scaled(box: tuple[int, int, int, int], scale: tuple[float, float]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    sx, sy = scale
    return int(x0 * sx), int(y0 * sy), int(np.ceil(x1 * sx)), int(np.ceil(y1 * sy))

