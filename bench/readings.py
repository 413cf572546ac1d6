"""How honest the readings are: calibration error, "not a digit" refusal rates and AUROC, for a checkpoint.

Sets (none used in training; see mnist_core.synthetic for what "eval" holds out from "train"):
  MNIST test      the 10,000 MNIST test digits, as the network sees them (no preprocessing)
  drawn digits    synthetic.drawn_digits: hand-drawn-style digits in several styles, through the app's preprocess
  non-digits      synthetic.non_digits(split="eval"): letters, symbols, shapes and scribbles, through preprocess

    python bench/readings.py [--checkpoint PATH] [--n 2000] [--data-dir ../shared/data/mnist]
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mnist_core import synthetic  # noqa: E402
from mnist_core.calibration import REFUSE_DIGITS, auroc, calibrated, expected_calibration_error  # noqa: E402
from mnist_core.checkpoint import load_checkpoint  # noqa: E402
from mnist_core.data import load_mnist, normalize  # noqa: E402
from mnist_core.evaluation import predict_logits  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--n", type=int, default=2000, help="drawn digits and non-digits each")
    p.add_argument("--data-dir")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    checkpoint = load_checkpoint(args.checkpoint)
    model = checkpoint.model
    _, test = load_mnist(args.data_dir)
    drawn, drawn_labels, styles = synthetic.drawn_digits(args.n, args.seed, return_styles=True)
    drawn_pixels, kept = synthetic.to_inputs(drawn)
    drawn_labels = drawn_labels[kept]
    trained = {(d, s) for d, ss in synthetic.DIGIT_STYLES.items()
               for s in synthetic.held_out_variants(list(ss), "train")}
    unseen = np.array([(int(d), styles[i]) not in trained for i, d in zip(kept, drawn_labels)])
    others, _ = synthetic.to_inputs(synthetic.non_digits(args.n, args.seed, "eval"))
    sets = {"MNIST test": (test.images, test.labels.numpy()),
            "drawn digits": (normalize(torch.from_numpy(drawn_pixels)).unsqueeze(1), drawn_labels),
            "non-digits": (normalize(torch.from_numpy(others)).unsqueeze(1), None)}
    logits = {name: predict_logits(model, x) for name, (x, _) in sets.items()}
    threshold = model.threshold
    print(f"{checkpoint.path.name}: temperature {model.temperature:.3f}, 'not a digit' under {threshold:.3f} "
          f"(the highest that refuses at most {100 * REFUSE_DIGITS:g}% of the validation digits and of the drawn "
          f"digits calibrated on); CPU, torch {torch.__version__}")
    print("\n| set | images | accuracy | ECE before | ECE after | refused |")
    print("|---|---|---|---|---|---|")
    tops = {}
    for name, (_, labels) in sets.items():
        raw, cal = torch.softmax(logits[name], 1).numpy(), calibrated(logits[name], model).numpy()
        tops[name] = cal.max(1)
        refused = np.mean(tops[name] < threshold)
        if labels is None:
            print(f"| {name} | {len(cal):,} | - | - | - | {100 * refused:.1f}% |")
        else:
            acc = np.mean(cal.argmax(1) == labels)
            print(f"| {name} | {len(cal):,} | {100 * acc:.2f}% | {100 * expected_calibration_error(raw, labels):.2f}% | "
                  f"{100 * expected_calibration_error(cal, labels):.2f}% | {100 * refused:.2f}% |")
    print(f"\nAUROC, top calibrated probability, digits against non-digits: MNIST test "
          f"{auroc(tops['MNIST test'], tops['non-digits']):.4f}, drawn digits {auroc(tops['drawn digits'], tops['non-digits']):.4f}")
    wrong = drawn_labels != logits["drawn digits"].argmax(1).numpy()  # the temperature never changes the argmax
    refused = tops["drawn digits"] < threshold
    print(f"drawn digits refused or misread: {100 * np.mean(wrong | refused):.2f}%")
    for name, part in (("styles also drawn in training", ~unseen), ("styles never trained on", unseen)):
        print(f"  {name}: {part.sum():,} digits, {100 * np.mean(~wrong[part]):.2f}% read right, "
              f"{100 * np.mean(refused[part]):.2f}% refused")


if __name__ == "__main__":
    main()
