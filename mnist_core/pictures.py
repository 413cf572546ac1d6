"""Pictures for people: the network's 28x28 input enlarged, probability cards, a number read with its digits'
boxes and cards, sheets of captioned tiles, and the confusion matrix.

They sit on a light or a dark page alike: transparent backgrounds, and text and lines in mid-tone colours that
read on white and on near-black (no white slabs on a dark page)."""
import textwrap
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

INK = (59, 130, 246)  # the top bar
OTHER = (120, 140, 190)  # the other bars
TEXT = (115, 120, 135)  # mid grey: about 4:1 contrast on white and on near-black pages
RIGHT, WRONG = (34, 170, 80), (230, 60, 60)
CLEAR = (0, 0, 0, 0)  # transparent: the page's own background shows
CARD = (460, 224)  # pixels: a file's card on the Upload tab (its 28x28 view and bars, or a message)


@lru_cache(maxsize=8)
def font(size: int = 14) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def enlarge(pixels: np.ndarray, scale: int = 8) -> Image.Image:
    """A 28x28 array (0..1 or uint8) as a big image with crisp square pixels."""
    a = np.asarray(pixels)
    a = a if a.dtype == np.uint8 else (np.clip(a, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(a, "L").resize((a.shape[1] * scale, a.shape[0] * scale), Image.Resampling.NEAREST)


def framed(pixels: np.ndarray, right: bool, scale: int = 4) -> Image.Image:
    """An enlarged digit in a green frame when the model read it right, red when it did not."""
    return ImageOps.expand(enlarge(pixels, scale).convert("RGB"), border=4, fill=RIGHT if right else WRONG)


def probability_card(pixels: np.ndarray | None, probs: np.ndarray | None) -> Image.Image:
    """What the network saw (left) and its ten probabilities as bars (right)."""
    card = Image.new("RGBA", CARD, CLEAR)
    draw = ImageDraw.Draw(card)
    if pixels is not None:
        card.paste(enlarge(pixels).convert("RGBA"), (0, 0))
    if probs is None:
        return card
    top = int(np.argmax(probs))
    for d, p in enumerate(probs):
        y = 6 + d * 21
        draw.text((236, y), str(d), fill=TEXT, font=font())
        draw.rectangle((252, y + 7, 402, y + 9), fill=TEXT + (60,))  # the bar's track, faint
        draw.rectangle((252, y, 252 + int(150 * p), y + 16), fill=INK if d == top else OTHER)
        draw.text((408, y), f"{100 * p:.1f}%", fill=TEXT, font=font(13))
    return card


def message_card(text: str, size: tuple[int, int] = CARD) -> Image.Image:
    """A card that says, in words, why there is no picture."""
    card = Image.new("RGBA", size, CLEAR)
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=TEXT, width=2)
    draw.multiline_text((16, 16), textwrap.fill(text, 44), fill=WRONG, font=font(16), spacing=6)
    return card


def number_picture(drawing: Image.Image, boxes: list[tuple[int, int, int, int]], labels: list[str],
                   cards: list[Image.Image], captions: list[str], width: int = 560) -> Image.Image:
    """A copy of the drawing, `width` pixels wide, with each digit's box and label on it, above a row of the
    digits' cards (each captioned)."""
    scale, room = width / drawing.width, 22  # room: paper above the drawing, so a label fits over a top box
    resized = drawing.convert("RGB").resize((width, max(1, round(drawing.height * scale))), Image.Resampling.LANCZOS)
    copy = Image.new("RGB", (width, resized.height + room), "white")  # the pad's paper
    copy.paste(resized, (0, room))
    draw = ImageDraw.Draw(copy)
    for (x0, y0, x1, y1), label in zip(boxes, labels):
        box = [round(x0 * scale) - 3, round(y0 * scale) - 3 + room, round(x1 * scale) + 2, round(y1 * scale) + 2 + room]
        draw.rectangle(box, outline=INK if label != "?" else WRONG, width=3)
        draw.text((box[0] + 2, max(0, box[1] - 20)), label, fill=INK if label != "?" else WRONG, font=font(18))
    row = sheet(cards, captions, columns=max(1, min(len(cards), width // (max(c.width for c in cards) + 8))),
                caption_size=16)
    out = Image.new("RGBA", (max(width, row.width), copy.height + row.height + 8), CLEAR)
    out.paste(copy, (0, 0))
    out.paste(row, (0, copy.height + 8), row)
    return out


def sheet(tiles: list[Image.Image], captions: list[str], columns: int, caption_size: int = 14,
          colours: list[tuple] | None = None) -> Image.Image:
    """Tiles in a grid on a transparent background, each with its caption written underneath (never over the
    picture), wrapped onto more lines rather than cut. Each row is as tall as its own tallest tile and caption."""
    if not tiles:
        return Image.new("RGBA", (1, 1), CLEAR)
    width = max(t.width for t in tiles)
    measure = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    lines = [wrap_text(measure, caption, width, caption_size) for caption in captions]
    rows = [range(i, min(i + columns, len(tiles))) for i in range(0, len(tiles), columns)]
    tall = [max(tiles[i].height for i in row) for row in rows]
    strips = [max(len(lines[i]) for i in row) * (caption_size + 4) + 6 for row in rows]
    pad = 8
    out = Image.new("RGBA", (columns * (width + pad) + pad, sum(tall) + sum(strips) + pad * (len(rows) + 1)), CLEAR)
    draw = ImageDraw.Draw(out)
    y = pad
    for row, height, strip in zip(rows, tall, strips):
        for k, i in enumerate(row):
            x = pad + k * (width + pad)
            out.paste(tiles[i].convert("RGBA"), (x, y))
            colour = colours[i] if colours else TEXT
            draw.multiline_text((x, y + height + 3), "\n".join(lines[i]), fill=colour, font=font(caption_size),
                                spacing=4)
        y += height + strip + pad
    return out


def wrap_text(draw: ImageDraw.ImageDraw, text: str, width: int, size: int) -> list[str]:
    """The text in lines that fit the width: broken between words, and inside a word only when it alone is wider."""
    lines, line = [], ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if draw.textlength(candidate, font=font(size)) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while draw.textlength(word, font=font(size)) > width and len(word) > 1:  # a long file name
            cut = len(word)
            while cut > 1 and draw.textlength(word[:cut], font=font(size)) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    return lines + ([line] if line else [])


def confusion_figure(confusion: np.ndarray, title: str = ""):
    """A matplotlib figure of the 10x10 confusion matrix (rows: true digit, columns: predicted).

    Built on a Figure object, not pyplot, whose global state is unsafe when requests run at once."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5.2))
    fig.patch.set_alpha(0)  # transparent around the matrix: the page's background, light or dark
    ax = fig.subplots()
    ax.patch.set_alpha(0)
    grey = tuple(c / 255 for c in TEXT)
    shown = confusion.astype(float)
    np.fill_diagonal(shown, np.nan)  # the diagonal would drown the mistakes' colours
    shown[shown == 0] = np.nan  # no mistakes: no colour (a pale slab on a dark page otherwise)
    im = ax.imshow(shown, cmap="Reds", vmin=0)  # one mistake pale red, not white
    dark = np.nanmax(shown, initial=0) / 2  # cells above this are dark red: white text stays readable there
    for (i, j), n in np.ndenumerate(confusion):
        color = (tuple(c / 255 for c in RIGHT) if i == j else "white" if n > dark > 0 else "black" if n else
                 tuple(c / 255 for c in TEXT))
        ax.text(j, i, str(n), ha="center", va="center", fontsize=8, color=color)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true digit", title=title)
    bar = fig.colorbar(im, ax=ax, label="mistakes")
    for axis in (ax, bar.ax):
        axis.tick_params(colors=grey)
        axis.xaxis.label.set_color(grey)
        axis.yaxis.label.set_color(grey)
        for spine in axis.spines.values():
            spine.set_color(grey)
    ax.title.set_color(grey)
    fig.tight_layout()
    return fig
