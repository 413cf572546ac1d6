"""read_number on whole numbers made of MNIST test digits (2 to 6 each, tests/composed.py), gapped and touching:
exact-match accuracy, digit accuracy (1 - character error rate), right digit count, plain predict on the
same digits one by one (the ceiling that segmentation can reach), and the calibration error (15 bins, top class)
of the digits the line reader read.
Settings are chosen with --split validation (train[-5000:]); the test split is for reporting.

--digits 7 10 makes longer numbers; --slope 0.08 stands each number on a line sloping by up to 0.08 px per px
(about 4.6 degrees), up or down.

    MNIST_DIR=/work/shared/data/mnist python bench/read_numbers.py [--n 300] [--seed 0] [--threads 1]
        [--split test|validation|drawn] [--digits LO HI] [--slope S]
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from composed import compose  # noqa: E402
from machine import cpu_name  # noqa: E402  (bench/machine.py)
from mnist_core.calibration import expected_calibration_error  # noqa: E402
from mnist_core.data import read_split  # noqa: E402
from mnist_core.line_reader import load_line_reader  # noqa: E402
from mnist_core.numbers import read_number  # noqa: E402
from mnist_core.reader import load_model, predict  # noqa: E402
from mnist_core.synthetic import drawn_digits  # noqa: E402


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def run(model, lines, images, labels, n: int, touching: bool, seed: int, show: int, digits=(2, 6),
        slope: float = 0.0):
    rng = np.random.default_rng(seed)
    exact = count_ok = errors = total = alone_ok = 0
    wrong, line_probs, line_truth = [], [], []
    t0 = time.perf_counter()
    for _ in range(n):
        idx = rng.choice(len(images), size=int(rng.integers(digits[0], digits[1] + 1)), replace=False)
        truth = "".join(str(labels[i]) for i in idx)
        canvas, _ = compose(images[idx], rng, touching, slope=rng.uniform(-slope, slope))
        number = read_number(model, canvas, lines)
        text = number.text
        if len(number.digits) == len(truth):  # the line reader's digits, for its calibration error
            for p, t in zip(number.digits, truth):
                if "read with the digits it touches" in p.message:
                    line_probs.append(p.probs)
                    line_truth.append(int(t))
        exact += text == truth
        count_ok += len(text) == len(truth)
        errors += min(edit_distance(truth, text), len(truth))
        total += len(truth)
        alone_ok += sum(p.digit == labels[i] for p, i in zip(predict(model, [images[i] for i in idx]), idx))
        if text != truth:
            wrong.append(f"{truth}->{text or '(empty)'}")
    seconds = time.perf_counter() - t0
    kind = "touching" if touching else "gapped  "
    print(f"{kind}: exact {exact / n:.1%} ({exact}/{n}), digit accuracy {1 - errors / total:.2%} ({total} digits), "
          f"right count {count_ok / n:.1%}, predict alone {alone_ok / total:.2%}; {seconds / n * 1000:.0f} ms a number")
    if line_probs:
        ece = expected_calibration_error(np.array(line_probs), np.array(line_truth))
        print(f"   read by the line reader: {len(line_truth)} digits (of numbers read with the right count), "
              f"calibration error {ece:.2%}")
    if show and wrong:
        print("   misread:", " ".join(wrong[:show]))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300, help="numbers of each kind (gapped, touching)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--split", choices=("test", "validation", "drawn"), default="test",
                   help="validation: the last 5,000 training digits, for choosing settings; drawn: 5,000 hand-drawn-"
                        "style digits of mnist_core.synthetic's evaluation set (another pen than MNIST's)")
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--lines", help="the line reader (default: the shipped one)")
    p.add_argument("--show", type=int, default=12, help="misreadings printed per kind")
    p.add_argument("--digits", type=int, nargs=2, default=(2, 6), metavar=("LO", "HI"), help="digits per number")
    p.add_argument("--slope", type=float, default=0.0, help="the line slopes by up to this, px per px")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    folder = os.environ.get("MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist")
    if args.split == "test":
        images, labels = read_split(folder, "test")
    elif args.split == "drawn":  # black on white at 128 px -> white on black at 28 px, as MNIST's digits come
        drawn, labels = drawn_digits(5000, seed=args.seed)
        images = np.stack([np.asarray(Image.fromarray(255 - d).resize((28, 28), Image.Resampling.BOX)) for d in drawn])
    else:
        images, labels = (a[-5000:] for a in read_split(folder, "train"))
    model, lines = load_model(args.checkpoint), load_line_reader(args.lines)
    print(f"python {' '.join(sys.argv)}")
    print(f"CPU: {cpu_name()}, {args.threads} torch thread(s), torch {torch.__version__}; "
          f"{args.n} numbers of {args.digits[0]}-{args.digits[1]} {'drawn' if args.split == 'drawn' else 'MNIST ' + args.split}"
          f" digits per kind, line slope up to {args.slope:g}, seed {args.seed}")
    for touching in (False, True):
        run(model, lines, images, labels, args.n, touching, args.seed, args.show, args.digits, args.slope)


if __name__ == "__main__":
    main()
