"""What would change the network's mind: the 28x28 input turned, scaled, shifted, thickened or thinned, in one
batched grid_sample (plus a max-pool for the thickness), and the ten probabilities across a range of rotations."""
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

from .inside import as_batch, device_of
from .reader import probabilities

LIMITS = {  # the probe's range, per parameter: (lowest, highest); the page's sliders use these
    "rotate": (-45.0, 45.0),  # degrees, counter-clockwise as seen
    "scale": (0.6, 1.4),  # times the drawing's size, about the centre of the 28x28
    "dx": (-8.0, 8.0),  # pixels of the 28x28, to the right
    "dy": (-8.0, 8.0),  # pixels of the 28x28, down
    "thickness": (-2, 2),  # steps of erosion (<0) or dilation (>0): 1 the four neighbours, 2 all eight
}
SWEEP_ANGLES = np.linspace(-45.0, 45.0, 19)  # degrees, every 5: the sweep costs 19 forward passes per stroke


@dataclass(frozen=True)
class Probe:
    """One setting of the sliders; Probe() changes nothing."""

    rotate: float = 0.0
    scale: float = 1.0
    dx: float = 0.0
    dy: float = 0.0
    thickness: int = 0

    def __post_init__(self):
        for f in fields(self):
            low, high = LIMITS[f.name]
            value = getattr(self, f.name)
            if not low <= value <= high:
                raise ValueError(f"{f.name} must be from {low} to {high}, got {value!r}")
        if self.thickness != int(self.thickness):
            raise ValueError(f"thickness must be a whole number of steps, got {self.thickness!r}")

    @property
    def neutral(self) -> bool:
        return self == Probe()


def transform(x28, rotate: float = 0.0, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0,
              thickness: int = 0) -> np.ndarray:
    """x28 (28, 28) float 0..1 turned by `rotate` degrees counter-clockwise, scaled about its centre, shifted by
    (dx, dy) pixels (bilinear, black outside), then thickened or thinned. The neutral setting returns x28's
    values exactly."""
    probe = Probe(rotate, scale, dx, dy, thickness)  # checks the ranges
    x = torch.as_tensor(np.asarray(x28, np.float32))[None, None]
    moved = transform_batch(x, torch.tensor([probe.rotate]), probe.scale, probe.dx, probe.dy, probe.thickness)
    return moved[0, 0].numpy()


def transform_batch(x: torch.Tensor, rotate: torch.Tensor, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0,
                    thickness: int = 0) -> torch.Tensor:
    """Pixels (N, 1, H, W) 0..1, each turned by its own rotate[i] degrees; the other settings shared by all.
    Samples whose geometric setting is the identity keep their pixels bit for bit."""
    n, _, h, w = x.shape
    theta = torch.deg2rad(rotate.to(x.dtype).reshape(-1)).expand(n)
    cos, sin = torch.cos(theta), torch.sin(theta)
    # grid_sample asks, for each output pixel p, where to read: p_in = R^T (p - t) / scale, with R the turn
    # counter-clockwise as seen (y points down) and t the shift, in normalized units (one pixel is 2/side).
    tx, ty = 2 * dx / w, 2 * dy / h
    inverse = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2) / scale  # (N, 2, 2)
    offset = -(inverse @ torch.tensor([tx, ty], dtype=x.dtype))  # (N, 2)
    grid = F.affine_grid(torch.cat([inverse, offset[..., None]], -1), list(x.shape), align_corners=False)
    moved = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    identity = (rotate.reshape(-1).expand(n) == 0) & (scale == 1) & (dx == 0) & (dy == 0)
    out = torch.where(identity[:, None, None, None], x, moved)
    return thicken(out, int(thickness))


def thicken(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Grey-level dilation (steps > 0) or erosion (steps < 0) by one step: |steps| 1 takes the four neighbours
    (a plus), 2 all eight (a 3x3 square). Erosion is dilation of the negative."""
    if steps == 0:
        return x
    sign = 1 if steps > 0 else -1
    y = sign * x
    if abs(steps) == 1:  # a plus: a 1x3 and a 3x1 max-pool
        y = torch.maximum(F.max_pool2d(y, (1, 3), 1, (0, 1)), F.max_pool2d(y, (3, 1), 1, (1, 0)))
    else:
        y = F.max_pool2d(y, 3, 1, 1)
    return sign * y


@torch.inference_mode()
def rotation_sweep(model: torch.nn.Module, x28, angles=SWEEP_ANGLES, scale: float = 1.0, dx: float = 0.0,
                   dy: float = 0.0, thickness: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(angles, probabilities (len(angles), 10)): the drawing, with the other settings applied, turned to each
    angle, read by the network in one batch."""
    angles = np.asarray(angles, np.float32)
    x = torch.as_tensor(np.asarray(x28, np.float32))[None, None].expand(len(angles), 1, *np.shape(x28)[-2:])
    turned = transform_batch(x, torch.from_numpy(angles), scale, dx, dy, thickness)
    probs = probabilities(model, as_batch(turned[:, 0], device_of(model)))
    return angles, probs.cpu().numpy()
