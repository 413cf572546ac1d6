"""Synthetic hand-drawn digits for the tests: polylines in a unit box, drawn with Pillow at any size and place."""
import numpy as np
from PIL import Image, ImageDraw

STROKES = {  # each digit as polylines in a unit square, (x, y) with y down
    0: [[(0.5, 0.0), (0.15, 0.2), (0.1, 0.5), (0.15, 0.8), (0.5, 1.0), (0.85, 0.8), (0.9, 0.5), (0.85, 0.2), (0.5, 0.0)]],
    1: [[(0.35, 0.15), (0.55, 0.0), (0.55, 1.0)]],
    2: [[(0.1, 0.25), (0.3, 0.02), (0.7, 0.02), (0.88, 0.25), (0.8, 0.5), (0.1, 1.0), (0.95, 1.0)]],
    3: [[(0.1, 0.1), (0.5, 0.0), (0.85, 0.15), (0.85, 0.35), (0.45, 0.5), (0.85, 0.65), (0.85, 0.9), (0.5, 1.0), (0.1, 0.9)]],
    4: [[(0.65, 1.0), (0.65, 0.0), (0.05, 0.7), (0.95, 0.7)]],
    7: [[(0.05, 0.0), (0.95, 0.0), (0.35, 1.0)]],
}


def draw(digit=7, size=(280, 280), box=(70, 50, 210, 230), width=18, ink=0, paper=255, mode="L", specks=()):
    """A PIL image of `digit` drawn with round-ended strokes of `width` px inside `box` (x0, y0, x1, y1)."""
    img = Image.new(mode, size, paper)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    for line in STROKES[digit]:
        pts = [(x0 + x * (x1 - x0), y0 + y * (y1 - y0)) for x, y in line]
        d.line(pts, fill=ink, width=width, joint="curve")
        r = width / 2
        for px, py in pts:
            d.ellipse((px - r, py - r, px + r, py + r), fill=ink)
    for sx, sy, r in specks:
        d.ellipse((sx - r, sy - r, sx + r, sy + r), fill=ink)
    return img


def sketchpad_value(img):
    """What a Gradio 6 Sketchpad (image_mode="L") sends: ink on opaque white as the composite."""
    return {"background": None, "layers": [], "composite": np.asarray(img.convert("L"))}
