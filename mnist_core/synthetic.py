"""Hand-drawn-style test and training images made with Pillow: non-digits, drawn digits, printed digits.

Every image is black ink on white, (SIDE, SIDE) uint8, and the same seed always gives the same images.
A glyph is a list of strokes, each a polyline in a unit box (x right, y down). Drawing one: the strokes are
resampled densely, bent by a smooth random warp (a hand is not a ruler), each stroke nudged a little (the
pen is lifted and put down again), then the whole glyph is squashed or stretched, slanted, rotated, scaled
and placed roughly (not exactly) in the middle of the canvas, and drawn with a round brush.

non_digits(n, seed, split): letters, symbols, shapes and scribbles that are not digits (for outlier
exposure in training, and for measuring refusal). What "eval" holds out from "train":
  - seeds: the random stream is seeded with (seed, split), so the two splits never share a draw;
  - letters and shapes: every letter and every shared shape kind has two or more stroke variants
    (e.g. a pointed A and a round-topped A; a five-point star drawn in one stroke and a star outline);
    "train" draws only the even-numbered variants (0, 2, ...), "eval" only the odd-numbered ones;
  - shape kinds only in "eval": house, sun, lightning bolt, envelope (EVAL_ONLY_SHAPES);
  - scribble kinds only in "eval": cross-hatching and a coil of loops (train has smooth random curves
    and parallel hatching);
  - symbols with two or more variants are split the same way as letters; the few with one
    (SHARED_SYMBOLS: $ % & @) appear in both splits with different seeds.
The drawing itself (brush 2-12% of the side, size, position, rotation, slant, warp) is the same in both.
Letters that look like digits (O o l I i S s Z z B G q b g) are never drawn.

drawn_digits(n, seed, split): digits 0-9 in several styles each (DIGIT_STYLES), drawn as a person draws on
a canvas. "eval" (the default, every style) is an evaluation set; "train" draws other seeds and only the
even-numbered styles, so the odd-numbered ones are never trained on.

printed_digits(n, seed, fonts): digits rendered from TrueType fonts; training_fonts() are matplotlib's,
eval_fonts() are the system's Liberation and DejaVu fonts (held out: matplotlib's own copy of DejaVu is
therefore not among the training fonts).

to_inputs(images): the app's own preprocessing applied to each image, as the model would see it.
"""
import glob
import os
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIDE = 128  # canvas side (px): small enough to draw thousands a second, big enough for a 2% brush
SUPERSAMPLE = 2  # drawn at this multiple of the side, then box-averaged down: smooth edges
STEP = 0.04  # strokes are resampled every STEP (unit-box lengths) before the warp


# ----- stroke building blocks (unit box, y down; angles in degrees, 0 = right, 90 = down)

def arc(cx, cy, rx, ry, a0, a1):
    """Points along an ellipse arc from angle a0 to a1 (either direction; 90 is down)."""
    n = max(4, int(abs(a1 - a0) / 10))
    t = np.radians(np.linspace(a0, a1, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


def curve(*points, per=6):
    """A smooth curve through the points (Catmull-Rom)."""
    p = np.array(points, float)
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        for t in np.linspace(0, 1, per, endpoint=False):
            out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                              + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    out.append(p[-2])
    return [tuple(q) for q in out]


def line(*points):
    return [tuple(map(float, q)) for q in points]


def circle(cx=0.5, cy=0.5, r=0.45, start=270, ry=None):
    return arc(cx, cy, r, r if ry is None else ry, start, start - 370)  # counter-clockwise, a little overlap


def polygon(*points):
    return line(*points, points[0])


def spiral(turns=2.5, r=0.5):
    t = np.linspace(0, turns * 2 * np.pi, int(turns * 40))
    rad = r * t / t[-1]
    return [(0.5 + a * np.cos(b), 0.5 + a * np.sin(b)) for a, b in zip(rad, t)]


def wave(periods=2.5, amp=0.2):
    x = np.linspace(0, 1, int(periods * 20))
    return [(a, 0.5 + amp * np.sin(2 * np.pi * periods * a)) for a in x]


def zigzag(teeth=4, amp=0.3):
    x = np.linspace(0, 1, 2 * teeth + 1)
    return [(a, 0.5 + (amp if k % 2 else -amp)) for k, a in enumerate(x)]


def star(points=5, outline=False):
    if outline:  # alternate outer and inner corners
        a = np.radians(np.arange(2 * points) * 180 / points - 90)
        r = np.where(np.arange(2 * points) % 2, 0.2, 0.5)
        return [polygon(*[(0.5 + q * np.cos(b), 0.53 + q * np.sin(b)) for q, b in zip(r, a)])]
    a = np.radians(np.arange(points + 1) * 360 * 2 / points - 90)  # one stroke, skipping a corner each time
    return [[(0.5 + 0.5 * np.cos(b), 0.53 + 0.5 * np.sin(b)) for b in a]]


# ----- digits: DIGIT_STYLES[d] = {style name: strokes}

def _loop9():
    return arc(0.5, 0.3, 0.33, 0.28, 0, -360)


def _loop6():
    return arc(0.5, 0.7, 0.32, 0.28, 180, -175)


DIGIT_STYLES = {
    0: {"oval": [circle(0.5, 0.5, 0.38, ry=0.5)],
        "slashed": [circle(0.5, 0.5, 0.38, ry=0.5), line((0.22, 0.85), (0.78, 0.15))],
        "open-tail": [arc(0.5, 0.5, 0.38, 0.5, 300, -20)]},
    1: {"plain": [line((0.5, 0.0), (0.5, 1.0))],
        "flag": [line((0.3, 0.2), (0.55, 0.0), (0.55, 1.0))],
        "flag-base": [line((0.3, 0.2), (0.55, 0.0), (0.55, 1.0)), line((0.25, 1.0), (0.85, 1.0))],
        "lead-in": [line((0.12, 0.42), (0.6, 0.0), (0.6, 1.0))],
        "lead-in-base": [line((0.12, 0.42), (0.6, 0.0), (0.6, 1.0)), line((0.3, 1.0), (0.9, 1.0))]},
    2: {"plain": [arc(0.5, 0.28, 0.36, 0.28, 200, 395) + line((0.1, 1.0), (0.92, 1.0))],
        "looped": [arc(0.5, 0.28, 0.36, 0.28, 200, 395)
                   + curve((0.79, 0.44), (0.35, 0.82), (0.12, 0.95), (0.2, 1.02), (0.3, 0.92), (0.2, 0.88),
                           (0.22, 0.97), (0.5, 0.99), (0.92, 0.95))]},
    3: {"round": [arc(0.45, 0.26, 0.36, 0.25, 200, 455) + arc(0.45, 0.75, 0.4, 0.25, 265, 520)],
        "flat-top": [line((0.1, 0.02), (0.85, 0.02), (0.42, 0.42)) + arc(0.45, 0.7, 0.42, 0.29, 270, 520)]},
    4: {"closed": [line((0.7, 1.0), (0.7, 0.0), (0.05, 0.68), (0.95, 0.68))],
        "open-top": [line((0.15, 0.0), (0.1, 0.62), (0.95, 0.62)), line((0.7, 0.12), (0.7, 1.0))]},
    5: {"three-stroke": [line((0.25, 0.0), (0.2, 0.45)) + arc(0.47, 0.7, 0.38, 0.28, 222, 510),
                         line((0.25, 0.0), (0.85, 0.0))],
        "one-stroke": [line((0.85, 0.0), (0.25, 0.0), (0.2, 0.45)) + arc(0.47, 0.7, 0.38, 0.28, 222, 510)]},
    6: {"curved": [curve((0.75, 0.02), (0.4, 0.12), (0.2, 0.42), (0.18, 0.7)) + _loop6()],
        "straight": [line((0.72, 0.0), (0.2, 0.62)) + _loop6()]},
    7: {"plain": [line((0.05, 0.02), (0.92, 0.02), (0.4, 1.0))],
        "crossed": [line((0.05, 0.02), (0.92, 0.02), (0.4, 1.0)), line((0.35, 0.5), (0.85, 0.5))],
        "curved": [line((0.05, 0.05), (0.92, 0.02)) + curve((0.92, 0.02), (0.65, 0.4), (0.5, 0.7), (0.45, 1.0))]},
    8: {"one-stroke": [curve((0.78, 0.12), (0.5, 0.0), (0.22, 0.12), (0.27, 0.35), (0.5, 0.5), (0.78, 0.7),
                             (0.74, 0.93), (0.5, 1.0), (0.22, 0.92), (0.22, 0.7), (0.5, 0.5), (0.73, 0.3),
                             (0.78, 0.12))],
        "two-loops": [circle(0.5, 0.24, 0.26, ry=0.24, start=90), circle(0.5, 0.73, 0.33, ry=0.27)]},
    9: {"straight": [_loop9() + line((0.83, 0.3), (0.8, 1.0))],
        "curved-tail": [_loop9() + curve((0.83, 0.3), (0.82, 0.7), (0.68, 0.95), (0.35, 1.0))],
        "looped": [_loop9() + curve((0.83, 0.3), (0.83, 0.8), (0.65, 1.0), (0.4, 0.95), (0.5, 0.82), (0.8, 0.8))]},
}


# ----- letters (never the ones that look like digits): LETTERS[c] = [variant strokes, ...]

LETTERS = {
    "A": [[line((0.0, 1.0), (0.5, 0.0), (1.0, 1.0)), line((0.22, 0.6), (0.78, 0.6))],
          [line((0.05, 1.0), (0.05, 0.45)) + arc(0.5, 0.45, 0.45, 0.45, 180, 360) + line((0.95, 0.45), (0.95, 1.0)),
           line((0.05, 0.6), (0.95, 0.6))]],
    "C": [[arc(0.55, 0.5, 0.45, 0.5, -40, -320)], [line((0.9, 0.05), (0.1, 0.05), (0.1, 0.95), (0.9, 0.95))]],
    "D": [[line((0.1, 0.0), (0.1, 1.0)), line((0.1, 0.0)) + arc(0.3, 0.5, 0.6, 0.5, -90, 90) + line((0.1, 1.0))],
          [line((0.1, 0.0), (0.1, 1.0), (0.6, 1.0), (0.95, 0.7), (0.95, 0.3), (0.6, 0.0), (0.1, 0.0))]],
    "E": [[line((0.9, 0.0), (0.1, 0.0), (0.1, 1.0), (0.9, 1.0)), line((0.1, 0.5), (0.7, 0.5))],
          [line((0.1, 0.0), (0.1, 1.0)), line((0.1, 0.0), (0.9, 0.0)), line((0.1, 0.5), (0.7, 0.5)),
           line((0.1, 1.0), (0.9, 1.0))]],
    "F": [[line((0.9, 0.0), (0.15, 0.0), (0.15, 1.0)), line((0.15, 0.5), (0.7, 0.5))],
          [curve((0.9, 0.1), (0.6, 0.0), (0.35, 0.1), (0.3, 1.0)), line((0.05, 0.45), (0.7, 0.45))]],
    "H": [[line((0.1, 0.0), (0.1, 1.0)), line((0.9, 0.0), (0.9, 1.0)), line((0.1, 0.5), (0.9, 0.5))],
          [line((0.2, 0.0), (0.05, 1.0)), line((0.95, 0.0), (0.8, 1.0)), line((0.1, 0.4), (0.9, 0.35))]],
    "J": [[line((0.2, 0.0), (0.95, 0.0)), line((0.65, 0.0), (0.65, 0.7)) + arc(0.4, 0.7, 0.25, 0.28, 0, 170)],
          [line((0.7, 0.0), (0.7, 0.65)) + arc(0.4, 0.65, 0.3, 0.33, 0, 190)]],
    "K": [[line((0.1, 0.0), (0.1, 1.0)), line((0.9, 0.0), (0.12, 0.55), (0.9, 1.0))],
          [line((0.1, 0.0), (0.1, 1.0)), line((0.85, 0.05), (0.1, 0.6)), line((0.4, 0.4), (0.9, 1.0))]],
    "L": [[line((0.15, 0.0), (0.15, 1.0), (0.85, 1.0))],
          [curve((0.35, 0.0), (0.3, 0.5), (0.25, 0.92), (0.1, 0.95), (0.2, 0.85), (0.5, 1.0), (0.9, 0.92))]],
    "M": [[line((0.0, 1.0), (0.05, 0.0), (0.5, 0.6), (0.95, 0.0), (1.0, 1.0))],
          [line((0.05, 1.0), (0.2, 0.0), (0.5, 0.8), (0.8, 0.0), (0.95, 1.0))]],
    "N": [[line((0.1, 1.0), (0.1, 0.0), (0.9, 1.0), (0.9, 0.0))],
          [line((0.1, 1.0), (0.15, 0.05)), line((0.15, 0.05), (0.85, 0.95)), line((0.85, 0.95), (0.9, 0.0))]],
    "P": [[line((0.15, 1.0), (0.15, 0.0)) + arc(0.4, 0.27, 0.45, 0.27, -90, 90) + line((0.15, 0.54))],
          [line((0.15, 0.0), (0.15, 1.0)), line((0.15, 0.0), (0.85, 0.0), (0.85, 0.5), (0.15, 0.5))]],
    "Q": [[circle(0.5, 0.47, 0.45, ry=0.45), line((0.6, 0.7), (0.95, 1.0))],
          [circle(0.5, 0.45, 0.45, ry=0.43), curve((0.45, 0.8), (0.6, 0.95), (0.8, 0.92), (1.0, 1.0))]],
    "R": [[line((0.15, 1.0), (0.15, 0.0)) + arc(0.4, 0.27, 0.45, 0.27, -90, 90) + line((0.15, 0.54), (0.9, 1.0))],
          [line((0.15, 0.0), (0.15, 1.0)), line((0.15, 0.0)) + arc(0.4, 0.27, 0.45, 0.27, -90, 90) + line((0.15, 0.54)),
           line((0.45, 0.54), (0.9, 1.0))]],
    "T": [[line((0.0, 0.0), (1.0, 0.0)), line((0.5, 0.0), (0.5, 1.0))],
          [line((0.0, 0.05), (1.0, 0.0)), curve((0.5, 0.02), (0.5, 0.8), (0.4, 1.0), (0.25, 0.9))]],
    "U": [[line((0.1, 0.0), (0.1, 0.6)) + arc(0.5, 0.6, 0.4, 0.4, 180, 0) + line((0.9, 0.0))],
          [line((0.1, 0.0), (0.1, 0.6)) + arc(0.45, 0.6, 0.35, 0.4, 180, 0), line((0.85, 0.0), (0.85, 1.0))]],
    "V": [[line((0.0, 0.0), (0.5, 1.0), (1.0, 0.0))],
          [curve((0.0, 0.0), (0.3, 0.6), (0.5, 1.0), (0.7, 0.5), (1.0, 0.0))]],
    "W": [[line((0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0))],
          [line((0.0, 0.0), (0.0, 0.7)) + arc(0.25, 0.7, 0.25, 0.3, 180, 0) + arc(0.75, 0.7, 0.25, 0.3, 180, 0)
           + line((1.0, 0.0))]],
    "X": [[line((0.0, 0.0), (1.0, 1.0)), line((1.0, 0.0), (0.0, 1.0))],
          [curve((0.05, 0.0), (0.4, 0.4), (0.6, 0.6), (0.95, 1.0)), curve((0.9, 0.0), (0.55, 0.45), (0.1, 1.0))]],
    "Y": [[line((0.0, 0.0), (0.5, 0.5), (1.0, 0.0)), line((0.5, 0.5), (0.5, 1.0))],
          [line((0.05, 0.0), (0.5, 0.5)), line((0.95, 0.0), (0.2, 1.0))]],
    "a": [[circle(0.45, 0.65, 0.35, ry=0.33, start=-10), line((0.8, 0.3), (0.82, 1.0))],
          [arc(0.5, 0.35, 0.35, 0.25, 200, 360) + line((0.85, 0.4), (0.85, 1.0)),
           line((0.85, 0.6)) + arc(0.5, 0.78, 0.35, 0.2, -60, -300) + line((0.85, 0.9))]],
    "c": [[arc(0.55, 0.65, 0.4, 0.33, -40, -320)], [arc(0.5, 0.65, 0.45, 0.33, -80, -270)]],
    "d": [[circle(0.42, 0.7, 0.32, ry=0.28, start=-10), line((0.75, 0.0), (0.76, 1.0))],
          [arc(0.45, 0.7, 0.32, 0.28, -20, -340) + line((0.78, 0.6), (0.8, 0.0))]],
    "e": [[line((0.1, 0.6), (0.9, 0.6)) + arc(0.5, 0.65, 0.4, 0.33, -10, -320)],
          [curve((0.15, 0.75), (0.7, 0.55), (0.65, 0.35), (0.35, 0.4), (0.2, 0.7), (0.4, 1.0), (0.85, 0.9))]],
    "f": [[curve((0.85, 0.1), (0.6, 0.0), (0.4, 0.15), (0.4, 1.0)), line((0.1, 0.4), (0.75, 0.4))],
          [curve((0.85, 0.08), (0.6, 0.0), (0.45, 0.2), (0.45, 0.7), (0.35, 1.0)), line((0.15, 0.45), (0.7, 0.42))]],
    "h": [[line((0.15, 0.0), (0.15, 1.0)), line((0.15, 0.65)) + arc(0.48, 0.65, 0.33, 0.25, 180, 360) + line((0.81, 1.0))],
          [line((0.15, 0.0), (0.15, 1.0)) + arc(0.48, 0.65, 0.33, 0.28, 180, 360) + line((0.81, 0.9), (0.95, 1.0))]],
    "j": [[line((0.6, 0.3), (0.6, 0.85)) + arc(0.35, 0.85, 0.25, 0.15, 0, 170), circle(0.6, 0.08, 0.04)],
          [line((0.6, 0.3), (0.6, 1.0)) + line((0.3, 1.0)), circle(0.6, 0.08, 0.05)]],
    "k": [[line((0.15, 0.0), (0.15, 1.0)), line((0.8, 0.35), (0.17, 0.7), (0.85, 1.0))],
          [line((0.15, 0.0), (0.15, 1.0)), curve((0.17, 0.8), (0.7, 0.4), (0.75, 0.6), (0.3, 0.7), (0.85, 1.0))]],
    "m": [[line((0.05, 1.0), (0.05, 0.35)) + arc(0.275, 0.55, 0.225, 0.2, 180, 360) + line((0.5, 1.0)),
           line((0.5, 0.55)) + arc(0.725, 0.55, 0.225, 0.2, 180, 360) + line((0.95, 1.0))],
          [line((0.05, 0.35), (0.05, 1.0)), line((0.05, 0.5), (0.28, 0.35), (0.5, 0.5), (0.5, 1.0)),
           line((0.5, 0.5), (0.72, 0.35), (0.95, 0.5), (0.95, 1.0))]],
    "n": [[line((0.15, 1.0), (0.15, 0.35)) + arc(0.5, 0.6, 0.35, 0.25, 180, 360) + line((0.85, 1.0))],
          [line((0.15, 0.35), (0.15, 1.0)), line((0.15, 0.5), (0.5, 0.35), (0.85, 0.5), (0.85, 1.0))]],
    "p": [[line((0.15, 0.3), (0.15, 1.0)), line((0.15, 0.35)) + arc(0.45, 0.5, 0.35, 0.18, -90, 90) + line((0.15, 0.68))],
          [line((0.15, 1.0), (0.15, 0.3)) + arc(0.45, 0.45, 0.35, 0.18, 180, 450)]],
    "r": [[line((0.2, 0.3), (0.2, 1.0)), curve((0.2, 0.55), (0.45, 0.32), (0.8, 0.35))],
          [line((0.2, 0.3), (0.2, 1.0)) + curve((0.2, 1.0), (0.25, 0.5), (0.5, 0.33), (0.85, 0.4))]],
    "t": [[line((0.45, 0.0), (0.45, 1.0)), line((0.1, 0.3), (0.85, 0.3))],
          [curve((0.45, 0.0), (0.42, 0.8), (0.55, 1.0), (0.85, 0.9)), line((0.1, 0.35), (0.8, 0.32))]],
    "u": [[line((0.15, 0.3), (0.15, 0.75)) + arc(0.45, 0.75, 0.3, 0.25, 180, 0) + line((0.75, 0.3), (0.75, 1.0))],
          [line((0.15, 0.3), (0.15, 0.75)) + arc(0.5, 0.75, 0.35, 0.25, 180, 0) + line((0.85, 0.3))]],
    "v": [[line((0.05, 0.3), (0.5, 1.0), (0.95, 0.3))], [curve((0.0, 0.35), (0.45, 1.0), (0.7, 0.6), (1.0, 0.3))]],
    "w": [[line((0.0, 0.3), (0.25, 1.0), (0.5, 0.5), (0.75, 1.0), (1.0, 0.3))],
          [line((0.0, 0.3)) + arc(0.25, 0.7, 0.25, 0.3, 180, 0) + arc(0.75, 0.7, 0.25, 0.3, 180, 0) + line((1.0, 0.3))]],
    "x": [[line((0.1, 0.3), (0.9, 1.0)), line((0.9, 0.3), (0.1, 1.0))],
          [arc(0.25, 0.65, 0.25, 0.35, -80, 80), arc(0.75, 0.65, 0.25, 0.35, 260, 100)]],
    "y": [[line((0.05, 0.0), (0.5, 0.5)), line((0.95, 0.0), (0.3, 1.0))],
          [line((0.15, 0.0), (0.15, 0.3)) + arc(0.45, 0.3, 0.3, 0.25, 180, 0),
           line((0.75, 0.0), (0.75, 0.8)) + arc(0.5, 0.8, 0.25, 0.2, 0, 170)]],
}

SYMBOLS = {
    "+": [[line((0.5, 0.0), (0.5, 1.0)), line((0.0, 0.5), (1.0, 0.5))],
          [line((0.5, 0.1), (0.45, 0.9)), line((0.05, 0.45), (0.95, 0.55))]],
    "=": [[line((0.0, 0.3), (1.0, 0.3)), line((0.0, 0.7), (1.0, 0.7))],
          [line((0.0, 0.35), (1.0, 0.3)), line((0.05, 0.65), (0.95, 0.6))]],
    "#": [[line((0.35, 0.0), (0.3, 1.0)), line((0.7, 0.0), (0.65, 1.0)), line((0.0, 0.33), (1.0, 0.33)),
           line((0.0, 0.67), (1.0, 0.67))],
          [line((0.4, 0.0), (0.2, 1.0)), line((0.8, 0.0), (0.6, 1.0)), line((0.05, 0.3), (1.0, 0.3)),
           line((0.0, 0.7), (0.95, 0.7))]],
    "*": [[line((0.5, 0.0), (0.5, 1.0)), line((0.07, 0.25), (0.93, 0.75)), line((0.93, 0.25), (0.07, 0.75))],
          [line((0.5, 0.0), (0.5, 1.0)), line((0.0, 0.5), (1.0, 0.5)), line((0.15, 0.15), (0.85, 0.85)),
           line((0.85, 0.15), (0.15, 0.85))]],
    "?": [[arc(0.5, 0.25, 0.35, 0.25, 190, 450) + line((0.5, 0.7)), circle(0.5, 0.95, 0.04)],
          [arc(0.5, 0.25, 0.35, 0.25, 180, 420) + curve((0.55, 0.5), (0.45, 0.6), (0.48, 0.75)), line((0.48, 0.95), (0.5, 0.97))]],
    "!": [[line((0.5, 0.0), (0.5, 0.7)), circle(0.5, 0.95, 0.04)], [line((0.45, 0.0), (0.55, 0.7)), line((0.5, 0.93), (0.52, 0.96))]],
    "&": [[curve((0.95, 1.0), (0.3, 0.45), (0.25, 0.15), (0.45, 0.0), (0.6, 0.15), (0.5, 0.4), (0.1, 0.7),
                 (0.2, 0.95), (0.5, 0.95), (0.85, 0.6))]],
    "@": [[circle(0.5, 0.5, 0.17, ry=0.2, start=0) + curve((0.67, 0.5), (0.72, 0.7), (0.9, 0.65), (0.95, 0.45),
                                                           (0.8, 0.1), (0.45, 0.03), (0.1, 0.3), (0.1, 0.7), (0.45, 0.97), (0.8, 0.9))]],
    "%": [[line((0.9, 0.0), (0.1, 1.0)), circle(0.2, 0.15, 0.15), circle(0.8, 0.85, 0.15)]],
    "$": [[curve((0.85, 0.2), (0.5, 0.1), (0.15, 0.25), (0.3, 0.45), (0.7, 0.55), (0.85, 0.75), (0.5, 0.9), (0.1, 0.8)),
           line((0.5, 0.0), (0.5, 1.0))]],
    "<": [[line((0.9, 0.1), (0.1, 0.5), (0.9, 0.9))], [line((0.85, 0.0), (0.15, 0.5), (0.85, 1.0))]],
    ">": [[line((0.1, 0.1), (0.9, 0.5), (0.1, 0.9))], [line((0.15, 0.0), (0.85, 0.5), (0.15, 1.0))]],
    "~": [[curve((0.0, 0.6), (0.25, 0.4), (0.5, 0.55), (0.75, 0.65), (1.0, 0.4))],
          [curve((0.0, 0.55), (0.2, 0.4), (0.4, 0.45), (0.6, 0.6), (0.8, 0.55), (1.0, 0.4))]],
    "->": [[line((0.0, 0.5), (1.0, 0.5)), line((0.7, 0.25), (1.0, 0.5), (0.7, 0.75))],
           [line((0.0, 0.5), (0.95, 0.5)), polygon((1.0, 0.5), (0.7, 0.3), (0.7, 0.7))]],
    "<-": [[line((1.0, 0.5), (0.0, 0.5)), line((0.3, 0.25), (0.0, 0.5), (0.3, 0.75))],
           [line((1.0, 0.5), (0.05, 0.5)), polygon((0.0, 0.5), (0.3, 0.3), (0.3, 0.7))]],
    "up": [[line((0.5, 1.0), (0.5, 0.0)), line((0.25, 0.3), (0.5, 0.0), (0.75, 0.3))],
           [line((0.5, 1.0), (0.5, 0.05)), polygon((0.5, 0.0), (0.3, 0.3), (0.7, 0.3))]],
    "down": [[line((0.5, 0.0), (0.5, 1.0)), line((0.25, 0.7), (0.5, 1.0), (0.75, 0.7))],
             [line((0.5, 0.0), (0.5, 0.95)), polygon((0.5, 1.0), (0.3, 0.7), (0.7, 0.7))]],
}
SHARED_SYMBOLS = sorted(k for k, v in SYMBOLS.items() if len(v) == 1)

SHAPES = {
    "star": [star(), star(outline=True), star(6, outline=True)],
    "smiley": [[circle(), circle(0.35, 0.38, 0.04), circle(0.65, 0.38, 0.04), arc(0.5, 0.55, 0.22, 0.18, 20, 160)],
               [circle(), line((0.35, 0.32), (0.35, 0.42)), line((0.65, 0.32), (0.65, 0.42)),
                arc(0.5, 0.8, 0.22, 0.15, 200, 340)]],  # variant 1 is a frown
    "heart": [[curve((0.5, 1.0), (0.1, 0.55), (0.05, 0.25), (0.25, 0.08), (0.5, 0.3), (0.75, 0.08), (0.95, 0.25),
                     (0.9, 0.55), (0.5, 1.0))],
              [curve((0.5, 0.3), (0.3, 0.05), (0.05, 0.2), (0.1, 0.5), (0.5, 1.0)),
               curve((0.5, 0.3), (0.7, 0.05), (0.95, 0.2), (0.9, 0.5), (0.5, 1.0))]],
    "triangle": [[polygon((0.5, 0.0), (1.0, 1.0), (0.0, 1.0))], [polygon((0.0, 0.0), (1.0, 0.5), (0.0, 1.0))]],
    "square": [[polygon((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))],
               [line((0.0, 0.0), (1.0, 0.0), (1.0, 1.0)), line((0.0, 0.0), (0.0, 1.0), (1.0, 1.0))],
               [polygon((0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5))]],  # a diamond
    "circle-cross": [[circle(), line((0.15, 0.15), (0.85, 0.85)), line((0.85, 0.15), (0.15, 0.85))],
                     [circle(), line((0.5, 0.0), (0.5, 1.0)), line((0.0, 0.5), (1.0, 0.5))]],
    "spiral": [[spiral(2.5)], [spiral(3.5)[::-1]]],
    "wave": [[wave(2.5)], [wave(1.5, 0.3)], [wave(4, 0.12)]],
    "zigzag": [[zigzag(4)], [zigzag(6, 0.2)], [zigzag(3, 0.4)]],
    "house": [[polygon((0.1, 0.45), (0.9, 0.45), (0.9, 1.0), (0.1, 1.0)), line((0.0, 0.5), (0.5, 0.0), (1.0, 0.5)),
               line((0.4, 1.0), (0.4, 0.7), (0.6, 0.7), (0.6, 1.0))]],
    "sun": [[circle(0.5, 0.5, 0.25)] + [line((0.5 + 0.33 * np.cos(a), 0.5 + 0.33 * np.sin(a)),
                                             (0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)))
                                        for a in np.radians(np.arange(0, 360, 45))]],
    "lightning": [[polygon((0.55, 0.0), (0.15, 0.55), (0.5, 0.55), (0.35, 1.0), (0.85, 0.4), (0.5, 0.4), (0.75, 0.0))]],
    "envelope": [[polygon((0.0, 0.2), (1.0, 0.2), (1.0, 0.8), (0.0, 0.8)), line((0.0, 0.2), (0.5, 0.55), (1.0, 0.2))]],
}
EVAL_ONLY_SHAPES = ("house", "sun", "lightning", "envelope")
TRAIN_SCRIBBLES, EVAL_SCRIBBLES = ("curve", "hatch"), ("crosshatch", "coil")
KIND_SHARE = {"letter": 0.45, "symbol": 0.2, "shape": 0.2, "scribble": 0.15}  # share of each kind in non_digits


def held_out_variants(variants: list, split: str) -> list:
    """The variants a split may draw: even-numbered ones for "train", odd-numbered for "eval"."""
    return variants[0::2] if split == "train" else variants[1::2]


def catalogue(split: str) -> dict[str, list[tuple[str, list]]]:
    """{kind: [(name, strokes), ...]} of the glyphs the split draws (scribbles are made on the fly)."""
    letters = [(c, v) for c, vs in LETTERS.items() for v in held_out_variants(vs, split)]
    symbols = [(k, v) for k, vs in SYMBOLS.items() for v in (vs if len(vs) == 1 else held_out_variants(vs, split))]
    shapes = [(k, v) for k, vs in SHAPES.items() if (k in EVAL_ONLY_SHAPES) == (split == "eval")
              for v in (vs if k in EVAL_ONLY_SHAPES else held_out_variants(vs, split))]
    return {"letter": letters, "symbol": symbols, "shape": shapes}


# ----- drawing

def scribble(kind: str, rng: np.random.Generator) -> list:
    if kind == "curve":
        return [curve(*rng.uniform(0, 1, (rng.integers(4, 9), 2)))]
    if kind in ("hatch", "crosshatch"):
        strokes = []
        for angle in [rng.uniform(0, np.pi)] + ([rng.uniform(0, np.pi)] if kind == "crosshatch" else []):
            d, n = np.array([np.cos(angle), np.sin(angle)]), rng.integers(3, 7)
            normal = np.array([-d[1], d[0]])
            for k in np.linspace(-0.4, 0.4, n):
                c = 0.5 + k * normal
                strokes.append(line(c - 0.45 * d, c + 0.45 * d))
        return strokes
    t = np.linspace(0, 1, 120)  # coil: circling while moving right, like a child's "eeee"
    loops, r = rng.integers(3, 7), rng.uniform(0.12, 0.25)
    return [[(0.1 + 0.8 * a + r * np.cos(2 * np.pi * loops * a), 0.5 + r * np.sin(2 * np.pi * loops * a)) for a in t]]


def densify(stroke, step=STEP) -> np.ndarray:
    """The polyline resampled so no two neighbours are more than `step` apart."""
    p = np.asarray(stroke, float)
    if len(p) < 2:
        return p
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    if s[-1] == 0:
        return p[:1]
    t = np.linspace(0, s[-1], max(2, int(s[-1] / step) + 1))
    return np.stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])], 1)


def render(strokes, rng: np.random.Generator, side=SIDE, width=(0.02, 0.12), height=(0.35, 0.8), wobble=0.03,
           tilt=12.0, slant=0.3, max_width=0.18) -> np.ndarray:
    """Draw a glyph (strokes in a unit box) as a person would: returns (side, side) uint8, black ink on white.

    width: brush diameter as a share of the side; height: glyph height as a share of the side;
    wobble: amplitude of the smooth warp (unit-box lengths); tilt: max rotation (degrees); slant: max shear;
    max_width: the brush is at most this share of the glyph's size.
    """
    lines = [densify(s) for s in strokes]
    pts = np.concatenate(lines)
    lo, hi = pts.min(0), pts.max(0)
    centre, span = (lo + hi) / 2, max((hi - lo).max(), 1e-3)
    # a smooth warp shared by all strokes (crossings stay crossings), then a small per-stroke nudge
    f, phase = rng.uniform(0.5, 1.5, (2, 2)), rng.uniform(0, 2 * np.pi, (2, 2))
    amp = wobble * rng.uniform(0.3, 1.0)
    warped = []
    for p in lines:
        q = (p - centre) / span
        q = q + amp * np.sin(2 * np.pi * (q[:, ::-1] * f[0] + q * f[1]) + phase[0])
        warped.append(q + rng.normal(0, wobble / 3, 2))
    aspect = np.exp(rng.uniform(-0.15, 0.15))
    a, k = np.radians(rng.uniform(-tilt, tilt)), rng.uniform(-slant, slant)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m = rot @ np.array([[aspect, -k], [0, 1 / aspect]])  # shear x by y: a slant to the right for k > 0
    scale = rng.uniform(*height) * side
    offset = side / 2 + rng.normal(0, 0.06 * side, 2)  # roughly, not exactly, in the middle
    w = max(1.0, min(rng.uniform(*width) * side, max_width * scale))  # brush (px); wider fills the drawing in
    placed = [q @ m.T * scale + offset for q in warped]
    allxy = np.concatenate(placed)
    lo, hi, room = allxy.min(0), allxy.max(0), side - w - 2  # the ink must stay on the canvas
    if (hi - lo).max() > room:  # too big once bent and turned: shrink about the middle
        shrink = room / (hi - lo).max()
        placed = [(xy - offset) * shrink + offset for xy in placed]
        lo, hi = (lo - offset) * shrink + offset, (hi - offset) * shrink + offset
    shift = np.clip(lo, w / 2 + 1, None) - lo + np.clip(hi, None, side - w / 2 - 1) - hi
    img = Image.new("L", (SUPERSAMPLE * side, SUPERSAMPLE * side), 255)
    draw = ImageDraw.Draw(img)
    wide = max(1, round(SUPERSAMPLE * w))
    r = wide / 2
    for xy in placed:
        xy = (xy + shift) * SUPERSAMPLE
        if len(xy) > 1:
            draw.line(xy.ravel().tolist(), fill=0, width=wide)
        if wide > 2:  # a round pen: round ends, and round joints where the stroke turns (joint="curve" is slower)
            for box in np.hstack([xy - r, xy + r])[corners(xy)].tolist():
                draw.ellipse(box, fill=0)
    return np.asarray(img.reduce(SUPERSAMPLE))  # smooth edges, as a browser canvas draws them
    return np.asarray(img)


def corners(xy: np.ndarray, degrees: float = 20.0) -> np.ndarray:
    """Which points of a polyline are its ends or turn by more than `degrees` (where a wide line shows a notch)."""
    keep = np.ones(len(xy), bool)
    if len(xy) > 2:
        d = np.diff(xy, axis=0)
        a, b = d[:-1], d[1:]
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-9)
        keep[1:-1] = cos < np.cos(np.radians(degrees))
    return keep


def split_code(split: str) -> int:
    if split not in ("train", "eval"):
        raise ValueError(f'split must be "train" or "eval", got {split!r}')
    return 0 if split == "train" else 1


def non_digit_items(n: int, seed: int, split: str = "train") -> tuple[list[tuple[str, str, list]], np.random.Generator]:
    """([(kind, name, strokes)] for the n non-digits, the generator to draw them with)."""
    rng = np.random.default_rng([seed, split_code(split), 0])
    cat = catalogue(split)
    kinds = rng.choice(list(KIND_SHARE), size=n, p=list(KIND_SHARE.values()))
    scribbles = TRAIN_SCRIBBLES if split == "train" else EVAL_SCRIBBLES
    items = []
    for kind in kinds:
        if kind == "scribble":
            name = str(rng.choice(scribbles))
            items.append((kind, name, scribble(name, rng)))
        else:
            name, strokes = cat[kind][rng.integers(len(cat[kind]))]
            items.append((kind, name, strokes))
    return items, rng


def non_digits(n: int, seed: int, split: str = "train", return_names: bool = False, side: int = SIDE):
    """n drawings that are not digits, (n, side, side) uint8, black on white; see the module docstring for
    what "eval" holds out from "train". With return_names, also a list of (kind, name) per image."""
    items, rng = non_digit_items(n, seed, split)
    images = np.stack([render(s, rng, side) for _, _, s in items]) if n else np.zeros((0, side, side), np.uint8)
    return (images, [(k, name) for k, name, _ in items]) if return_names else images


def drawn_digits(n: int, seed: int, return_styles: bool = False, side: int = SIDE, split: str = "eval"):
    """n hand-drawn-style digits (images (n, side, side) uint8 black on white, labels (n,) int64), each in a
    style from DIGIT_STYLES. With return_styles, also each style name.

    "eval" (the default) draws every style and is an evaluation set: never train on it. "train" draws from
    another random stream and only the even-numbered styles of each digit (held_out_variants), so the
    odd-numbered ones (the 1 with a lead-in, the crossed 7, the open-top 4, ...) stay unseen in training.
    Training on drawn digits matters beside non_digits: both come from this module's pen, and a network
    that saw the pen only on non-digits would learn to refuse the pen instead of the shapes."""
    rng = np.random.default_rng([seed, 2, split_code(split)])
    labels = rng.integers(0, 10, n).astype(np.int64)
    styles, images = [], []
    for d in labels:
        names = list(DIGIT_STYLES[d]) if split == "eval" else held_out_variants(list(DIGIT_STYLES[d]), split)
        name = names[rng.integers(len(names))]
        styles.append(name)
        images.append(render(DIGIT_STYLES[d][name], rng, side, width=(0.03, 0.1), height=(0.45, 0.8),
                             wobble=0.025, tilt=10.0, slant=0.25, max_width=0.22))
    images = np.stack(images) if n else np.zeros((0, side, side), np.uint8)
    return (images, labels, styles) if return_styles else (images, labels)


# ----- printed digits

# no digits, or not ones that read as digits (cmmi10's are old-style figures: a 0 like an "o", a 9 below the line)
SYMBOL_FONTS = ("cmex10", "cmsy10", "cmmi10", "STIXSiz", "STIXNonUni", "LastResort")
EVAL_FAMILIES = ("DejaVu", "Liberation")  # eval_fonts' families: matplotlib's own DejaVu copies are left out of training


def training_fonts() -> list[str]:
    """matplotlib's bundled TrueType fonts whose digits look like digits: STIX and Computer Modern.

    Symbol fonts and cmmi10 (old-style figures) are left out, and so is matplotlib's copy of DejaVu: the same
    typeface as the system's DejaVu fonts in eval_fonts(), which would otherwise not be held out."""
    import matplotlib

    folder = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")
    return sorted(p for p in glob.glob(os.path.join(folder, "*.ttf"))
                  if not os.path.basename(p).startswith(SYMBOL_FONTS + EVAL_FAMILIES) and draws_digits(p))


def draws_digits(path: str) -> bool:
    """Whether the font has ten distinct, non-empty digit glyphs (DejaVu*Display has none, for example)."""
    masks = {bytes(font(path, 32).getmask(str(d))) for d in range(10)}
    return len(masks) == 10 and all(any(m) for m in masks)


def eval_fonts() -> list[str]:
    """The system's Liberation and DejaVu fonts: held out, never used for training."""
    paths = glob.glob("/usr/share/fonts/truetype/liberation/*.ttf") + glob.glob("/usr/share/fonts/truetype/dejavu/*.ttf")
    return sorted(p for p in paths if draws_digits(p))


@lru_cache(maxsize=512)
def font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def printed_digits(n: int, seed: int, fonts: list[str], side: int = SIDE):
    """n digits rendered from the fonts: (images (n, side, side) uint8 dark on light, labels (n,) int64).

    Random font, size (35-75% of the side), weight (stroke_width), slant (shear), small rotation,
    position, and ink/paper greys."""
    if not fonts:
        raise ValueError("no fonts given")
    rng = np.random.default_rng([seed, 3, 0])
    labels = rng.integers(0, 10, n).astype(np.int64)
    images = []
    for d in labels:
        size = int(rng.integers(7, 16)) * side // 20  # a few sizes, so fonts are cached
        face = font(fonts[rng.integers(len(fonts))], size)
        ink, paper = int(rng.integers(0, 80)), int(rng.integers(200, 256))
        img = Image.new("L", (side, side), paper)
        weight = int(rng.choice([0, 0, 0, 1])) * max(1, size // 40)
        ImageDraw.Draw(img).text((side / 2, side / 2), str(d), fill=ink, font=face, anchor="mm", stroke_width=weight,
                                 stroke_fill=ink)
        a, k = np.radians(rng.uniform(-8, 8)), rng.uniform(-0.3, 0.1)
        shift = rng.normal(0, 0.05 * side, 2)
        # inverse map (output -> input) about the centre: rotation, then shear
        m = np.linalg.inv(np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ np.array([[1, k], [0, 1]]))
        c = np.array([side / 2, side / 2])
        t = c - m @ (c + shift)
        img = img.transform(img.size, Image.Transform.AFFINE, (*m[0], t[0], *m[1], t[1]),
                            resample=Image.Resampling.BILINEAR, fillcolor=paper)
        images.append(np.asarray(img))
    images = np.stack(images) if n else np.zeros((0, side, side), np.uint8)
    return images, labels


# ----- as the model sees them

def to_inputs(images) -> tuple[np.ndarray, np.ndarray]:
    """(pixels (m, 28, 28) float32 from the app's own preprocess, indices of the images that gave one)."""
    from .preprocess import preprocess

    pixels, kept = [], []
    for i, image in enumerate(images):
        digit = preprocess(np.asarray(image))
        if digit.pixels is not None and digit.pixels.shape == (28, 28):
            pixels.append(digit.pixels)
            kept.append(i)
    out = np.stack(pixels).astype(np.float32) if pixels else np.zeros((0, 28, 28), np.float32)
    return out, np.asarray(kept, np.int64)
