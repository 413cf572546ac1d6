"""The one training engine: a generator of progress events, shared by the CLI, the app and the tests."""
import copy
import math
import threading
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .augment import random_affine, random_thickness
from .calibration import calibrated, expected_calibration_error, fit_temperature, refusal_threshold
from .config import MIN_VALIDATION, TrainConfig, pick_device, pick_precision
from .data import Split
from .evaluation import evaluate, predict_logits
from .generated import calibration_digits, training_extras
from .model import DigitCNN, ModelConfig, count_parameters

ELASTIC = 0.06  # max elastic displacement of augmented images, fraction of the side
OUTLIER_SHARE = 4  # a batch of B digits carries B / OUTLIER_SHARE non-digits under outlier exposure


@dataclass
class Event:
    """Progress of a run. val_acc and per_class (of the validation split) are set at evaluation points;
    test_acc (the test set, used only to report), per_class of the test set, and the model on the last event."""

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
    val_acc: float | None = None
    test_acc: float | None = None
    per_class: list[float] | None = None
    val_ece: list[float] | None = None  # the validation split's calibration error [before, after] calibration
    model: DigitCNN | None = field(default=None, repr=False)

    def metrics(self) -> dict:
        """What a checkpoint records about the run that this last event ends."""
        return {"val_acc": self.val_acc, "test_acc": self.test_acc, "per_class": self.per_class,
                "val_ece": self.val_ece, "train_time_s": round(self.train_time, 1),
                "precision": self.precision,  # of the training steps and of the evaluations
                "parameters": count_parameters(self.model)}


def train(
    config: TrainConfig,
    train_set: Split,
    test_set: Split,
    model_config: ModelConfig = ModelConfig(),
    device: torch.device | str | None = None,
    stop: threading.Event | None = None,
    precision: str | None = None,
    extra: Split | None = None,
    non_digits: torch.Tensor | None = None,
    calibration: Split | None = None,
):
    """Train a fresh model, yielding Events; the last one ("done" or "stopped") carries the model.

    The last config.validation training images are held out: evaluated during the run, and used at the end
    to fit the model's temperature and "not a digit" threshold (mnist_core.calibration). The test set is
    evaluated once, at the end, to report. Beside MNIST the run trains on what the config asks of
    mnist_core.generated (made, or read from its cache, before the first event): printed digits, and
    non-digit drawings for outlier exposure (Hendrycks et al., 2019), whose softmax is pushed towards
    uniform with weight config.outlier_weight. extra / non_digits (normalized (N, 1, 28, 28)) replace them;
    calibration replaces the drawn digits that the temperature is fitted on beside the validation split.
    precision: "bf16" or "float32" (default: the faster one for the device, see pick_precision)."""
    device = pick_device(device) if not isinstance(device, torch.device) else device
    precision = pick_precision(device, precision)
    torch.manual_seed(config.seed)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    held = config.validation
    if held < MIN_VALIDATION:
        raise ValueError(f"validation must hold out at least {MIN_VALIDATION:,} training images, got {held}")
    if held >= len(train_set):
        raise ValueError(f"validation holds out {held} images, but there are only {len(train_set)} to train on")
    val_set = train_set.last(held).to(device)
    fit = train_set.first(len(train_set) - held)
    if config.train_subset:
        fit = fit.first(config.train_subset)
    images, labels = fit.images.to(device), fit.labels.to(device)
    if extra is None and non_digits is None:
        extra, non_digits = training_extras(config)
    if calibration is None:
        calibration = calibration_digits(config)
    if extra is not None:
        images, labels = torch.cat([images, extra.images.to(device)]), torch.cat([labels, extra.labels.to(device)])
    outliers = non_digits.to(device) if non_digits is not None and len(non_digits) and config.outlier_weight > 0 else None
    test_set = test_set.to(device)
    model = DigitCNN(model_config).to(device, memory_format=torch.channels_last)  # faster convs on CPU and GPU
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    steps_per_epoch = len(images) // config.batch_size  # drop the ragged last batch
    if steps_per_epoch == 0:
        raise ValueError(f"batch size {config.batch_size} is larger than the {len(images)} training images")
    total = steps_per_epoch * config.epochs
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=total, pct_start=0.15)

    def sync():  # CUDA runs steps asynchronously: wait for them before reading a clock or a value
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def batch(idx):
        """The digits at idx (and, under outlier exposure, a quarter as many random non-digits), augmented."""
        x = images[idx]
        if outliers is not None:
            pick = torch.randint(len(outliers), (len(idx) // OUTLIER_SHARE,), generator=gen, device=device)
            x = torch.cat([x, outliers[pick]])
        if config.augment:
            x = random_affine(random_thickness(x, generator=gen), generator=gen, elastic=ELASTIC)
        return x.contiguous(memory_format=torch.channels_last)

    def step_on(x, y):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = model(x).float()
        logits = out[: len(y)]
        loss = F.cross_entropy(logits, y, label_smoothing=config.label_smoothing)
        if len(out) > len(y):  # cross-entropy of the non-digits against the uniform distribution
            rest = out[len(y) :]
            loss = loss + config.outlier_weight * (torch.logsumexp(rest, 1) - rest.mean(1)).mean()
        return logits, loss

    # One warm-up forward and backward outside the timed region (as airbench does): CUDA context, cuDNN's
    # algorithm search and the CPU's kernel choice happen here. On a copy in eval mode, so the run's weights,
    # batch-norm statistics and random numbers are untouched.
    warm = copy.deepcopy(model).eval()
    x0 = images[: config.batch_size]
    if outliers is not None:
        x0 = torch.cat([x0, outliers[: config.batch_size // OUTLIER_SHARE]])
    x0 = x0.contiguous(memory_format=torch.channels_last)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        warm(x0).float().sum().backward()
    del warm, x0
    sync()

    start = mark = time.perf_counter()
    train_time, seen = 0.0, 0  # train_time: seconds of training steps alone, read at sync points
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
                sync()
                train_time += time.perf_counter() - mark  # the steps since the last read count, as their images do
                yield event("stopped", model=model.eval())
                return
            idx = order[step * config.batch_size : (step + 1) * config.batch_size]
            y = labels[idx]
            logits, loss = step_on(batch(idx), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach()
            correct_sum += (logits.argmax(1) == y).sum()
            window += 1
            iteration += 1
            seen += len(y)
            last_step = iteration == total
            evaluating = last_step or iteration % config.eval_every == 0 or step == steps_per_epoch - 1
            if not (evaluating or iteration % config.log_every == 0):
                continue
            sync()
            train_time += time.perf_counter() - mark
            last_loss = loss_sum.item() / window
            last_acc = correct_sum.item() / (window * config.batch_size)
            loss_sum.zero_(), correct_sum.zero_()
            window = 0
            if evaluating:
                acc, per_class = evaluate(model, val_set, precision)  # in the run's precision, as recorded
                if last_step:
                    ece = calibrate(model.eval(), val_set, precision, calibration)
                    test_acc, test_per_class = evaluate(model, test_set, precision)
                    yield event("done", val_acc=acc, test_acc=test_acc, per_class=test_per_class, val_ece=ece,
                                model=model)
                    return
                yield event("eval", val_acc=acc, per_class=per_class)
            else:
                yield event("step")
            mark = time.perf_counter()  # evaluation, and whatever the consumer did, is not training time


def calibrate(model: torch.nn.Module, val_set: Split, precision: str, drawn: Split | None = None) -> list[float]:
    """Fit the model's temperature on the validation split, and on `drawn` digits beside it when given (each
    set weighing half: one temperature for MNIST's scans and for drawings, which the network is surer of
    than it should be), then the "not a digit" threshold: the highest that refuses at most REFUSE_DIGITS of the
    validation split and of the drawn digits; returns the validation split's expected calibration error before
    and after."""
    logits = predict_logits(model, val_set.images, precision)
    labels = val_set.labels.cpu().numpy()
    before = expected_calibration_error(torch.softmax(logits, 1).cpu().numpy(), labels)
    drawn = drawn if drawn is not None and len(drawn.labels) else None
    if drawn is None:
        model.temperature = fit_temperature(logits, val_set.labels)
    else:
        drawn_logits = predict_logits(model, drawn.images, precision)
        weights = torch.cat([torch.full((len(labels),), 0.5 / len(labels)),
                             torch.full((len(drawn.labels),), 0.5 / len(drawn.labels))])
        model.temperature = fit_temperature(torch.cat([logits.cpu(), drawn_logits.cpu()]),
                                            torch.cat([val_set.labels.cpu(), drawn.labels.cpu()]), weights)
    probs = calibrated(logits, model).cpu().numpy()
    tops = [probs.max(1)] + ([] if drawn is None else [calibrated(drawn_logits, model).max(1).values.cpu().numpy()])
    model.threshold = min(refusal_threshold(t) for t in tops)  # refuses at most REFUSE_DIGITS of each set
    return [round(before, 5), round(expected_calibration_error(probs, labels), 5)]
