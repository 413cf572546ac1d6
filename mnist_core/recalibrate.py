"""Fit a checkpoint's calibration again on its validation split, in float32 on this machine (as the app reads):
the temperature and the "not a digit" threshold (mnist_core.calibration), written back in place.

    python -m mnist_core.recalibrate [--checkpoint checkpoints/mnist_cnn.safetensors] [--data-dir ../shared/data/mnist]
"""
import argparse
import sys

from .checkpoint import SHIPPED, load_checkpoint, save_checkpoint
from .data import Split, load_mnist
from .engine import calibrate


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(SHIPPED))
    p.add_argument("--data-dir", help="the MNIST folder (default: $MNIST_DIR)")
    args = p.parse_args(argv)
    c = load_checkpoint(args.checkpoint)
    held = c.train_config.validation
    if not held:
        p.error(f"{args.checkpoint} was trained without a validation split: nothing held out to calibrate on")
    train_set, _ = load_mnist(args.data_dir)
    val_set = Split(train_set.images[-held:], train_set.labels[-held:])
    before = (c.model.temperature, c.model.threshold)
    c.metrics["val_ece"] = calibrate(c.model, val_set, "float32")
    save_checkpoint(args.checkpoint, c.model, c.train_config, c.metrics, c.device)
    print(f"{args.checkpoint}: temperature {before[0]:.4f} -> {c.model.temperature:.4f}, 'not a digit' threshold "
          f"{before[1]} -> {c.model.threshold:.4f}; validation ECE before/after {c.metrics['val_ece']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
