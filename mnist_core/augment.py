"""On-device augmentation of whole batches: one random affine warp per image, in a single grid_sample."""
import math

import torch
import torch.nn.functional as F

from .data import normalize

BACKGROUND = normalize(0.0)  # value of a black pixel after normalization


def random_affine(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    degrees: float = 10.0,  # max rotation, degrees
    scale: float = 0.1,  # max relative zoom in or out
    shear: float = 10.0,  # max shear, degrees
    shift: float = 0.1,  # max translation, fraction of the image side
) -> torch.Tensor:
    """Rotate, scale, shear and shift each image of a (N, 1, H, W) batch by its own random amounts."""
    n = x.shape[0]

    def uniform(limit):
        return (torch.rand(n, generator=generator, device=x.device) * 2 - 1) * limit

    angle = uniform(math.radians(degrees))
    shear_x = uniform(math.radians(shear))
    zoom = 1 + uniform(scale)
    cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear_x)
    # theta maps output coordinates to input ones: (rotation @ shear) / zoom, plus a shift
    theta = torch.stack(
        [
            torch.stack([cos, cos * tan - sin, uniform(2 * shift)], 1),
            torch.stack([sin, sin * tan + cos, uniform(2 * shift)], 1),
        ],
        1,
    ) / torch.stack([zoom, zoom, torch.ones_like(zoom)], 1).unsqueeze(1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    # grid_sample pads with zeros, so warp the image relative to its black background
    return F.grid_sample(x - BACKGROUND, grid, align_corners=False, padding_mode="zeros") + BACKGROUND
