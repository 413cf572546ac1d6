"""Train the line reader (see mnist_core.line_reader) from the command line:

    python -m mnist_core.train_lines --data-dir ../shared/data/mnist [--steps 5000] [--out runs/line_reader.safetensors]

(The shipped one is checkpoints/line_reader/line_reader.safetensors: this command with its defaults, then
`--calibrate` on that file once the shift was added to the calibration.)

CTC on lines composed afresh at every step from MNIST training digits (mnist_core.line_data), the last 5,000
held out as the digit network's are. Lines of those held-out digits, each read at its own width as read_line
reads it, then give the temperature and the "not a digit" threshold (mnist_core.calibration), the shift from
the column CTC fires at to a digit's centre, and the exact-match rate reported. The test digits are not used."""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .calibration import calibrated, expected_calibration_error, fit_temperature, refusal_threshold
from .config import device_name
from .data import read_split, resolve_data_dir
from .generated import non_digit_pixels
from .line_data import compose_line
from .line_reader import (BLANK, PAD, STRIDE, LineNet, batched, column_centre, decode, line_input, load_line_reader,
                          save_line_reader)

VALIDATION = 5000  # the last training digits, held out (as TrainConfig.validation holds them out)


def lines(images, labels, rng, n: int, outliers: np.ndarray | None = None,
          share: float = 0.0) -> tuple[torch.Tensor, list[int], list[str], list[list[float]]]:
    """n composed lines as a normalized batch, with each line's output columns, text and digits' centres (in
    input pixels). With `outliers` (N, 28, 28 uint8 non-digits), a `share` of the lines is one of them alone, whose
    text is "": outlier exposure (Hendrycks et al., 2019), so a doodle reads as no digits rather than as some."""
    alone = np.full(len(outliers) if outliers is not None else 0, "")
    composed = [compose_line(outliers, alone, rng, length=1) if outliers is not None and rng.random() < share
                else compose_line(images, labels, rng) for _ in range(n)]
    inputs = [line_input(ink) for ink, _, _ in composed]
    x, columns = batched([a for a, _ in inputs])
    centres = [[(x0 + x1) / 2 * scale + PAD for x0, x1 in spans] for (_, _, spans), (_, scale) in zip(composed, inputs)]
    return x, columns, [text for _, text, _ in composed], centres


def ctc_loss(model: LineNet, x: torch.Tensor, columns: list[int], texts: list[str]) -> torch.Tensor:
    log_probs = model(x).log_softmax(-1).transpose(0, 1)  # (columns, N, 11), as CTC takes it
    targets = torch.tensor([int(c) for t in texts for c in t])
    return F.ctc_loss(log_probs, targets, torch.tensor(columns), torch.tensor([len(t) for t in texts]),
                      blank=BLANK, zero_infinity=True)


@torch.no_grad()  # not inference_mode: the digit scores it returns are fitted on (calibrate) with autograd
def examine(model: LineNet, x: torch.Tensor, columns: list[int], texts: list[str], centres: list[list[float]]):
    """(exact-match rate, and for the lines read with the right number of digits: the digit scores at each digit's
    surest column, its true digit, and how far its centre is from that column, in input pixels)."""
    model.eval()
    exact, logits, truth, shifts = 0, [], [], []
    for i, (n, text, places) in enumerate(zip(columns, texts, centres)):
        s = model(x[i : i + 1, :, :, : n * STRIDE])[0]  # one line at its own width, as read_line reads it
        found = decode(s)
        exact += "".join(str(int(s[c, :BLANK].argmax())) for _, _, c in found) == text
        if len(found) == len(text):
            logits += [s[c, :BLANK] for _, _, c in found]
            truth += [int(t) for t in text]
            shifts += [place - column_centre(c) for (_, _, c), place in zip(found, places)]
    return (exact / len(texts), torch.stack(logits) if logits else torch.zeros((0, BLANK)), torch.tensor(truth),
            shifts)


def calibrate(model: LineNet, held: tuple) -> dict:
    """Fit the temperature, the "not a digit" threshold and the shift from a digit's surest column to its centre
    on lines of held-out digits; what was measured."""
    exact, logits, truth, shifts = examine(model, *held)
    if not len(truth):  # too little training to read any line's digit count right: nothing to fit on
        return {"val_exact": exact, "val_digits": 0, "val_ece": None}
    before = expected_calibration_error(torch.softmax(logits, 1).numpy(), truth.numpy())
    model.temperature = fit_temperature(logits, truth)
    probs = calibrated(logits, model).numpy()
    model.threshold = refusal_threshold(probs.max(1))
    model.shift = float(np.median(shifts))
    return {"val_exact": round(exact, 4), "val_digits": len(truth), "shift_px": round(model.shift, 2),
            "val_ece": [round(before, 5), round(expected_calibration_error(probs, truth.numpy()), 5)]}


def main(argv=None):
    p = argparse.ArgumentParser(description="Train the line reader.")
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files (default: $MNIST_DIR, else download)")
    p.add_argument("--out", default="runs/line_reader.safetensors")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--val-lines", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--non-digits", type=int, default=0,
                   help="generated non-digits (mnist_core.generated, the digit network's outlier set) for outlier "
                        "exposure (0: none, as the shipped reader; 10,000 were tried, see the README)")
    p.add_argument("--outlier-share", type=float, default=0.15, help="share of training lines that are one non-digit")
    p.add_argument("--calibrate", metavar="PATH",
                   help="no training: fit this line reader's calibration again, in place")
    args = p.parse_args(argv)
    images, labels = read_split(resolve_data_dir(args.data_dir), "train")
    train, held = (images[:-VALIDATION], labels[:-VALIDATION]), (images[-VALIDATION:], labels[-VALIDATION:])
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    held_lines = lines(*held, np.random.default_rng(args.seed + 1), args.val_lines)
    if args.calibrate:
        model = load_line_reader(args.calibrate)
        return report(model, {**model.metrics, **calibrate(model, held_lines)}, args.calibrate)
    outliers = (np.round(non_digit_pixels(args.non_digits, os.cpu_count() or 1) * 255).astype(np.uint8)
                if args.non_digits and args.outlier_share > 0 else None)
    model = LineNet()
    optimizer = torch.optim.AdamW(model.parameters(), args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.steps, pct_start=0.1)
    start = time.perf_counter()
    bar = tqdm(range(args.steps), desc="line reader", unit="step")
    for step in bar:
        model.train()
        x, columns, texts, _ = lines(*train, rng, args.batch_size, outliers, args.outlier_share)
        loss = ctc_loss(model, x, columns, texts)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if (step + 1) % 1000 == 0 and step + 1 < args.steps:
            tqdm.write(f"step {step + 1}: exact {examine(model, *held_lines)[0]:.1%} of "
                       f"{args.val_lines} held-out lines")
    metrics = {"steps": args.steps, "lines": args.steps * args.batch_size, "non_digits": args.non_digits,
               "outlier_share": args.outlier_share if outliers is not None else 0.0,
               "train_time_s": round(time.perf_counter() - start, 1)}
    save_line_reader(args.out, model, metrics, device_name(torch.device("cpu")))  # kept, should calibration fail
    report(model, {**metrics, **calibrate(model, held_lines)}, args.out)


def report(model: LineNet, metrics: dict, out) -> None:
    """Save the calibrated line reader and say what the held-out lines measured."""
    path = save_line_reader(out, model, metrics, device_name(torch.device("cpu")))
    ece = metrics["val_ece"] or [float("nan")] * 2
    print(f"held-out lines read exactly: {metrics['val_exact']:.1%}; calibration error {ece[0]:.2%} -> {ece[1]:.2%} "
          f"(temperature {model.temperature:.3f}, shift {model.shift:.1f} px); saved {path}")


if __name__ == "__main__":
    main()
