"""Fit a checkpoint's calibration again, in float32 on this machine (as the app reads): the temperature, on its
validation split and on --calibration-drawn generated drawn digits beside it (mnist_core.generated), and the
"not a digit" threshold (mnist_core.calibration), written back in place.

    python -m mnist_core.recalibrate [--checkpoint checkpoints/mnist_cnn.safetensors] [--data-dir ../shared/data/mnist]
                                     [--calibration-drawn 1000]
"""
import argparse
import dataclasses
import sys

from .checkpoint import SHIPPED, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import load_mnist
from .engine import calibrate
from .generated import calibration_digits


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(SHIPPED))
    p.add_argument("--data-dir", help="the MNIST folder (default: $MNIST_DIR)")
    p.add_argument("--calibration-drawn", type=int, default=TrainConfig.calibration_drawn,
                   help="drawn digits beside the validation split (0: the validation split alone)")
    args = p.parse_args(argv)
    c = load_checkpoint(args.checkpoint)
    held = c.train_config.validation
    if not held:
        p.error(f"{args.checkpoint} was trained without a validation split: nothing held out to calibrate on")
    try:
        config = dataclasses.replace(c.train_config, calibration_drawn=args.calibration_drawn)
    except ValueError as e:
        p.error(str(e))
    train_set, _ = load_mnist(args.data_dir)
    val_set = train_set.last(held)
    before = (c.model.temperature, c.model.threshold)
    c.metrics["val_ece"] = calibrate(c.model, val_set, "float32", calibration_digits(config))
    save_checkpoint(args.checkpoint, c.model, config, c.metrics, c.device)
    print(f"{args.checkpoint}: temperature {before[0]:.4f} -> {c.model.temperature:.4f}, 'not a digit' threshold "
          f"{before[1]} -> {c.model.threshold:.4f}; validation ECE before/after {c.metrics['val_ece']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
