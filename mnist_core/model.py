"""The CNN: stages of 3x3 convolutions, each stage halving the resolution with 2x2 max pooling, then two linear layers;
and an Ensemble of such networks, each reading a few views of the input, read as one."""
from dataclasses import dataclass

import math

import torch
import torch.nn.functional as F
from torch import nn

from .data import MEAN, STD, normalize


@dataclass(frozen=True)
class ModelConfig:
    channels: tuple[int, ...] = (16, 32, 64)  # output channels of each stage; every stage halves the resolution
    convs_per_stage: int = 1  # convolutions per stage (the shipped model: channels (48, 96, 192), 1 per stage)
    hidden: int = 128  # width of the fully connected layer
    dropout: float = 0.0  # before the last layer
    image_size: int = 28  # pixels per side of the input
    num_classes: int = 10

    def __post_init__(self):
        """Refuse configs that would build a broken network, naming the field."""
        if not isinstance(self.image_size, int) or self.image_size < 2:
            raise ValueError(f"image_size must be a whole number of pixels, at least 2, got {self.image_size!r}")
        if not self.channels or any(not isinstance(c, int) or c < 1 for c in self.channels):
            raise ValueError(f"channels must be one or more positive whole numbers, got {self.channels!r}")
        if self.image_size // 2 ** len(self.channels) < 1:
            raise ValueError(f"{len(self.channels)} stages halve a {self.image_size}-pixel image to nothing; "
                             f"use at most {self.image_size.bit_length() - 1}")
        for name in ("convs_per_stage", "hidden", "num_classes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be from 0 to below 1, got {self.dropout!r}")

    @property
    def flat_features(self) -> int:
        """Features after the last pooling, derived so any change to the stages stays consistent."""
        side = self.image_size // 2 ** len(self.channels)
        return self.channels[-1] * side * side


def conv(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)  # batch norm supplies the bias


def stage(c_in: int, c_out: int, convs: int) -> nn.Sequential:
    """convs 3x3 convolutions; the last one is pooled *before* its batch norm and ReLU, so these memory-bound
    layers, which cost more than the convolutions on a CPU, touch a quarter of the pixels. (Not a reordering of
    conv-BN-ReLU-pool: batch norm sees pooled maps. It is its own network, trained and measured as such.)"""
    layers = []
    for _ in range(convs - 1):
        layers += [conv(c_in, c_out), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        c_in = c_out
    return nn.Sequential(*layers, conv(c_in, c_out), nn.MaxPool2d(2), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class DigitCNN(nn.Module):
    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        # Post-hoc calibration, fitted on held-out data after training and kept in the checkpoint (see
        # mnist_core.calibration): probabilities are softmax(logits / temperature), and a reading whose top
        # probability is under `threshold` is "not a digit" (None: never refused).
        self.temperature: float = 1.0
        self.threshold: float | None = None
        c_in = [1, *config.channels[:-1]]
        self.features = nn.Sequential(*(stage(i, o, config.convs_per_stage) for i, o in zip(c_in, config.channels)))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(config.flat_features, config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10) for normalized images (N, 1, 28, 28); softmax gives the probabilities."""
        return self.classifier(self.features(x))


VIEWS = {"turn +6°": (6.0, 1.0), "turn -6°": (-6.0, 1.0), "scale up": (0.0, 1.08), "scale down": (0.0, 0.93)}
# test-time views an Ensemble may read beside the drawing as it is: (degrees turned, scale); see bench/tta.py


def affine(pixels: torch.Tensor, degrees: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """Pixels (N, 1, H, W), 0..1 white ink on black, turned by `degrees` and zoomed by `scale` about the centre
    (black comes in at the edges)."""
    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0]]) / scale
    grid = F.affine_grid(theta.to(pixels).expand(len(pixels), 2, 3), list(pixels.shape), align_corners=False)
    return F.grid_sample(pixels, grid, align_corners=False)


class Ensemble(nn.Module):
    """Several DigitCNNs of one ModelConfig, trained apart (other seeds), read as one network: its logits are the
    mean of theirs over the input and its `views` (names of VIEWS: the drawing turned or zoomed a little, test-time
    augmentation). One linear mean, calibrated as one network is (a temperature and a threshold fitted on it)."""

    def __init__(self, config: ModelConfig = ModelConfig(), members: int = 2, views: tuple[str, ...] = ()):
        super().__init__()
        if members < 2:
            raise ValueError(f"an ensemble needs at least 2 networks, got {members!r}")
        unknown = [v for v in views if v not in VIEWS]
        if unknown:
            raise ValueError(f"unknown views {unknown}; known: {list(VIEWS)}")
        self.config = config
        self.views = tuple(views)
        self.temperature: float = 1.0
        self.threshold: float | None = None
        self.members = nn.ModuleList(DigitCNN(config) for _ in range(members))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10) for normalized images (N, 1, 28, 28): every network reads every view in one batch."""
        n, views = len(x), 1 + len(self.views) if len(x) else 1
        if views > 1:  # each image's views side by side in the batch (Captum's DeepLIFT halves the batch)
            pixels = x * STD + MEAN
            x = torch.stack([x, *(normalize(affine(pixels, *VIEWS[v])) for v in self.views)], 1).flatten(0, 1)
            x = x.contiguous(memory_format=torch.channels_last)
        logits = torch.stack([m(x) for m in self.members]).mean(0)
        return logits.reshape(n, views, logits.shape[-1]).mean(1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
