"""On-device augmentation of whole batches: one random warp per image (affine plus a smooth elastic
displacement) in a single grid_sample, and random stroke thickening or thinning."""
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
    elastic: float = 0.0,  # max elastic displacement, fraction of the image side (0: none)
) -> torch.Tensor:
    """Rotate, scale, shear, shift and (elastic > 0) locally bend each image of a (N, 1, H, W) batch by its
    own random amounts. The elastic part is a random 4x4 field of displacements, smoothly interpolated
    over the image (Simard et al., 2003, in the spirit of their elastic distortions, at a cost of one tiny
    upsampling)."""
    n = x.shape[0]

    def uniform(limit, *shape):
        return (torch.rand(n, *shape, generator=generator, device=x.device) * 2 - 1) * limit

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
    if elastic > 0:  # grid coordinates span 2 per side, so a displacement of `elastic` sides is 2 * elastic
        field = uniform(2 * elastic, 2, 4, 4).to(x.dtype)
        grid = grid + F.interpolate(field, size=x.shape[-2:], mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    # grid_sample pads with zeros, so warp the image relative to its black background
    return F.grid_sample(x - BACKGROUND, grid, align_corners=False, padding_mode="zeros") + BACKGROUND


def random_thickness(x: torch.Tensor, generator: torch.Generator | None = None, share: float = 0.3) -> torch.Tensor:
    """Thicken (3x3 grey dilation) a share/2 of the images and thin another share/2 (the mean of the image and
    its 3x3 grey erosion: a full erosion would wipe out MNIST's thinnest strokes), so the network sees the
    stroke widths that pens, brushes and the app's own stroke evening leave."""
    u = torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=x.device)
    thick = F.max_pool2d(x, 3, stride=1, padding=1)
    thin = (x - F.max_pool2d(-x, 3, stride=1, padding=1)) / 2
    return torch.where(u < share / 2, thick, torch.where(u < share, thin, x))
