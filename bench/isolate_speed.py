"""preprocess() time on a noisy 2048x2048 photo: random-noise paper, a lighting gradient and a drawn digit.

    python bench/isolate_speed.py [--repeats 10] [--profile]

Prints the p50 and p95 of preprocess() over the repeats (CPU), and with --profile the ten costliest
functions of one call. `noisy_photo()` is also used by bench/upload_memory.py.
"""
import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from drawing import draw  # noqa: E402
from mnist_core.preprocess import preprocess  # noqa: E402


def noisy_photo(side=2048, digit=7, seed=0) -> Image.Image:
    """An RGB 'photo' of a dark digit on paper lit from one corner, with per-pixel sensor noise."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    paper = 0.45 + 0.45 * (0.6 * xs + 0.4 * ys)  # brightness from 0.45 to 0.9 across the sheet
    ink = np.asarray(draw(digit, size=(side, side), box=(side // 4, side // 5, 3 * side // 4, 4 * side // 5),
                          width=side // 25), np.float32) / 255  # 1 = paper, 0 = ink
    gray = paper * (0.25 + 0.75 * ink) + rng.normal(0, 0.06, (side, side)).astype(np.float32)
    rgb = np.clip(gray[..., None] * np.array([1.0, 0.97, 0.9], np.float32) * 255, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--side", type=int, default=2048)
    p.add_argument("--profile", action="store_true")
    args = p.parse_args()
    photo = noisy_photo(args.side)
    digit = preprocess(photo)  # warm-up, and a check that the digit is found
    print(f"{args.side}x{args.side} noisy photo: {'read' if digit.pixels is not None else digit.message}"
          f"{' (' + digit.message + ')' if digit.pixels is not None and digit.message else ''}")
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        preprocess(photo)
        times.append(time.perf_counter() - t0)
    p50, p95 = np.percentile(np.array(times) * 1000, [50, 95])
    print(f"preprocess: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({args.repeats} runs)")
    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(preprocess, photo)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()
