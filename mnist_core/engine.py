"""The one training engine: a generator of progress events, shared by the CLI, the app and the tests."""
import math
import threading
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .augment import random_affine
from .data import Split
from .model import DigitCNN, ModelConfig, count_parameters


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    batch_size: int = 128  # images per step
    lr: float = 8e-3  # peak learning rate of the one-cycle schedule
    weight_decay: float = 1e-4  # AdamW, decoupled
    label_smoothing: float = 0.1  # softer targets: steadier early accuracy; probabilities top out near 0.91
    augment: bool = True  # random rotation, zoom, shear and shift of every batch
    seed: int = 0
    eval_every: int = 100  # steps between test-set evaluations (and at the end of each epoch)
    log_every: int = 10  # steps between train loss/accuracy events
    train_subset: int = 0  # use only the first N training images (0: all of them)

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


BOUNDS = [  # (field, lowest, highest) accepted
    ("epochs", 1, 100), ("batch_size", 8, 4096), ("lr", 1e-6, 1.0), ("weight_decay", 0, 1),
    ("label_smoothing", 0, 0.5), ("seed", 0, 2**31 - 1), ("eval_every", 1, 10**6), ("log_every", 1, 10**6),
    ("train_subset", 0, 10**7),
]


def pick_device(device: str | None = None) -> torch.device:
    """The device to train on: the one asked for, else CUDA when there is one, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PRECISIONS = ("bf16", "float32")  # of the training steps; evaluation and prediction on the CPU are float32


def pick_precision(device: torch.device, precision: str | None = None) -> str:
    """The precision asked for (checked), else bf16 autocast where it is fast: CUDA, and CPUs with AMX matrix
    tiles (like this project's Xeons; see `bench/train_speed.py --precision`); float32 elsewhere."""
    if precision is not None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        return precision
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)  # private: absent means "no"
    return "bf16" if device.type == "cuda" or (device.type == "cpu" and amx()) else "float32"


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


@dataclass
class Event:
    """Progress of a run. test_acc and per_class are set at evaluation points; model on the last event only."""

    kind: str  # "step", "eval", "done" (ran to the end) or "stopped" (a stop was requested)
    iteration: int
    total_iterations: int
    epoch: float  # epochs completed, fractional
    train_loss: float
    train_acc: float
    lr: float
    images_per_sec: float  # training throughput, evaluation time excluded
    elapsed: float  # seconds since the start of training, evaluation time included
    train_time: float  # seconds spent on training steps alone
    precision: str  # "bf16" (autocast) or "float32"
    test_acc: float | None = None
    per_class: list[float] | None = None
    model: DigitCNN | None = field(default=None, repr=False)

    def metrics(self) -> dict:
        """What a checkpoint records about the run that this last event ends."""
        return {"test_acc": self.test_acc, "per_class": self.per_class, "train_time_s": round(self.train_time, 1),
                "precision": self.precision, "parameters": count_parameters(self.model)}


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Logits of many normalized images, in batches, in eval mode (restores the previous mode)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    use_amp = device.type == "cuda"
    out = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            out.append(model(batch).float())
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, 10)


def evaluate(model: torch.nn.Module, split: Split) -> tuple[float, list[float]]:
    """Accuracy and per-class accuracy (index = digit) on a split."""
    pred = predict_logits(model, split.images).argmax(1).to(split.labels.device)
    correct = (pred == split.labels).float()
    per_class = torch.zeros(10, device=correct.device).index_add_(0, split.labels, correct)
    counts = torch.bincount(split.labels, minlength=10).clamp(min=1)
    return correct.mean().item(), (per_class / counts).tolist()


def examine(model: torch.nn.Module, split: Split):
    """The model on a split: (predicted digits, their probability, 10x10 confusion counts with rows = true digit)."""
    probs = torch.softmax(predict_logits(model, split.images), dim=1).cpu()
    confidence, predicted = probs.max(1)
    labels = split.labels.cpu()
    confusion = torch.bincount(labels * 10 + predicted, minlength=100).reshape(10, 10)
    return predicted.numpy(), confidence.numpy(), confusion.numpy()


def train(
    config: TrainConfig,
    train_set: Split,
    test_set: Split,
    model_config: ModelConfig = ModelConfig(),
    device: torch.device | str | None = None,
    stop: threading.Event | None = None,
    precision: str | None = None,
):
    """Train a fresh model, yielding Events; the last one ("done" or "stopped") carries the model.
    precision: "bf16" or "float32" (default: the faster one for the device, see pick_precision)."""
    device = pick_device(device) if not isinstance(device, torch.device) else device
    precision = pick_precision(device, precision)
    torch.manual_seed(config.seed)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    images, labels = train_set.images.to(device), train_set.labels.to(device)
    if config.train_subset:
        images, labels = images[: config.train_subset], labels[: config.train_subset]
    test_set = Split(test_set.images.to(device), test_set.labels.to(device))
    model = DigitCNN(model_config).to(device, memory_format=torch.channels_last)  # faster convs on CPU and GPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    steps_per_epoch = len(images) // config.batch_size  # drop the ragged last batch
    if steps_per_epoch == 0:
        raise ValueError(f"batch size {config.batch_size} is larger than the {len(images)} training images")
    total = steps_per_epoch * config.epochs
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=total, pct_start=0.15)

    start = time.perf_counter()
    train_time, seen = 0.0, 0
    loss_sum = torch.zeros((), device=device)  # summed on device; read every log_every steps (a sync point)
    correct_sum = torch.zeros((), device=device)
    window = 0
    last_loss = last_acc = math.nan
    iteration = 0

    def event(kind, **extra):
        return Event(
            kind, iteration, total, iteration / steps_per_epoch, last_loss, last_acc,
            schedule.get_last_lr()[0], seen / max(train_time, 1e-9), time.perf_counter() - start, train_time, precision,
            **extra,
        )

    model.train()
    for epoch in range(config.epochs):
        order = torch.randperm(len(images), device=device, generator=gen)
        for step in range(steps_per_epoch):
            if stop is not None and stop.is_set():
                yield event("stopped", model=model.eval())
                return
            t0 = time.perf_counter()
            idx = order[step * config.batch_size : (step + 1) * config.batch_size]
            x, y = images[idx], labels[idx]
            if config.augment:
                x = random_affine(x, generator=gen)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach()
            correct_sum += (logits.argmax(1) == y).sum()
            window += 1
            iteration += 1
            seen += len(y)
            if iteration % config.log_every == 0 or step == steps_per_epoch - 1:
                last_loss = loss_sum.item() / window
                last_acc = correct_sum.item() / (window * config.batch_size)
                loss_sum.zero_(), correct_sum.zero_()
                window = 0
            train_time += time.perf_counter() - t0
            if iteration == total:
                acc, per_class = evaluate(model, test_set)
                yield event("done", test_acc=acc, per_class=per_class, model=model.eval())
                return
            if iteration % config.eval_every == 0 or step == steps_per_epoch - 1:
                acc, per_class = evaluate(model, test_set)
                yield event("eval", test_acc=acc, per_class=per_class)
            elif iteration % config.log_every == 0:
                yield event("step")
