"""Train a model from the command line: a tqdm bar, tutorial-style log lines, a checkpoint and a PNG of the curves.

    python -m mnist_core.train --data-dir ../shared/data/mnist --epochs 3 --out runs/mnist_cnn.safetensors
"""
import argparse
import dataclasses
import os
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from .checkpoint import from_dict, save_checkpoint
from .data import MnistDataError, load_mnist
from .config import PRECISIONS, TrainConfig, device_name, pick_device, pick_precision
from .engine import train
from .generated import calibration_digits, training_extras
from .model import ModelConfig
from .report import History, plot_curves


def add_fields(parser: argparse.ArgumentParser, config_cls, group: str):
    """One --flag per dataclass field, with the field's default: the config is the single source of truth."""
    g = parser.add_argument_group(group)
    for f in dataclasses.fields(config_cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        elif "tuple" in str(f.type):
            g.add_argument(flag, type=int, nargs="+", default=f.default, help=f"default: {f.default}")
        else:
            kind = {"int": int, "float": float}.get(getattr(f.type, "__name__", str(f.type)), str)
            g.add_argument(flag, type=kind, default=f.default, help=f"default: {f.default}")




def main(argv=None):
    p = argparse.ArgumentParser(description="Train the MNIST CNN.")
    p.add_argument("--data-dir", help="folder with the four MNIST IDX files (default: $MNIST_DIR, else download)")
    p.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    p.add_argument("--precision", choices=PRECISIONS, help="of the training steps (default: bf16 on CUDA and on CPUs "
                   "with AMX, else float32)")
    p.add_argument("--out", default="runs/mnist_cnn.safetensors", help="checkpoint to write; the curves go beside it as .png")
    add_fields(p, TrainConfig, "training")
    add_fields(p, ModelConfig, "model")
    args = p.parse_args(argv)
    try:
        config, model_config = (from_dict(cls, {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})
                                for cls in (TrainConfig, ModelConfig))
        device = pick_device(args.device)
        train_set, test_set = load_mnist(args.data_dir, device)
        if model_config.image_size != train_set.images.shape[-1] or model_config.num_classes != 10:
            raise ValueError(f"MNIST needs --image-size {train_set.images.shape[-1]} and --num-classes 10")
    except (ValueError, MnistDataError, RuntimeError) as e:  # bad settings, missing data, unknown device
        p.error(str(e))
    precision = pick_precision(device, args.precision)
    held = config.validation
    print(f"training on {device_name(device)} in {precision}: {len(train_set) - held:,} MNIST training images, the "
          f"last {held:,} held out for validation; {len(test_set):,} test images, evaluated at the end")
    print(config)
    print(model_config)

    history = History()
    bar = None
    extra, non_digits = training_extras(config, workers=os.cpu_count() or 1, data_dir=args.data_dir)
    print(f"generated: {0 if extra is None else len(extra):,} printed, drawn and photographed digits, "
          f"{0 if non_digits is None else len(non_digits):,} non-digits for outlier exposure")
    calibration = calibration_digits(config, workers=os.cpu_count() or 1)
    empty = torch.empty(0, 1, 28, 28)  # none asked for: not generated again by the engine
    for ev in train(config, train_set, test_set, model_config, device, precision=precision, extra=extra,
                    non_digits=empty if non_digits is None else non_digits, calibration=calibration):
        if bar is None:
            bar = tqdm(total=ev.total_iterations, unit="step", dynamic_ncols=True)
        bar.update(ev.iteration - bar.n)
        bar.set_postfix(loss=f"{ev.train_loss:.3f}", img_s=f"{ev.images_per_sec:,.0f}")
        history.add(ev)
        if ev.val_acc is not None:
            bar.write(f"Iteration: {ev.iteration}, Epoch: {ev.epoch:.2f}, Loss: {ev.train_loss:.4f}, "
                      f"Validation accuracy: {100 * ev.val_acc:.2f}%")
    bar.close()
    out = save_checkpoint(args.out, ev.model, config, ev.metrics(), device_name(device))
    plot_curves(history, out.with_suffix(".png"), title=f"{device_name(device)}, {precision}, {config.epochs} epochs")
    before, after = ev.val_ece
    print(f"validation accuracy {100 * ev.val_acc:.2f}%, test accuracy {100 * ev.test_acc:.2f}% after "
          f"{ev.train_time:.1f} s of training")
    print(f"calibration on the validation split: temperature {ev.model.temperature:.3f}, expected calibration error "
          f"{100 * before:.2f}% -> {100 * after:.2f}%; 'not a digit' under a top probability of {ev.model.threshold:.3f}")
    print(f"saved {out} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
