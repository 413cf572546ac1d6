"""Test-time augmentation: does averaging a model's readings of a few shifted, turned or scaled copies of each
digit lift it to 99.7% on MNIST's test set, inside the 3 ms budget of one drawing?

Each set of views is scored on the validation split (the last 5,000 training digits) first; the set with the
fewest validation errors (ties: the fewest views, the cheaper) is the one that would ship, and the test set
only reports. Views: "shift" moves the digit 1 px (zeros come in), "turn" rotates it 6 degrees, "scale" zooms
by 1.08 and 0.93 (mnist_core.model.VIEWS); the logits are averaged, as an Ensemble averages them. The last
line times the network on one drawing's views (batch = the number of views) against one view.

    MNIST_DIR=../shared/data/mnist python bench/tta.py [--threads 2]
"""
import argparse
import os
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from machine import cpu_name  # noqa: E402  (bench/machine.py)
from mnist_core.checkpoint import load_checkpoint  # noqa: E402
from mnist_core.data import normalize, read_split  # noqa: E402
from mnist_core.evaluation import predict_logits  # noqa: E402
from mnist_core.model import VIEWS as MODEL_VIEWS, affine  # noqa: E402


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    return F.pad(x, (1, 1, 1, 1))[..., 1 - dy : 29 - dy, 1 - dx : 29 - dx]


VIEWS = {
    "as is": lambda x: x,
    "shift right": lambda x: shift(x, 1, 0), "shift left": lambda x: shift(x, -1, 0),
    "shift down": lambda x: shift(x, 0, 1), "shift up": lambda x: shift(x, 0, -1),
    **{name: partial(affine, degrees=d, scale=k) for name, (d, k) in MODEL_VIEWS.items()},  # what an Ensemble reads
}
SETS = {  # every set tried, all shown
    "none (today)": ["as is"],
    "turns": ["as is", "turn +6°", "turn -6°"],
    "scales": ["as is", "scale up", "scale down"],
    "shifts": ["as is", "shift right", "shift left", "shift down", "shift up"],
    "turns and scales": ["as is", "turn +6°", "turn -6°", "scale up", "scale down"],
    "all nine": list(VIEWS),
}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load_checkpoint(args.checkpoint).model.eval()
    if getattr(model, "views", ()):  # an Ensemble that reads views of its own: the bench's views replace them
        print(f"(the model's own views {model.views} are set aside: the rows below are the bench's)")
        model.views = ()
    folder = os.environ.get("MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist")
    train, test = read_split(folder, "train"), read_split(folder, "test")
    splits = {"validation": (train[0][-5000:], train[1][-5000:]), "test": test}
    errors = {}
    with torch.no_grad():
        for split, (images, labels) in splits.items():
            x = torch.from_numpy(images.astype(np.float32) / 255)[:, None]
            logits = {v: predict_logits(model, normalize(f(x))) for v, f in VIEWS.items()}
            for name, views in SETS.items():
                guess = torch.stack([logits[v] for v in views]).mean(0).argmax(1).numpy()
                errors[split, name] = int((guess != labels).sum())
    chosen = min(SETS, key=lambda n: (errors["validation", n], len(SETS[n])))
    print(f"python {' '.join(sys.argv)}\n{cpu_name()}, {args.threads} torch thread(s), torch {torch.__version__}\n")
    print("| views | how many | validation | test |\n|---|---|---|---|")
    for name, views in SETS.items():
        v, t = errors["validation", name], errors["test", name]
        mark = " (fewest validation errors: would ship)" if name == chosen else ""
        print(f"| {name}{mark} | {len(views)} | {100 - v / 50:.2f}% ({v} wrong) | {100 - t / 100:.2f}% ({t} wrong) |")
    one = normalize(torch.rand(1, 1, 28, 28))
    with torch.inference_mode():
        for batch in (1, len(SETS[chosen])):
            x = one.expand(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
            for _ in range(20):
                model(x)
            times = []
            for _ in range(500):
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
            print(f"network on one drawing, {batch} view(s): p50 {np.percentile(times, 50) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
