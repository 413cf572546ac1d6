"""Pictures for people: the network's 28x28 input enlarged, probability cards, sheets of captioned
tiles, and the confusion matrix."""
import textwrap
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

INK = (37, 99, 235)  # bar colour
RIGHT, WRONG = (22, 163, 74), (220, 38, 38)


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
    card = Image.new("RGB", (460, 224), "white")
    draw = ImageDraw.Draw(card)
    if pixels is not None:
        card.paste(enlarge(pixels).convert("RGB"), (0, 0))
    if probs is None:
        return card
    top = int(np.argmax(probs))
    for d, p in enumerate(probs):
        y = 6 + d * 21
        draw.text((236, y), str(d), fill="black", font=font())
        draw.rectangle((252, y, 252 + int(150 * p), y + 16), fill=INK if d == top else (150, 170, 210))
        draw.text((408, y), f"{100 * p:.1f}%", fill="black", font=font(13))
    return card


def message_card(text: str, size: tuple[int, int] = (460, 224)) -> Image.Image:
    """A card that says, in words, why there is no picture."""
    card = Image.new("RGB", size, (248, 248, 248))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, size[0] - 1, size[1] - 1), outline=(200, 200, 200))
    draw.multiline_text((16, 16), textwrap.fill(text, 48), fill=(120, 30, 30), font=font(15), spacing=6)
    return card


def sheet(tiles: list[Image.Image], captions: list[str], columns: int, caption_size: int = 14,
          colours: list[tuple] | None = None) -> Image.Image:
    """Tiles in a grid, each with its caption written underneath (never over the picture)."""
    if not tiles:
        return Image.new("RGB", (1, 1), "white")
    width, height = max(t.width for t in tiles), max(t.height for t in tiles)
    strip = caption_size + 8
    rows = -(-len(tiles) // columns)
    pad = 8
    out = Image.new("RGB", (columns * (width + pad) + pad, rows * (height + strip + pad) + pad), "white")
    draw = ImageDraw.Draw(out)
    for i, (tile, caption) in enumerate(zip(tiles, captions)):
        x, y = pad + (i % columns) * (width + pad), pad + (i // columns) * (height + strip + pad)
        out.paste(tile.convert("RGB"), (x, y))
        colour = colours[i] if colours else (30, 30, 30)
        draw.text((x, y + height + 3), fit_text(draw, caption, width, caption_size), fill=colour, font=font(caption_size))
    return out


def fit_text(draw: ImageDraw.ImageDraw, text: str, width: int, size: int) -> str:
    """The text, shortened with an ellipsis until it fits the width."""
    while text and draw.textlength(text, font=font(size)) > width:
        text = text[:-2] + "…"
    return text


def confusion_figure(confusion: np.ndarray, title: str = ""):
    """A matplotlib figure of the 10x10 confusion matrix (rows: true digit, columns: predicted).

    Built on a Figure object, not pyplot, whose global state is unsafe when requests run at once."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 5.2))
    ax = fig.subplots()
    shown = confusion.astype(float)
    np.fill_diagonal(shown, np.nan)  # the diagonal would drown the mistakes' colours
    im = ax.imshow(shown, cmap="Reds")
    dark = np.nanmax(shown, initial=0) / 2  # cells above this are dark red: white text stays readable there
    for (i, j), n in np.ndenumerate(confusion):
        color = "green" if i == j else "white" if n > dark > 0 else "black"
        ax.text(j, i, str(n), ha="center", va="center", fontsize=8, color=color)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true digit", title=title)
    fig.colorbar(im, ax=ax, label="mistakes")
    fig.tight_layout()
    return fig
