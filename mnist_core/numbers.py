"""Read whole numbers: every digit on a canvas or photo, left to right. One step per function.

image -> ink map (preprocess.to_array + ink_map) -> connected marks, specks dropped -> marks whose
horizontal extents overlap grouped into one digit (a two-stroke 5, a 7's crossbar) -> groups much shorter than the
number joined to a neighbour they overlap or nearly touch (a 5's bar drawn apart, a broken stroke), scraps still too
short to be a digit dropped -> each group cut into the pieces that read best as digits (touching digits; one piece
when it reads best whole; a piece much wider than its digit usually is, two digits read as one, pays for it), sizes
judged against the number's height -> every digit's crop read by reader.predict in one batch -> Number.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .preprocess import ink_map, to_array
from .reader import Prediction, open_image, predict

MIN_INK = 0.15  # ink weaker than this (0..1) is paper, whatever the brightest pixel
INK_SHARE = 0.25  # ...and so is ink under this share of the brightest pixel (anti-aliased fringes, photo noise)
SPECK_SHARE = 0.02  # marks with fewer pixels than this share of the largest mark's are specks
MIN_PIXELS = 4  # a mark this small (pixels) is a speck however large the others are
OVERLAP_SHARE = 0.5  # marks belong to one digit when their x-extents overlap by this share of the narrower one
SHORT = 0.5  # a group under this share of the number's height (its tallest group's) is a piece of a digit...
JOIN_GAP = 0.05  # ...when it overlaps a neighbour or comes within this share of the height of it (on 1,000 gapped
# validation numbers such pieces overlapped or came within 0.05, or were scraps; whole short digits stood 0.11 apart)
TINY = 1 / 3  # a group still under this share of the number's height is a scrap, left out like a speck (the shortest
# whole digit in those numbers was 0.37 of the tallest; scraps broken off a digit, read alone, come out as 1s)
CONSIDER = 0.8  # a group narrower than this times the number's height is one digit, never cut
STEP = 0.08  # touching digits may be cut once in every stretch this share of the number's height wide (0.125 before
# ASPECT_COST: 0.08 read 162 of 300 touching validation numbers exactly against 150, gapped alike, twice the spans read)
MIN_SIDE, MAX_SIDE = 0.25, 1.4  # widths a piece may have, in number heights (a narrow 1 is about 0.3)
# (heights are the number's, not the group's: a squat 2 or 4 is as wide as the others, not two digits side by side)
PIECE_COST = 0.0  # each piece's cost (log-probability), a handle against cutting one digit in two
WIDE_FROM, WIDE_COST = 1.2, 0.5  # a piece wider than WIDE_FROM heights pays WIDE_COST per height beyond
REFUSED_COST = 1.0  # a piece predict refuses as "not a digit" pays this on top of its log-probability
# (chosen for the calibrated model with a 'not a digit' threshold on 200 gapped and 60 touching numbers of validation
# digits, MNIST train[-5000:], from bench/tune_numbers.py's grid of 576 settings, and still first on its 200 gapped and
# 100 touching numbers once heights became the number's;
# width alone decides poorly: 1% of MNIST digits are wider than 1.25 times their height, a touching 1 is narrow)
SINGLE, CUT_COST = 1.1, 0.5  # a group narrower than SINGLE heights is most likely one wide digit, and each of its
# pieces pays CUT_COST more: else halves read as confidently as the whole cut it in two (1920 read as 19120). 95% of
# single validation digits are narrower than 0.98 heights, 95% of two touching ones wider than 0.81; chosen from
# SINGLE 0.9-1.2 and CUT_COST 0.01-2 on 300 gapped and 150 touching validation numbers, two draws: gapped exact
# up 0.7 to 1.3 points, touching unchanged (CUT_COST 0.1 to 1 alike; wider SINGLE cost touching numbers). SINGLE 1.1
# since ASPECT_COST (0.9, 1.0, 1.1 tried, validation seeds 0 and 1): gapped 293 of 300 exact against 287 at 0.9 (the
# aspect cost tips wide single digits into two pieces there), touching 172 against 174
# log(width / height) of MNIST training digits (train[:-5000], ink brighter than 80 of 255): mean and spread per digit
ASPECT_MEAN = np.array([-0.11, -0.95, -0.08, -0.24, -0.25, -0.08, -0.34, -0.27, -0.29, -0.40])
ASPECT_SPREAD = np.array([0.20, 0.47, 0.22, 0.22, 0.22, 0.27, 0.22, 0.22, 0.23, 0.21])
ASPECT_FROM, ASPECT_COST = 1.5, 0.25  # a piece wider than ASPECT_FROM spreads above its digit's mean pays ASPECT_COST
# per squared spread beyond: two touching digits read as one ("442" as "42": "44" reads 4 at p 1.00) are wide for
# that digit. Chosen on 300 gapped and 300 touching validation numbers (seeds 0 and 1) from ASPECT_COST 0.25-1,
# ASPECT_FROM 1.5 or 2, too wide only or too narrow as well (no better): touching exact 160 -> 172 of 300 at SINGLE 1.1,
# gapped 294 -> 293
MARGIN = 4  # paper (pixels) around each digit's crop, so predict sees the ink surrounded by paper


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


def read_number(model, image) -> Number:
    """Every digit in `image` (anything predict takes: PIL, numpy, Sketchpad dict, path), left to right.

    Raises ImageError for an input that is not an image, as predict does.
    """
    if isinstance(image, (str, Path)):
        size, image = header_size(image), open_image(image)
    else:
        size = image_size(image)
    colour, alpha = to_array(image)
    ink = ink_map(colour, alpha) if colour.size else np.zeros((0, 0), np.float32)
    groups = join_short(group_by_overlap(find_marks(ink)))
    kept = drop_scraps(groups)
    parts = split_touching(model, ink, kept)
    if not parts:
        return whole_image(model, image, size)
    readings = predict(model, [crop(ink, p) for p in parts])  # the one batch that gives the digits
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


def split_touching(model, ink: np.ndarray, groups: list[Part]) -> list[Part]:
    """Every group replaced by the digits it reads best as: itself, or pieces of it (touching digits), sizes
    judged against the number's height (its tallest group's)."""
    height = max((g.mask.shape[0] for g in groups), default=0)
    return [piece for g in groups for piece in best_pieces(model, ink, g, height)]


def cut_positions(mask: np.ndarray, height: int) -> list[int]:
    """Where a group may be cut: its two ends and, in every stretch of STEP of the number's height, the column
    with the least ink (where touching digits meet)."""
    w = mask.shape[1]
    step = max(1, round(STEP * height))
    ink = mask.sum(axis=0)
    inner = [a + int(np.argmin(ink[a : a + step])) for a in range(step, w - step, step)]
    return [0, *inner, w]


def best_pieces(model, ink: np.ndarray, group: Part, height: int) -> list[Part]:
    """The group cut into the pieces that read best (touching digits), or the group itself: a group narrower
    than CONSIDER of the number's height is one digit without reading."""
    if group.mask.shape[1] <= CONSIDER * height:
        return [group]
    cuts, spans, pieces, readings = read_spans(model, ink, group, height)
    chosen = best_path(cuts, spans, pieces, readings, height)
    return [pieces[k] for k in chosen] if chosen else [group]


def read_spans(model, ink: np.ndarray, group: Part, height: int):
    """Every stretch (i, j) between two cut_positions that could be a digit (MIN_SIDE to MAX_SIDE of the
    number's height wide, or the whole group), its piece of ink and predict's reading, all in one batch."""
    cuts = cut_positions(group.mask, height)
    last = len(cuts) - 1
    spans = [(i, j) for i in range(last) for j in range(i + 1, last + 1)
             if (i, j) == (0, last) or MIN_SIDE * height <= cuts[j] - cuts[i] <= MAX_SIDE * height]
    pieces = [trim(group.x0 + cuts[i], group.y0, group.mask[:, cuts[i] : cuts[j]]) for i, j in spans]
    return cuts, spans, pieces, predict(model, [crop(ink, p) for p in pieces])


def piece_score(reading: Prediction, piece: Part, width: int, height: int) -> float | None:
    """How well a piece reads as one digit: log p of predict's top probability, less PIECE_COST, less
    WIDE_COST per height its width exceeds WIDE_FROM of the height, less REFUSED_COST when predict refuses it
    as not a digit (half a digit, two halves side by side), less ASPECT_COST per squared too_wide. None for a
    piece with nothing to read."""
    if reading.probs is None:
        return None
    wide = max(0.0, width / height - WIDE_FROM)
    refused = REFUSED_COST if reading.refused else 0.0
    odd = ASPECT_COST * too_wide(piece, int(np.argmax(reading.probs))) ** 2
    return float(np.log(max(float(reading.probs.max()), 1e-12))) - PIECE_COST - WIDE_COST * wide - refused - odd


def too_wide(piece: Part, digit: int) -> float:
    """Spreads by which the piece's log(width / height) exceeds ASPECT_FROM spreads above that digit's mean
    (0 within): a 4 half again as wide as it is tall is rare (3 spreads above), two touching 4s read as one are
    wider still."""
    h, w = piece.mask.shape
    spreads = (np.log(w / h) - ASPECT_MEAN[digit]) / ASPECT_SPREAD[digit]
    return max(0.0, float(spreads) - ASPECT_FROM)


def best_path(cuts: list[int], spans: list[tuple[int, int]], pieces: list[Part], readings: list[Prediction],
              h: int) -> list[int]:
    """Dynamic programming over the cut positions: the indices (into spans) of the pieces, left to right,
    whose piece_scores (less CUT_COST each in a group narrower than SINGLE of the height h) have the best total,
    from the first cut to the last; [] when no path reaches the end."""
    last = len(cuts) - 1
    extra = CUT_COST if cuts[last] < SINGLE * h else 0.0
    score = {}
    for k, ((i, j), p, r) in enumerate(zip(spans, pieces, readings)):
        s = piece_score(r, p, cuts[j] - cuts[i], h)
        if s is not None:
            score[i, j] = s - extra, k
    best, back = {0: 0.0}, {}
    for j in range(1, last + 1):
        options = [(best[i] + score[i, j][0], i) for i in range(j) if i in best and (i, j) in score]
        if options:
            best[j], back[j] = max(options)
    if last not in best:
        return []
    path, j = [], last
    while j:
        path.append(score[back[j], j][1])
        j = back[j]
    return path[::-1]


def trim(x0: int, y0: int, mask: np.ndarray) -> Part:
    """The part cut to the box of its ink (a cut can leave empty rows above or below one side)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return Part(x0, y0, mask[:0, :0])
    return Part(x0 + cols[0], y0 + rows[0], mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def crop(ink: np.ndarray, part: Part) -> np.ndarray:
    """The part's ink (soft values kept, other marks inside its box removed) on black paper, centred in a square
    with a margin: white ink on black, 0..1, the form predict reads like any other image. Square, so paper is
    most of it: a fat 1 cropped to its box is mostly ink, and preprocessing would take the ink for paper."""
    grown = ndimage.binary_dilation(np.pad(part.mask, 1))  # the anti-aliased fringe just outside the mask
    y0, x0 = part.y0 - 1, part.x0 - 1
    window = np.zeros(grown.shape, np.float32)
    ys, xs = slice(max(y0, 0), min(part.y1 + 1, ink.shape[0])), slice(max(x0, 0), min(part.x1 + 1, ink.shape[1]))
    window[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = ink[ys, xs]
    h, w = window.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    return np.pad(window * grown, ((MARGIN + top, MARGIN + side - h - top), (MARGIN + left, MARGIN + side - w - left)))


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
        return (h, w) if image.getexif().get(0x0112, 1) >= 5 else (w, h)  # EXIF orientations 5-8 turn it
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

