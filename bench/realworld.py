"""Accuracy on the real-world test sets (mnist_core/realworld.py), kind by kind, beside a plain resize.

    python bench/realworld.py [--checkpoint PATH] [--n 400] [--kinds frame,faint,...] [--save DIR]

The real scans (scan8, scan32, scan64, scan64c) are always read in full (1,797 digits each), whatever --n.

For each kind: the share of images that predict() reads as the right digit ("nothing to read" counts as
wrong), and the share a plain resize gets through the same model (the whole image to gray, inverted
when the paper is light so that the ink is bright, resized to 28x28, normalized). --save writes each
set's images as PNG files (label_index.png) for looking at. A second baseline column, "stretched", also
maps the resized image's darkest pixel to 0 and brightest to 1.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mnist_core.reader import load_model, predict  # noqa: E402
from mnist_core.realworld import KINDS, SCANS, baseline_accuracy, build  # noqa: E402


def reader_accuracy(model, images, labels, chunk=64) -> tuple[float, int]:
    """(share read right, how many were 'nothing to read')."""
    right = unread = 0
    for i in range(0, len(images), chunk):
        for p, label in zip(predict(model, images[i : i + chunk]), labels[i : i + chunk]):
            right += p.digit == label
            unread += p.digit is None
    return right / len(images), unread


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--n", type=int, default=400, help="images per kind")
    p.add_argument("--kinds", default=",".join([*KINDS, *SCANS]))
    p.add_argument("--mnist-dir", help="default: $MNIST_DIR")
    p.add_argument("--save", help="a folder to write the sets' images into")
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.checkpoint)
    print(f"{'kind':8} {'n':>4} {'predict':>8} {'unread':>6} {'resize':>7} {'stretched':>9} {'s':>5}")
    for kind in args.kinds.split(","):
        t0 = time.perf_counter()
        images, labels = build(kind, args.mnist_dir, None if kind in SCANS else args.n)
        if args.save:
            folder = Path(args.save) / kind
            folder.mkdir(parents=True, exist_ok=True)
            for i, (im, label) in enumerate(zip(images, labels)):
                Image.fromarray(im).save(folder / f"{label}_{i:03d}.png")
        acc, unread = reader_accuracy(model, images, labels)
        base, stretched = (baseline_accuracy(model, images, labels, s) for s in (False, True))
        print(f"{kind:8} {len(images):4d} {acc:8.1%} {unread:6d} {base:7.1%} {stretched:9.1%} "
              f"{time.perf_counter() - t0:5.1f}", flush=True)


if __name__ == "__main__":
    main()
