"""Inside the network for one 28x28 input: each stage's feature maps, the hidden layer, the outputs, and which
pixels pushed the answer towards or away from a digit (DeepLIFT, from Captum).

Everything is derived from the model itself (its stages and layers), so any ModelConfig works."""
import copy
import threading
import warnings
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import DeepLift
from torch import nn

from .data import normalize
from .model import Ensemble
from .calibration import calibrated

@dataclass
class Activations:
    """What each layer makes of one input, as numpy arrays."""

    input: np.ndarray  # (28, 28): the normalized input the network reads (zero mean, unit variance over MNIST)
    stages: list[np.ndarray]  # per stage, its feature maps after its ReLU: (channels, side, side)
    hidden: np.ndarray  # (hidden,): the fully connected layer after its ReLU
    logits: np.ndarray  # (10,): the outputs before softmax
    probs: np.ndarray  # (10,): reader.probabilities, the calibrated probabilities the app shows

    @property
    def ranking(self) -> np.ndarray:
        """The digits from most to least probable: ranking[0] is the answer, ranking[1] the runner-up."""
        return np.argsort(-self.probs, kind="stable")


def as_batch(pixels, device) -> torch.Tensor:
    """(28, 28) or (N, 28, 28) pixels 0..1, white ink on black -> the network's (N, 1, 28, 28) input, made the
    way reader.predict makes it (so the same drawing gives the same bits)."""
    x = torch.as_tensor(np.asarray(pixels, np.float32))
    x = x.reshape(-1, 1, *x.shape[-2:])
    return normalize(x).to(device, memory_format=torch.channels_last)


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def run_layers(model: nn.Module, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """(stage outputs, hidden, logits) for a normalized batch, running model.features stage by stage and
    model.classifier layer by layer: the hidden layer is what enters the last linear layer (after its ReLU).
    An Ensemble's stages and hidden layer are its first network's; its logits are the whole ensemble's, the
    ones it reads with."""
    net = first_network(model)
    stages, h = [], x
    for stage in net.features:
        h = stage(h)
        stages.append(h)
    layers = list(net.classifier)
    last = max(i for i, layer in enumerate(layers) if isinstance(layer, nn.Linear))
    for layer in layers[:last]:
        h = layer(h)
    hidden = h
    for layer in layers[last:]:
        h = layer(h)
    return stages, hidden, h if net is model else model(x)


def first_network(model: nn.Module) -> nn.Module:
    """The model itself, or an Ensemble's first network."""
    return model.members[0] if isinstance(model, Ensemble) else model


@torch.inference_mode()
def hidden_vectors(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The hidden layer (N, hidden) for a normalized batch (N, 1, 28, 28) (an Ensemble's: its first network's)."""
    return run_layers(first_network(model), x)[1].float()  # not the whole ensemble's logits, unused here


@torch.inference_mode()
def activations(model: nn.Module, x28) -> Activations:
    """Every layer's output for one input x28, (28, 28) float 0..1, white ink on black (Prediction.pixels)."""
    x = as_batch(x28, device_of(model))
    stages, hidden, logits = run_layers(model, x)
    probs = calibrated(logits, model)  # reader.probabilities' own calibration, on the logits already here: it
    # would run the model (an Ensemble: six network passes) a second time

    def numpy(t):
        return t[0].float().cpu().numpy()

    return Activations(numpy(x[:, 0]), [numpy(s) for s in stages], numpy(hidden), numpy(logits), numpy(probs))


class PixelReader(nn.Module):
    """A model reading pixels 0..1 (it normalizes them), so attributions are per pixel from a black image."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(normalize(pixels)).float()


# Captum says this on every DeepLIFT call; it is what explainer() arranges for.
warnings.filterwarnings("ignore", message="Setting forward, backward hooks and attributes on non-linear")
_explainers = weakref.WeakKeyDictionary()  # model -> (its private copy for DeepLIFT, the lock of that copy)
_explainers_lock = threading.Lock()


def explainer(model: nn.Module) -> tuple[PixelReader, threading.Lock]:
    """A private copy of the model for Captum's DeepLIFT, made on first use: DeepLIFT hooks every ReLU, which must
    not be in place and must not fire in another request's forward pass on the shared model."""
    with _explainers_lock:
        found = _explainers.get(model)
        if found is None:
            twin = copy.deepcopy(model).eval()
            for module in twin.modules():
                if isinstance(module, nn.ReLU):
                    module.inplace = False
            found = _explainers[model] = (PixelReader(twin), threading.Lock())
        return found


def attribution(model: nn.Module, x28, target) -> np.ndarray:
    """DeepLIFT (Captum, rescale rule) of the logit of `target` over the 28x28 pixels, from a black image to x28.

    Returns (28, 28) for one digit, (k, 28, 28) for a list of k digits (computed in one batch). Positive
    pixels pushed the answer towards that digit, negative ones away; each map sums exactly to the logit's
    change from black to x28. With a black baseline, pixels without ink get 0: the map tells which of the
    drawn strokes count for or against a digit, not which missing strokes would. The model's weights are
    copied on first use (see explainer).
    """
    single = np.ndim(target) == 0
    targets = [int(target)] if single else [int(t) for t in target]
    net, lock = explainer(model)
    device = device_of(net)
    with lock, torch.inference_mode(False), torch.enable_grad():  # gradients, even when called from inference code
        pixels = torch.as_tensor(np.asarray(x28, np.float32), device=device).reshape(1, 1, *np.shape(x28)[-2:])
        pixels = pixels.repeat(len(targets), 1, 1, 1).requires_grad_()
        maps = DeepLift(net).attribute(pixels, baselines=0.0, target=targets)
    maps = maps[:, 0].detach().cpu().numpy()
    return maps[0] if single else maps
