"""A training run's settings and their bounds, and where and in what precision it runs: the one place the
engine, the checkpoint, the CLI and the app take them from."""
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    batch_size: int = 128  # images per step
    lr: float = 8e-3  # peak learning rate of the one-cycle schedule
    weight_decay: float = 1e-4  # AdamW, decoupled
    label_smoothing: float = 0.1  # softer targets: steadier early accuracy (calibration undoes its shyness)
    augment: bool = True  # random rotation, zoom, shear, shift, elastic bending and stroke width of every batch
    outlier_weight: float = 0.5  # outlier exposure: weight of the loss pushing non-digits to uniform (0: off)
    non_digits: int = 2000  # generated hand-drawn-style non-digits for outlier exposure (mnist_core.generated)
    drawn_digits: int = 2000  # generated digits drawn with the same pen, added to the training digits
    printed_digits: int = 0  # generated printed digits (matplotlib's fonts) added to the training digits
    photo_digits: int = 2000  # MNIST training digits (never held-out ones) photographed and scanned as
    # mnist_core.realworld degrades them, and printed digits photographed, added to the training digits
    validation: int = 5000  # the last N training images, held out to evaluate, calibrate and choose settings
    # (0 only describes models from before the split; the engine holds out at least MIN_VALIDATION)
    calibration_drawn: int = 1000  # generated drawn digits (every style, never trained on) beside the validation
    # split when the temperature is fitted, each weighing half: the app's readings are of drawings (0: MNIST only)
    seed: int = 0
    eval_every: int = 100  # steps between validation evaluations (and at the end of each epoch)
    log_every: int = 10  # steps between train loss/accuracy events
    train_subset: int = 0  # use only the first N training images that are not held out (0: all of them)

    def __post_init__(self):
        """Refuse settings outside sensible bounds, with a message a user can act on."""
        for name, low, high in BOUNDS:
            value = getattr(self, name)
            kind = (int,) if self.__dataclass_fields__[name].type in (int, "int") else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
                what = "a whole number" if kind == (int,) else "a number"
                raise ValueError(f"{name} must be {what} from {low:g} to {high:g}, got {value!r}")
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be true or false, got {self.augment!r}")


MIN_VALIDATION = 1000
BOUNDS = [  # (field, lowest, highest) accepted
    ("epochs", 1, 100), ("batch_size", 8, 4096), ("lr", 1e-6, 1.0), ("weight_decay", 0, 1),
    ("label_smoothing", 0, 0.5), ("outlier_weight", 0, 10), ("non_digits", 0, 200_000), ("drawn_digits", 0, 200_000), ("printed_digits", 0, 200_000), ("photo_digits", 0, 200_000), ("validation", 0, 20_000), ("calibration_drawn", 0, 20_000), ("seed", 0, 2**31 - 1), ("eval_every", 1, 10**6), ("log_every", 1, 10**6),
    ("train_subset", 0, 10**7),
]


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train on: the one asked for, else CUDA when there is one, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PRECISIONS = ("bf16", "float32")  # of a run's training steps and evaluations


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix work is native, and so faster than float32: CUDA GPUs of compute capability 8.0 or
    higher (A100, H100, L4, RTX 30xx and later; not T4 or V100, which emulate it), and CPUs with AMX tiles."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0) and torch.cuda.is_bf16_supported()
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)  # private: absent means "no"
    return device.type == "cpu" and bool(amx())


def pick_precision(device: torch.device, precision: str | None = None) -> str:
    """The precision asked for (checked), else bf16 autocast where it is native (see native_bf16), else float32."""
    if precision is not None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        return precision
    return "bf16" if native_bf16(device) else "float32"


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
