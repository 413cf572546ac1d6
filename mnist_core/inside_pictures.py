"""Pictures of the inside of the network (mnist_core.inside, .neighbours, .probe), drawn with numpy and Pillow in
a few milliseconds. Each is a card on a neutral grey, so it reads on light and dark pages alike, headed by
a few words saying what the layer does."""
import textwrap
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from .pictures import enlarge, font

GREY = 226  # the cards' background, a neutral grey: neither glaring on a dark page nor lost on a white one
BACKGROUND = (GREY, GREY, GREY)
TEXT, FAINT = (25, 25, 25), (105, 105, 105)
TOWARDS, AWAY = np.array([215, 48, 39]), np.array([33, 102, 172])  # red / blue of ColorBrewer's RdBu
WIDTH = 640  # px of every card
TILE = 28  # px a feature map is drawn at, about
DIGIT_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                 (227, 119, 194), (20, 20, 20), (188, 189, 34), (23, 190, 207)]  # matplotlib's tab10, black
# in place of its grey (the colour of the lines that never pass 10%)


def card(height: int, title: str, subtitle: str = "", width: int = WIDTH) -> tuple[Image.Image, ImageDraw.ImageDraw,
                                                                                    int]:
    """A blank card with its title (and a line of explanation); returns it, its pen, and the y where the picture
    starts."""
    image = blank_card(width, height, title, subtitle).copy()
    return image, ImageDraw.Draw(image), top_of(bool(subtitle))


@lru_cache(maxsize=64)
def blank_card(width: int, height: int, title: str, subtitle: str) -> Image.Image:
    """Drawn once per size and title: rendering text is most of a card's cost."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    write(image, (10, 8), title, 16, TEXT)
    if subtitle:
        write(image, (10, 30), subtitle, 13, FAINT)
    return image


@lru_cache(maxsize=4096)
def text_mask(text: str, size: int) -> Image.Image:
    """The text rendered once as a mask (numbers like "93.2%" recur from stroke to stroke)."""
    _, _, right, bottom = font(size).getbbox(text)
    mask = Image.new("L", (max(right, 1), max(bottom, 1)))
    ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=font(size))
    return mask


def write(image: Image.Image, xy, text: str, size: int, colour) -> None:
    """Draw text at xy (its top left) in colour, from the mask cache."""
    mask = text_mask(text, size)
    x, y = int(xy[0]), int(xy[1])
    image.paste(tuple(int(c) for c in colour), (x, y, x + mask.width, y + mask.height), mask)


def stage_caption(stage: int, maps: np.ndarray) -> tuple[str, str]:
    """(title, explanation) for stage `stage` (from 0) whose maps are (channels, side, side)."""
    c, h, w = maps.shape
    what = ("filters light up where they find simple patterns: edges and stroke ends" if stage == 0 else
            "combines the stage before into larger shapes: curves, corners, loops")
    return f"Stage {stage + 1}: {c}x{h}x{w}", f"{c} maps of {h}x{w}; {what}. Brightest first."


def input_picture(pixels: np.ndarray, scale: int = 8) -> Image.Image:
    """The 28x28 the network reads, enlarged."""
    side = pixels.shape[0] * scale
    image, _, top = card(top_of(True) + side + 10, f"Input: {pixels.shape[0]}x{pixels.shape[1]}",
                         "Your drawing, shrunk and centred like the training digits.", width=max(side + 20, 360))
    image.paste(enlarge(pixels, scale).convert("RGB"), (10, top))
    return image


def top_of(subtitle: bool) -> int:
    """Where a card's picture starts below its title (and subtitle)."""
    return 52 if subtitle else 32


def tile_grid(maps: np.ndarray, width: int = WIDTH - 20, gap: int = 2) -> np.ndarray:
    """All channels of (C, H, W) maps as one grid of grey levels 0..255 (float), strongest channel (by mean)
    first, brightness relative to the stage's strongest value; gaps and spare cells are -1 (background).
    One array reshuffle, no loop over channels."""
    c, h, w = maps.shape
    scale = max(1, round(TILE / max(h, w)))
    order = np.argsort(-maps.reshape(c, -1).mean(1), kind="stable")
    peak = maps.max()
    levels = (maps[order] / peak if peak > 0 else np.zeros_like(maps)).clip(0, 1)
    levels = levels.repeat(scale, 1).repeat(scale, 2)  # (C, H*s, W*s)
    columns = max(1, min(c, width // (w * scale + gap)))
    rows = -(-c // columns)
    cells = np.pad(levels * 255, ((0, rows * columns - c), (0, gap), (0, gap)), constant_values=-1)
    grid = cells.reshape(rows, columns, h * scale + gap, w * scale + gap).transpose(0, 2, 1, 3)
    return grid.reshape(rows * (h * scale + gap), columns * (w * scale + gap))[:-gap, :-gap]


def grey_on_card(grid: np.ndarray) -> Image.Image:
    """A (rows, cols) array of grey levels, -1 for background, as an RGB picture."""
    return Image.fromarray(np.where(grid < 0, GREY, grid).astype(np.uint8), "L").convert("RGB")


def feature_maps_picture(stage: int, maps: np.ndarray) -> Image.Image:
    """Every channel of one stage's feature maps (C, H, W) as small tiles, strongest first, with the stage's
    shape in the title."""
    grid = grey_on_card(tile_grid(maps))
    title, subtitle = stage_caption(stage, maps)
    image, _, top = card(top_of(True) + grid.height + 10, title, subtitle)
    image.paste(grid, (10, top))
    return image


def hidden_picture(hidden: np.ndarray) -> Image.Image:
    """The hidden layer as a strip of cells, brighter for larger values."""
    n = len(hidden)
    cell = max(1, (WIDTH - 20) // n)
    peak = hidden.max()
    levels = (hidden / peak if peak > 0 else np.zeros_like(hidden)).clip(0, 1) * 255
    strip = np.repeat(levels.astype(np.uint8)[None, :], 28, axis=0).repeat(cell, axis=1)
    image, _, top = card(top_of(True) + 28 + 10, f"Hidden layer: {n} numbers",
                         "The network's own summary of the drawing, which the last layer turns into ten scores.")
    image.paste(Image.fromarray(strip, "L").convert("RGB"), (10, top))
    return image


def outputs_picture(logits: np.ndarray, probs: np.ndarray) -> Image.Image:
    """The ten outputs: scores before softmax (bars either side of zero) and probabilities after it."""
    row = 20
    image, draw, top = card(top_of(True) + 18 + 10 * row + 8, "Outputs: ten scores, then probabilities",
                            "Softmax turns the scores into probabilities that add up to 1.")
    left, half = 40, 130  # the score bars: zero at left + half, the largest |score| reaches half
    right = left + 2 * half + 70  # the probability bars start here
    write(image, (left, top), "score (before softmax)", 12, FAINT)
    write(image, (right, top), "probability (after softmax)", 12, FAINT)
    top += 18
    biggest = max(float(np.abs(logits).max()), 1e-6)
    best = int(np.argmax(probs))
    draw.line((left + half, top, left + half, top + 10 * row - 4), fill=FAINT)
    for d in range(len(probs)):
        y = top + d * row
        colour = TOWARDS if d == best else (120, 120, 120)
        write(image, (14, y + 1), str(d), 13, TEXT)
        end = left + half + logits[d] / biggest * half
        draw.rectangle((min(end, left + half), y + 2, max(end, left + half), y + row - 4), fill=tuple(colour))
        write(image, (left + 2 * half + 8, y + 2), f"{logits[d]:+.1f}", 12, TEXT)
        draw.rectangle((right, y + 2, right + int(180 * probs[d]), y + row - 4), fill=tuple(colour))
        write(image, (right + 188, y + 2), f"{100 * probs[d]:.1f}%", 12, TEXT)
    return image


def heat_colours(pixels: np.ndarray, maps: np.ndarray, scale: int = 7) -> np.ndarray:
    """(k, 28*scale, 28*scale, 3) uint8: each map over the drawing (ink a darker grey), red where it is
    positive, blue where negative, stronger colour for larger values; one colour scale for all k maps, full
    colour from the 98th percentile of the non-zero values up (a few strong pixels would leave the rest pale)."""
    size = np.abs(maps)
    peak = max(float(np.percentile(size[size > 0], 98)) if size.any() else 0.0, 1e-12)
    strength = np.minimum(size / peak, 1) ** 0.6  # lifts the weaker pixels into view
    hue = np.where(maps[..., None] >= 0, TOWARDS, AWAY)  # (k, 28, 28, 3)
    base = np.asarray(BACKGROUND, np.float32) * (1 - 0.45 * pixels[None, ..., None])  # the ink, faint
    rgb = base + (hue - base) * strength[..., None]
    return rgb.repeat(scale, 1).repeat(scale, 2).round().astype(np.uint8)


def attribution_picture(pixels: np.ndarray, maps: np.ndarray, digits, scale: int = 7) -> Image.Image:
    """Heat maps for the answer and the runner-up: which pixels pushed the network towards each digit (red)
    and which pushed it away (blue)."""
    panels = heat_colours(pixels, np.asarray(maps), scale)
    side = panels.shape[1]
    image, draw, top = card(top_of(True) + 20 + side + 28, "Why this digit?",
                            "Red pixels pushed the network towards the digit, blue pixels away from it.")
    for i, (panel, digit) in enumerate(zip(panels, digits)):
        x = 10 + i * (side + 40)
        write(image, (x, top), f"why {digit}" if i == 0 else f"why not {digit}", 13, TEXT)
        image.paste(Image.fromarray(panel), (x, top + 20))
    legend_x, legend_y = 10 + len(panels) * (side + 40), top + 20
    ramp = np.linspace(1, -1, 120)
    legend = heat_colours(np.zeros((1, 120)), ramp[None, None, :], scale=1)[0].repeat(14, 0)
    if legend_x + 130 < image.width:
        image.paste(Image.fromarray(legend), (legend_x, legend_y))
        write(image, (legend_x, legend_y + 18), "towards", 12, tuple(TOWARDS))
        write(image, (legend_x + 80, legend_y + 18), "away", 12, tuple(AWAY))
    write(image, (10, top + 24 + side), "DeepLIFT (Captum): only ink counts; blank paper pushes neither way.", 12, FAINT)
    return image


def neighbours_picture(found, scale: int = 2) -> Image.Image:
    """The nearest training digits, each with its label and distance underneath; or the reason there are none."""
    side = 28 * scale
    image, draw, top = card(top_of(True) + side + 30, "Training digits it finds most alike",
                            "Nearest in the hidden layer's numbers; label · distance (smaller is closer).")
    if found.message:
        draw.multiline_text((10, top + 4), textwrap.fill(found.message, 80), fill=(140, 30, 30), font=font(13),
                            spacing=4)
        return image
    for i, (picture, label, distance) in enumerate(zip(found.images, found.labels, found.distances)):
        x = 10 + i * (side + 20)
        image.paste(enlarge(picture, scale).convert("RGB"), (x, top))
        write(image, (x, top + side + 4), f"{label} · {distance:.2f}", 13, TEXT)
    return image


def sweep_picture(angles: np.ndarray, probs: np.ndarray, current: float | None = None) -> Image.Image:
    """The ten probabilities as the drawing turns: one line per digit; the digits that ever pass 10% are
    coloured and named at their peak, the rest thin grey. A dashed line marks the current rotation."""
    height = 220
    image, draw, top = card(top_of(True) + height + 26, "Turn the drawing: when does it change its mind?",
                            f"Probability of each digit as the drawing turns from {angles[0]:+.0f}° "
                            f"to {angles[-1]:+.0f}°.")
    x0, x1, y0, y1 = 44, WIDTH - 20, top + 4, top + height

    def x_of(a):
        return x0 + (a - angles[0]) / max(angles[-1] - angles[0], 1e-9) * (x1 - x0)

    def y_of(p):
        return y1 - p * (y1 - y0)

    for p in (0, 0.5, 1):
        draw.line((x0, y_of(p), x1, y_of(p)), fill=(200, 200, 200))
        write(image, (8, y_of(p) - 7), f"{p:.0%}", 12, FAINT)
    for a in (angles[0], 0, angles[-1]):
        write(image, (x_of(a) - 12, y1 + 6), f"{a:+.0f}°", 12, FAINT)
    if current is not None:
        for y in range(int(y0), int(y1), 8):
            draw.line((x_of(current), y, x_of(current), y + 4), fill=TEXT)
    xs = x_of(np.asarray(angles, np.float64))
    shown = probs.max(0) >= 0.1
    for d in np.argsort(probs.max(0)):  # the strongest drawn last, on top
        points = list(zip(xs, y_of(probs[:, d])))
        draw.line(points, fill=DIGIT_COLOURS[d] if shown[d] else (170, 170, 170), width=3 if shown[d] else 1)
        if shown[d]:
            peak = int(np.argmax(probs[:, d]))
            write(image, (min(xs[peak] + 4, x1 - 10), max(y_of(probs[peak, d]) - 18, y0 - 4)), str(d), 16,
                  DIGIT_COLOURS[d])
    return image


def for_the_page(image: Image.Image, grey: bool) -> Image.Image:
    """The picture made quick to send: one channel when it is all grey, and fast PNG compression (Pillow's
    encoderinfo, which the page's encoder picks up). Each stroke sends every picture again, and PNG's default
    compression took longer than drawing them."""
    image = image.convert("L") if grey else image
    image.encoderinfo = {"compress_level": 1}
    return image


def section_pictures(view) -> dict[str, Image.Image]:
    """Every picture of an InsideView (mnist_core.inside_view), by name: input, stage1..stageN, hidden,
    outputs, why, neighbours, sweep."""
    pictures = drawn_pictures(view)
    grey = {"input", "hidden", *(n for n in pictures if n.startswith("stage"))} | (
        set() if view.nearest.message else {"neighbours"})
    return {name: for_the_page(image, name in grey) for name, image in pictures.items()}


def drawn_pictures(view) -> dict[str, Image.Image]:
    layers = view.layers
    pictures = {"input": input_picture(view.pixels)}
    pictures.update({f"stage{i + 1}": feature_maps_picture(i, maps) for i, maps in enumerate(layers.stages)})
    pictures["hidden"] = hidden_picture(layers.hidden)
    pictures["outputs"] = outputs_picture(layers.logits, layers.probs)
    pictures["why"] = attribution_picture(view.pixels, view.maps, view.digits)
    pictures["neighbours"] = neighbours_picture(view.nearest)
    pictures["sweep"] = sweep_picture(view.angles, view.sweep, view.probe.rotate)
    return pictures
