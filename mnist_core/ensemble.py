"""Join networks trained apart (the same command, other seeds) into one checkpoint that reads with the mean of their
logits, over the input and any --views of it, calibrate it as one network on the validation split (as
mnist_core.recalibrate does), and measure it:

    python -m mnist_core.ensemble A.safetensors B.safetensors --data-dir ../shared/data/mnist --out joined.safetensors \
        [--views "turn +6°" "turn -6°" "scale up" "scale down"]

Every network must have the same shape and the same validation split held out; the test set only reports.
"""
import argparse
import sys

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import MnistDataError, load_mnist
from .engine import calibrate
from .evaluation import evaluate
from .generated import calibration_digits
from .model import VIEWS, DigitCNN, Ensemble, count_parameters


def join(checkpoints, views: tuple[str, ...] = ()) -> Ensemble:
    """One Ensemble of the checkpoints' networks reading `views` too (uncalibrated). Raises ValueError for networks
    that cannot be joined: fewer than two, an ensemble among them, other shapes, or other validation splits; and
    for an unknown view."""
    if len(checkpoints) < 2:
        raise ValueError("join needs at least two networks")
    for c in checkpoints:
        if not isinstance(c.model, DigitCNN):
            raise ValueError(f"{c.path}: already an ensemble; join its networks' own checkpoints")
    if len({c.model_config for c in checkpoints}) > 1:
        raise ValueError("the networks differ in shape: " + "; ".join(f"{c.path}: {c.model_config}" for c in checkpoints))
    held = {c.train_config.validation for c in checkpoints}
    if len(held) > 1 or 0 in held:
        raise ValueError(f"the networks must hold out the same validation split, they hold out {sorted(held)}")
    model = Ensemble(checkpoints[0].model_config, len(checkpoints), tuple(views))
    for member, c in zip(model.members, checkpoints):
        member.load_state_dict(c.model.state_dict())
    return model.eval()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+", help="two or more checkpoints of single networks")
    p.add_argument("--data-dir", help="the MNIST folder (default: $MNIST_DIR)")
    p.add_argument("--out", required=True, help="the ensemble's checkpoint to write")
    p.add_argument("--views", nargs="*", default=[], metavar="VIEW",
                   help=f"views read beside each input, averaged with it (bench/tta.py chooses them): {list(VIEWS)}")
    args = p.parse_args(argv)
    try:
        checkpoints = [load_checkpoint(path) for path in args.checkpoints]
        model = join(checkpoints, args.views)
        train_set, test_set = load_mnist(args.data_dir)
    except (CheckpointError, ValueError, MnistDataError) as e:
        p.error(str(e))
    held = checkpoints[0].train_config.validation
    val_set = train_set.last(held)
    members = []
    for c in checkpoints:  # each network measured here too, in float32 as the app reads (as is the ensemble)
        val, test = evaluate(c.model, val_set)[0], evaluate(c.model, test_set)[0]
        members.append({"file": c.path.name, "seed": c.train_config.seed, "device": c.device, "created": c.created,
                        "val_acc": val, "test_acc": test})
        print(f"{c.path}: validation {100 * val:.2f}%, test {100 * test:.2f}% (float32)")
    val_ece = calibrate(model, val_set, "float32", calibration_digits(checkpoints[0].train_config))
    val_acc = evaluate(model, val_set)[0]
    test_acc, per_class = evaluate(model, test_set)
    metrics = {"val_acc": val_acc, "test_acc": test_acc, "per_class": per_class, "val_ece": val_ece,
               "parameters": count_parameters(model), "members": members}
    out = save_checkpoint(args.out, model, checkpoints[0].train_config, metrics,
                          " + ".join(c.device for c in checkpoints))
    print(f"ensemble of {len(checkpoints)}, views {model.views}: validation {100 * val_acc:.2f}%, test {100 * test_acc:.2f}%; temperature "
          f"{model.temperature:.3f}, 'not a digit' under {model.threshold:.3f}, validation ECE {val_ece}; saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
