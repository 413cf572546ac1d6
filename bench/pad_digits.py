"""One digit on the Draw pad, read by the app's own handler (app.read_sketch), on the old 280x280 pad and on
today's wide one: how many read right, how many are taken for a number of several digits, how many are refused.
Then non-digits (synthetic's evaluation letters, symbols, shapes and scribbles) on the wide pad: how many
predict refuses, and what the Draw tab shows, whose number reading can take a doodle for digits.

The digits are mnist_core.synthetic's hand-drawn evaluation set, drawn at the pad's height (0.45-0.8 of it tall,
strokes 3-10% of it wide, as that set draws them) at a random place on the pad, in pure black on white as the
Sketchpad sends them. The same digits, in the same order, on both pads.

    python bench/pad_digits.py [--n 1000] [--seed 3] [--threads 1]
"""
import argparse
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
import app  # noqa: E402
from machine import cpu_name  # noqa: E402  (bench/machine.py)
from mnist_core.reader import predict  # noqa: E402
from mnist_core.synthetic import drawn_digits, non_digits  # noqa: E402


def on_pad(digit: np.ndarray, pad: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A square drawing (black on white, the pad's height) put at a random place on a pad (width, height)."""
    width, height = pad
    sheet = np.full((height, width), 255, np.uint8)
    x = int(rng.integers(0, width - digit.shape[1] + 1))
    sheet[:, x : x + digit.shape[1]] = np.where(digit < 128, 0, 255)  # the Sketchpad's ink is 0 or 255
    return sheet


def digits_read(line: str) -> str | None:
    """The digits the Draw tab's line says it read ("Read as **2026**..."), None when it read none."""
    read = re.match(r"Read as \*\*(\d+)\*\*", line)
    return read.group(1) if read else None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"python {' '.join(sys.argv)}")
    print(f"CPU: {cpu_name()}, {args.threads} torch thread(s), torch {torch.__version__}; {args.n} drawn digits, "
          f"seed {args.seed}; the shipped model")
    print("\n| pad | read right | read as a number | misread, refused or not read |\n|---|---|---|---|")
    for pad in ((280, 280), app.PAD):
        digits, labels = drawn_digits(args.n, args.seed, side=pad[1])
        rng = np.random.default_rng(args.seed)
        right = number = other = 0
        for digit, label in zip(digits, labels):
            sketch = {"background": None, "layers": [], "composite": on_pad(digit, pad, rng)}  # what the pad sends
            read = digits_read(app.read_sketch(sketch)[2])
            if read and len(read) > 1:
                number += 1
            elif read == str(label):
                right += 1
            else:
                other += 1
        print(f"| {pad[0]}x{pad[1]} | {right / args.n:.1%} | {number / args.n:.1%} | {other / args.n:.1%} |")
    rng = np.random.default_rng(args.seed)
    refused, shown = 0, {"refused or not read": 0, "read as one digit": 0, "read as a number": 0}
    model = app.MODELS.get(None).model
    for drawing in non_digits(args.n, args.seed, "eval", side=app.PAD[1]):
        sketch = {"background": None, "layers": [], "composite": on_pad(drawing, app.PAD, rng)}
        p = predict(model, sketch)
        refused += p.digit is None
        read = digits_read(app.read_sketch(sketch)[2])
        shown["refused or not read" if not read else "read as a number" if len(read) > 1 else "read as one digit"] += 1
    print(f"\n{args.n} non-digits on the {app.PAD[0]}x{app.PAD[1]} pad: predict refuses {refused / args.n:.1%}; the Draw tab: "
          + ", ".join(f"{k} {v / args.n:.1%}" for k, v in shown.items()))


if __name__ == "__main__":
    main()
