"""Pictures for people: the network's 28x28 input enlarged, probability cards, and the confusion matrix."""
import numpy as np
from PIL import Image, ImageDraw, ImageOps

INK = (37, 99, 235)  # bar colour


def enlarge(pixels: np.ndarray, scale: int = 8) -> Image.Image:
    """A 28x28 array (0..1 or uint8) as a big image with crisp square pixels."""
    a = np.asarray(pixels)
    a = a if a.dtype == np.uint8 else (np.clip(a, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(a, "L").resize((a.shape[1] * scale, a.shape[0] * scale), Image.Resampling.NEAREST)


def framed(pixels: np.ndarray, right: bool, scale: int = 4) -> Image.Image:
    """An enlarged digit in a green frame when the model read it right, red when it did not."""
    colour = (22, 163, 74) if right else (220, 38, 38)
    return ImageOps.expand(enlarge(pixels, scale).convert("RGB"), border=4, fill=colour)


def probability_card(pixels: np.ndarray | None, probs: np.ndarray | None, note: str = "") -> Image.Image:
    """What the network saw (left) and its ten probabilities as bars (right); a note when nothing was read."""
    card = Image.new("RGB", (460, 224), "white")
    draw = ImageDraw.Draw(card)
    if pixels is not None:
        card.paste(enlarge(pixels).convert("RGB"), (0, 0))
    else:
        draw.rectangle((0, 0, 223, 223), fill=(30, 30, 30))
    if probs is None:
        draw.text((236, 100), note or "nothing to read", fill="black")
        return card
    top = int(np.argmax(probs))
    for d, p in enumerate(probs):
        y = 6 + d * 21
        draw.text((236, y + 3), str(d), fill="black")
        draw.rectangle((250, y, 250 + int(160 * p), y + 16), fill=INK if d == top else (150, 170, 210))
        draw.text((416, y + 3), f"{100 * p:.1f}%", fill="black")
    return card


def confusion_figure(confusion: np.ndarray, title: str = ""):
    """A matplotlib figure of the 10x10 confusion matrix (rows: true digit, columns: predicted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5.2))
    shown = confusion.astype(float)
    np.fill_diagonal(shown, np.nan)  # the diagonal would drown the mistakes' colours
    im = ax.imshow(shown, cmap="Reds")
    for (i, j), n in np.ndenumerate(confusion):
        ax.text(j, i, str(n), ha="center", va="center", fontsize=8, color="black" if i != j else "green")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true digit", title=title)
    fig.colorbar(im, ax=ax, label="mistakes")
    fig.tight_layout()
    plt.close(fig)
    return fig
