"""Read digits: load a model, preprocess any images, run them through the network in one batch.

    python -m mnist_core.predict FILE... [--checkpoint PATH]
"""
import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .checkpoint import CheckpointError, load_checkpoint
from .data import normalize
from .preprocess import Digit, ImageError, preprocess

MAX_PIXELS = 40_000_000  # larger images are refused: a decompression bomb guard
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own guard, which errors at twice this


@dataclass
class Prediction:
    """The ten probabilities (None when there is nothing to read), the digit, and the 28x28 the network saw."""

    probs: np.ndarray | None
    pixels: np.ndarray | None  # (28, 28) float 0..1, white ink on black
    message: str = ""

    @property
    def digit(self) -> int | None:
        return None if self.probs is None else int(self.probs.argmax())

    def as_label(self) -> dict[str, float]:
        """{"0": p0, ..., "9": p9}, the value gr.Label shows; empty when there is nothing to read."""
        return {} if self.probs is None else {str(d): float(p) for d, p in enumerate(self.probs)}


def load_model(path=None, device=None) -> torch.nn.Module:
    """The model from a checkpoint, the shipped one when path is None, ready for predict()."""
    return load_checkpoint(path, device).model


def open_image(path) -> Image.Image:
    """Open an image file (its first frame), or raise ImageError saying why it cannot be read."""
    path = Path(path)
    too_large = ImageError(f"{path.name}: image too large (over {MAX_PIXELS:,} pixels)")
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path.name}: empty file (0 bytes)")
        with Image.open(path) as im:  # reads the header only
            if im.width * im.height > MAX_PIXELS:  # a decompression bomb, or just too big: refuse before decoding
                raise too_large
            im.seek(0)  # animated GIF/WebP: the first frame
            im.load()
            return im.copy()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path.name}: file not found") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path.name}: not an image Pillow can read (PNG, JPEG, BMP, GIF, WebP, ...)") from None
    except Image.DecompressionBombError:  # Pillow's own check, at twice the limit
        raise too_large from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path.name}: damaged or truncated image ({e})") from None


@torch.inference_mode()
def predict(model: torch.nn.Module, images):
    """Predictions for one image (returns one Prediction) or a list (returns a list).

    Images may be PIL images, numpy arrays (gray, RGB or RGBA, any size and polarity), file paths,
    or Gradio Sketchpad dicts. All readable digits go through the network in one batch.
    """
    single = not isinstance(images, (list, tuple))
    items = [images] if single else list(images)
    digits = [preprocess(open_image(im) if isinstance(im, (str, Path)) else im) for im in items]
    readable = [i for i, d in enumerate(digits) if d.pixels is not None]
    probs = {}
    if readable:
        device = next(model.parameters()).device
        x = torch.from_numpy(np.stack([digits[i].pixels for i in readable])).unsqueeze(1)
        x = normalize(x).to(device, memory_format=torch.channels_last)
        p = torch.softmax(model(x).float(), dim=1).cpu().numpy()
        probs = dict(zip(readable, p))
    out = [Prediction(probs.get(i), d.pixels, d.message) for i, d in enumerate(digits)]
    return out[0] if single else out


def describe(prediction: Prediction) -> str:
    if prediction.probs is None:
        return prediction.message
    top = "  ".join(f"{d}:{p:.3f}" for d, p in enumerate(prediction.probs))
    note = f"  ({prediction.message})" if prediction.message else ""
    return f"digit {prediction.digit} ({prediction.probs.max():.1%})  [{top}]{note}"


def main(argv=None):
    p = argparse.ArgumentParser(description="Read the digit in each image file.")
    p.add_argument("files", nargs="+", help="image files: PNG, JPEG, BMP, GIF, WebP, ...")
    p.add_argument("--checkpoint", help="checkpoint file (default: the shipped model)")
    args = p.parse_args(argv)
    try:
        model = load_model(args.checkpoint)
    except CheckpointError as e:
        p.error(str(e))
    failed = 0
    for name in args.files:
        try:
            print(f"{name}: {describe(predict(model, name))}")
        except ImageError as e:
            print(f"{name}: error: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
