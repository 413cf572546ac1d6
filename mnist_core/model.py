"""The CNN: stages of 3x3 convolutions with batch norm, each ending in 2x2 max pooling, then two linear layers."""
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    channels: tuple[int, ...] = (16, 32)  # output channels of each stage; every stage halves the resolution
    convs_per_stage: int = 2  # the shipped model is (32, 64) x 2: four times the work, a little more accurate
    hidden: int = 128  # width of the fully connected layer
    dropout: float = 0.0  # before the last layer
    image_size: int = 28  # pixels per side of the input
    num_classes: int = 10

    @property
    def flat_features(self) -> int:
        """Features after the last pooling, derived so any change to the stages stays consistent."""
        side = self.image_size // 2 ** len(self.channels)
        return self.channels[-1] * side * side


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class DigitCNN(nn.Module):
    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        layers, c_in = [], 1
        for c_out in config.channels:
            for i in range(config.convs_per_stage):
                layers.append(conv_bn_relu(c_in if i == 0 else c_out, c_out))
            layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.features = nn.Sequential(*layers)
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
