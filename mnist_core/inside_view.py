"""Everything the page's "inside the network" section shows for one drawing, computed in one call: the probe
applied, every layer, the evidence for the answer and the runner-up, the nearest training digits, and the
rotation sweep. mnist_core.inside_pictures.section_pictures draws it."""
from dataclasses import dataclass

import numpy as np
import torch

from .inside import Activations, activations, attribution
from .neighbours import Nearest, NeighbourIndex, empty_index, nearest
from .probe import SWEEP_ANGLES, Probe, rotation_sweep, transform


@dataclass
class InsideView:
    probe: Probe
    pixels: np.ndarray  # (28, 28): the drawing after the probe, what the network read
    layers: Activations
    digits: np.ndarray  # (2,): the answer and the runner-up
    maps: np.ndarray  # (2, 28, 28): their attribution maps (positive: towards the digit)
    nearest: Nearest
    angles: np.ndarray  # (A,) degrees
    sweep: np.ndarray  # (A, 10): probabilities of the probed drawing turned to each angle


def look_inside(model: torch.nn.Module, x28, probe: Probe = Probe(), index: NeighbourIndex | None = None,
                k: int = 8, angles=SWEEP_ANGLES) -> InsideView:
    """The section for x28 ((28, 28) float 0..1, white ink on black: Prediction.pixels) under `probe`. Without
    an index (None while neighbours.index_when_ready builds it), `nearest` is empty and says so. At the
    neutral probe, layers.probs are reader.predict's, bit for bit."""
    pixels = transform(x28, probe.rotate, probe.scale, probe.dx, probe.dy, probe.thickness)
    layers = activations(model, pixels)
    digits = layers.ranking[:2]
    maps = attribution(model, pixels, digits)
    index = index if index is not None else empty_index("The training digits are still being indexed.")
    found = nearest(index, pixels, k, hidden=layers.hidden)
    angles, sweep = rotation_sweep(model, x28, angles, probe.scale, probe.dx, probe.dy, probe.thickness)
    return InsideView(probe, pixels, layers, digits, maps, found, angles, sweep)
