"""The CNN: stages of 3x3 convolutions, each stage halving the resolution with 2x2 max pooling, then two linear layers."""
from dataclasses import dataclass

import torch
from torch import nn


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


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
