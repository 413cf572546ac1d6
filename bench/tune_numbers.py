"""Choose mnist_core/numbers.py's scoring settings on numbers made of validation digits (train[-5000:]).

Each number's groups are found and their spans read once (STEP fixed, as in numbers.py); every setting of the
grid then only re-runs the dynamic programme (numbers.best_path), so a grid costs little more than one reading.
The numbers are the ones bench/read_numbers.py composes with the same --seed and --n.

    MNIST_DIR=/work/shared/data/mnist python bench/tune_numbers.py [--n 200] [--n-touching 100] [--seed 0]
"""
import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
from composed import compose  # noqa: E402
from mnist_core import numbers  # noqa: E402
from mnist_core.data import read_split  # noqa: E402
from mnist_core.preprocess import ink_map, to_array  # noqa: E402
from mnist_core.reader import load_model, predict  # noqa: E402
from read_numbers import edit_distance  # noqa: E402

GRID = dict(CONSIDER=(0.6, 0.8, 1.0, 1.2), PIECE_COST=(0.0, 0.5, 1.0, 2.0), WIDE_FROM=(0.8, 1.0, 1.2),
            WIDE_COST=(0.0, 0.5, 1.0, 2.0), REFUSED_COST=(0.0, 1.0, 3.0), ASPECT_COST=(0.0, 0.25, 0.5))


def numbers_of(images, labels, n: int, touching: bool, seed: int):
    """(canvas, truth) pairs, drawn exactly as bench/read_numbers.py draws them."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        idx = rng.choice(len(images), size=int(rng.integers(2, 6)), replace=False)
        canvas, _ = compose(images[idx], rng, touching)
        yield canvas, "".join(str(labels[i]) for i in idx)


def read_once(model, canvas, consider: float):
    """Per group: (width, the number's height, the group's own reading, and its spans (cuts, spans, pieces,
    readings) read when wider than `consider` of that height)."""
    ink = ink_map(*to_array(canvas))
    groups = numbers.drop_scraps(numbers.join_short(numbers.group_by_overlap(numbers.find_marks(ink))))
    h = max((g.mask.shape[0] for g in groups), default=0)
    whole = predict(model, [numbers.crop(ink, g) for g in groups]) if groups else []
    out = []
    for g, r in zip(groups, whole):
        w = g.mask.shape[1]
        cuts, spans, pieces, readings = numbers.read_spans(model, ink, g, h) if w > consider * h else (None,) * 4
        out.append((w, h, r, cuts, spans, pieces, readings))
    return out


def text_of(groups) -> str:
    """The text read_number gives for these groups under numbers.py's current settings."""
    chosen = []
    for w, h, whole, cuts, spans, pieces, readings in groups:
        cut = cuts is not None and w > numbers.CONSIDER * h
        path = numbers.best_path(cuts, spans, pieces, readings, h) if cut else []
        chosen += [readings[k] for k in path] if path else [whole]
    return "".join("?" if r.digit is None else str(r.digit) for r in chosen if r.probs is not None)


def score(cached, truths):
    texts = [text_of(c) for c in cached]
    exact = sum(t == s for t, s in zip(texts, truths)) / len(truths)
    errors = sum(min(edit_distance(s, t), len(s)) for t, s in zip(texts, truths))
    return exact, 1 - errors / sum(len(s) for s in truths)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="gapped numbers")
    p.add_argument("--n-touching", type=int, default=100, help="touching numbers (each costs ~10x a gapped one)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    images, labels = (a[-5000:] for a in read_split(os.environ.get("MNIST_DIR", ROOT.parent / "shared/data/mnist"), "train"))
    model = load_model()
    data = {}
    for kind, n in (("gapped", args.n), ("touching", args.n_touching)):
        t0 = time.perf_counter()
        pairs = list(numbers_of(images, labels, n, kind == "touching", args.seed))
        data[kind] = [read_once(model, c, min(GRID["CONSIDER"])) for c, _ in pairs], [t for _, t in pairs]
        print(f"{kind}: {n} numbers read in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for values in itertools.product(*GRID.values()):
        for name, v in zip(GRID, values):
            setattr(numbers, name, v)
        rows.append((values, score(*data["gapped"]), score(*data["touching"])))
    rows.sort(key=lambda r: -(r[1][0] + r[2][0]))
    print(" ".join(GRID), "| gapped exact, digits | touching exact, digits")
    for values, g, t in rows[:25]:
        print(*values, f"| {g[0]:.1%} {g[1]:.2%} | {t[0]:.1%} {t[1]:.2%}")


if __name__ == "__main__":
    main()
