"""Accuracy on the real-world test sets (mnist_core/realworld.py), kind by kind, beside a plain resize.

    python bench/realworld.py [--checkpoint PATH] [--n 400] [--kinds frame,faint,...] [--save DIR]

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
from mnist_core.data import normalize  # noqa: E402
from mnist_core.reader import load_model, predict  # noqa: E402
from mnist_core.realworld import KINDS, build  # noqa: E402


def plain_resize(image: np.ndarray, stretch: bool = False) -> np.ndarray:
    """The whole image to gray 0..1, ink made bright (inverted when the median pixel is light), 28x28;
    with stretch, also its darkest pixel made 0 and its brightest 1 (a common demo's extra step)."""
    gray = image.astype(np.float32) / 255
    if gray.ndim == 3:
        gray = gray.mean(axis=2)
    if np.median(gray) > 0.5:
        gray = 1 - gray
    small = np.asarray(Image.fromarray(gray, "F").resize((28, 28), Image.Resampling.BILINEAR))
    if stretch:
        small = (small - small.min()) / max(float(small.max() - small.min()), 1e-6)
    return small


@torch.inference_mode()
def baseline_accuracy(model, images, labels, stretch: bool = False) -> float:
    x = normalize(torch.from_numpy(np.stack([plain_resize(im, stretch) for im in images])).unsqueeze(1))
    return float((model(x).argmax(1).numpy() == labels).mean())


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
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--mnist-dir", help="default: $MNIST_DIR")
    p.add_argument("--save", help="a folder to write the sets' images into")
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.checkpoint)
    print(f"{'kind':8} {'n':>4} {'predict':>8} {'unread':>6} {'resize':>7} {'stretched':>9} {'s':>5}")
    for kind in args.kinds.split(","):
        t0 = time.perf_counter()
        images, labels = build(kind, args.mnist_dir, args.n)
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
