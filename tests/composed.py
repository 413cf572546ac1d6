"""Whole numbers made of MNIST digits for the tests and bench/numbers.py: digits upscaled (each by its own
factor, so sizes vary), bottoms on a line give or take a little, placed left to right with gaps or touching."""
import numpy as np
from PIL import Image

INK = 80  # a pixel of an upscaled MNIST digit brighter than this (0..255) is ink when placing digits


def upscale(digit: np.ndarray, factor: float) -> np.ndarray:
    """A 28x28 uint8 MNIST digit (white on black) enlarged `factor` times and cut to its ink."""
    side = round(28 * factor)
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
    rows, cols = np.flatnonzero((big > INK).any(axis=1)), np.flatnonzero((big > INK).any(axis=0))
    return big[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def touching_offset(canvas: np.ndarray, digit: np.ndarray, top: int, overlap: int) -> int:
    """The x at which `digit` (its top at row `top`) meets the ink already on `canvas`, pushed `overlap`
    pixels further in: for each shared row, the new digit's leftmost ink must reach the old rightmost ink."""
    h = digit.shape[0]
    old = canvas[top : top + h] > INK
    new = digit > INK
    rows = old.any(axis=1) & new.any(axis=1)
    if not rows.any():  # no row in common: the boxes touch instead
        return int(np.flatnonzero(old.any(axis=0)).max()) + 1 - overlap
    right = old.shape[1] - 1 - np.argmax(old[:, ::-1], axis=1)  # last ink column of each row
    left = np.argmax(new, axis=1)  # first ink column of each row
    return int((right - left)[rows].max()) - overlap


def compose(digits, rng: np.random.Generator, touching: bool, factors=(2.5, 3.5), margin: int = 30,
            slope: float = 0.0):
    """Black ink on a white canvas (uint8, like a Sketchpad composite) holding `digits` (28x28 uint8 MNIST images)
    left to right, and each digit's box (x0, y0, x1, y1). Gapped: 6-40 px between boxes; touching: each
    digit pushed against the one before until the strokes meet, then 0-3 px further. The line the digits stand
    on falls by `slope` pixels per pixel to the right (rises when negative)."""
    pieces = [upscale(d, rng.uniform(*factors)) for d in digits]
    height = max(p.shape[0] for p in pieces)
    width = sum(p.shape[1] for p in pieces) + 40 * len(pieces) + 2 * margin
    rise = int(abs(slope) * width) + 1
    base = margin + height + (rise if slope < 0 else 0)  # the line the digits stand on, at x = 0
    canvas = np.zeros((margin + height + rise + margin + 10, width), np.uint8)
    boxes, x = [], margin
    for p in pieces:
        h, w = p.shape
        top = int(base + slope * x) - h + int(rng.integers(-4, 5))
        if boxes:
            x = touching_offset(canvas, p, top, int(rng.integers(0, 4))) if touching else boxes[-1][2] + int(rng.integers(6, 41))
        canvas[top : top + h, x : x + w] = np.maximum(canvas[top : top + h, x : x + w], p)
        boxes.append((x, top, x + w, top + h))
    canvas = canvas[:, : boxes[-1][2] + margin]
    return 255 - canvas, boxes
