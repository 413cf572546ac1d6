"""A model on a labelled split: logits, accuracy, per-class accuracy and the confusion matrix, in one place
for the engine, the app and the benches."""
from dataclasses import dataclass

import numpy as np
import torch

from .calibration import calibrated
from .data import Split


@torch.no_grad()
def predict_logits(model: torch.nn.Module, images: torch.Tensor, precision: str = "float32",
                   batch_size: int = 2000) -> torch.Tensor:
    """Logits (N, classes) of normalized images, in batches, in eval mode (the previous mode is restored),
    under bf16 autocast when precision is "bf16"."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch_size):
        batch = images[i : i + batch_size].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            out.append(model(batch).float())
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, model.config.num_classes, device=device)


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, classes: int) -> np.ndarray:
    """(classes, classes) counts, rows = true class, columns = predicted class."""
    flat = labels.long().cpu() * classes + predicted.long().cpu()
    return torch.bincount(flat, minlength=classes * classes).reshape(classes, classes).numpy()


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Accuracy of each true class (0 for a class with no examples)."""
    return confusion.diagonal() / confusion.sum(axis=1).clip(min=1)


@dataclass
class Examination:
    """Every prediction of a model on a split, and what they add up to."""

    predicted: np.ndarray  # (N,) the predicted class
    confidence: np.ndarray  # (N,) its calibrated probability
    confusion: np.ndarray  # (classes, classes), rows = true class

    @property
    def accuracy(self) -> float:
        return float(self.confusion.trace() / max(self.confusion.sum(), 1))

    @property
    def per_class(self) -> list[float]:
        return per_class_accuracy(self.confusion).tolist()


def examine(model: torch.nn.Module, split: Split, precision: str = "float32") -> Examination:
    """The model on a split, each prediction kept."""
    probs = calibrated(predict_logits(model, split.images, precision), model).cpu()
    confidence, predicted = probs.max(1)
    confusion = confusion_matrix(split.labels, predicted, probs.shape[1])
    return Examination(predicted.numpy(), confidence.numpy(), confusion)


def evaluate(model: torch.nn.Module, split: Split, precision: str = "float32") -> tuple[float, list[float]]:
    """Accuracy and per-class accuracy (index = class) on a split."""
    result = examine(model, split, precision)
    return result.accuracy, result.per_class
