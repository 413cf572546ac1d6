"""Synthetic drawings (mnist_core/synthetic.py): generation speed, how the model reads them, and preview grids.

    python bench/synthetic.py [--n 2000] [--seed 1] [--checkpoint PATH] [--previews]

Prints images per second for each generator (one CPU thread), the model's accuracy on drawn digits per
digit and style and on printed digits (held-out eval fonts and training fonts), and the share of
non-digits (train and eval splits, per kind) given a top probability of at least 0.8. --previews writes
docs/synthetic-nondigits.png, docs/synthetic-drawn.png and docs/synthetic-printed.png.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/: its numbers.py would shadow the standard library's numbers module

import argparse  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from mnist_core import synthetic as S  # noqa: E402
from mnist_core.data import normalize  # noqa: E402
from mnist_core.reader import load_model, probabilities  # noqa: E402


def timed(make):
    start = time.perf_counter()
    out = make()
    return out, time.perf_counter() - start


def read(model, images):
    """(top probabilities, readings, kept indices) for images, through the app's preprocess."""
    pixels, kept = S.to_inputs(images)
    with torch.inference_mode():
        p = probabilities(model, normalize(torch.from_numpy(pixels).unsqueeze(1))).numpy()
    return p.max(1), p.argmax(1), kept


def grid(images, cols=16, gap=2):
    rows, side = -(-len(images) // cols), images.shape[1]
    out = np.full((rows * (side + gap) - gap, cols * (side + gap) - gap), 160, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (side + gap):r * (side + gap) + side, c * (side + gap):c * (side + gap) + side] = im
    return Image.fromarray(out)


def previews():
    docs = ROOT / "docs"
    top, bottom = S.non_digits(48, 0, "train"), S.non_digits(48, 0, "eval")
    sep = np.full((16, S.SIDE, S.SIDE), 160, np.uint8)  # a blank row between train (top) and eval (bottom)
    grid(np.concatenate([top, sep, bottom])).save(docs / "synthetic-nondigits.png", optimize=True)
    images, labels = S.drawn_digits(400, 0)
    order = np.argsort(labels, kind="stable")
    grid(np.concatenate([images[order[labels[order] == d]][:8] for d in range(10)]), cols=16).save(
        docs / "synthetic-drawn.png", optimize=True)
    train, _ = S.printed_digits(32, 0, S.training_fonts())
    held_out, _ = S.printed_digits(32, 0, S.eval_fonts())
    grid(np.concatenate([train, sep, held_out])).save(docs / "synthetic-printed.png", optimize=True)
    print("wrote docs/synthetic-nondigits.png (train above, eval below), docs/synthetic-drawn.png, "
          "docs/synthetic-printed.png (training fonts above, eval fonts below)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--previews", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.previews:
        previews()
    model, n = load_model(args.checkpoint), args.n

    (images, labels, styles), t = timed(lambda: S.drawn_digits(n, args.seed, return_styles=True))
    _, tp = timed(lambda: S.to_inputs(images[:500]))
    print(f"drawn_digits: {n / t:.0f} images/s; to_inputs (the app's preprocess): {500 / tp:.0f} images/s")
    _, digit, kept = read(model, images)
    right = digit == labels[kept]
    print(f"drawn digits read right: {right.mean():.4f} ({right.sum()}/{n}; {n - len(kept)} refused by preprocess)")
    by_style = defaultdict(list)
    for r, d, i in zip(right, digit, kept):
        by_style[labels[i], styles[i]].append((r, d))
    for (label, style), v in sorted(by_style.items()):
        wrong = Counter(int(d) for r, d in v if not r)
        print(f"  {label} {style:14s} n={len(v):4d} right {np.mean([r for r, _ in v]):.3f}"
              + (f"  misread as {dict(wrong.most_common())}" if wrong else ""))

    for name, fonts in (("eval fonts (held out)", S.eval_fonts()), ("training fonts", S.training_fonts())):
        (images, labels), t = timed(lambda: S.printed_digits(n, args.seed, fonts))
        _, digit, kept = read(model, images)
        right = digit == labels[kept]
        per = " ".join(f"{d}:{right[labels[kept] == d].mean():.3f}" for d in range(10))
        print(f"printed, {name} ({len(fonts)}): {n / t:.0f} images/s; read right {right.mean():.4f}, "
              f"{n - len(kept)} refused; per digit {per}")

    for split in ("train", "eval"):
        (images, names), t = timed(lambda: S.non_digits(n, args.seed, split, return_names=True))
        top, _, kept = read(model, images)
        sure = top >= 0.8
        by_kind = defaultdict(list)
        for s, i in zip(sure, kept):
            by_kind[names[i][0]].append(s)
        kinds = " ".join(f"{k}:{np.mean(v):.3f}" for k, v in sorted(by_kind.items()))
        print(f"non_digits({split}): {n / t:.0f} images/s; top probability >= 0.8 on {sure.sum() / n:.3f} of all "
              f"({n - len(kept)} refused by preprocess); per kind {kinds}")


if __name__ == "__main__":
    main()
