"""MNIST from its four IDX files, held on the training device as normalized tensors."""
import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MEAN, STD = 0.1307, 0.3081  # training-set pixel statistics of values scaled to 0..1
FILES = {  # split -> (images, labels) file names, without .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_TYPES = {0x08: np.uint8}  # MNIST uses only unsigned bytes
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mnist_core"


class MnistDataError(RuntimeError):
    """A missing, truncated or malformed MNIST file; the message names the file."""


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a numpy array, checking its header and length."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise MnistDataError(f"{path}: file not found") from None
    except (OSError, EOFError) as e:  # bad gzip stream or truncated gzip
        raise MnistDataError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4:
        raise MnistDataError(f"{path}: truncated, only {len(raw)} bytes (no IDX header)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code not in IDX_TYPES or not 1 <= ndim <= 3:
        raise MnistDataError(f"{path}: not an MNIST IDX file (bad magic number {raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MnistDataError(f"{path}: truncated inside the header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "too long"
        raise MnistDataError(f"{path}: {kind}: {len(raw)} bytes, header {shape} needs {expected}")
    return np.frombuffer(raw, IDX_TYPES[dtype_code], offset=header).reshape(shape)


def find_file(data_dir: Path, stem: str) -> Path:
    """The IDX file `stem` in data_dir, gzipped or not."""
    for name in (stem + ".gz", stem):
        if (data_dir / name).exists():
            return data_dir / name
    raise MnistDataError(f"{data_dir / (stem + '.gz')}: file not found (nor {stem} uncompressed)")


def read_split(data_dir, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of one split, 'train' or 'test'."""
    data_dir = Path(data_dir)
    image_stem, label_stem = FILES[split]
    image_path, label_path = find_file(data_dir, image_stem), find_file(data_dir, label_stem)
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3:
        raise MnistDataError(f"{image_path}: expected images (N, rows, cols), got shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise MnistDataError(f"{label_path}: {len(labels)} labels for {len(images)} images")
    if labels.max(initial=0) > 9:
        raise MnistDataError(f"{label_path}: label {labels.max()} is not a digit")
    return images, labels.astype(np.int64)


def resolve_data_dir(data_dir=None) -> Path:
    """The folder given, else $MNIST_DIR, else a cache folder filled by torchvision's download."""
    data_dir = data_dir or os.environ.get("MNIST_DIR")
    if data_dir:
        return Path(data_dir)
    from torchvision.datasets import MNIST  # real users have internet; CI and tests never get here

    for train in (True, False):
        MNIST(DEFAULT_CACHE, train=train, download=True)
    return DEFAULT_CACHE / "MNIST" / "raw"


@dataclass
class Split:
    """One split on a device: images (N, 1, 28, 28) normalized float32, labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self):
        return len(self.labels)


def normalize(pixels: torch.Tensor) -> torch.Tensor:
    """Pixel values 0..1 (ink 1) -> the network's input scale: zero mean, unit variance over MNIST's training set."""
    return (pixels - MEAN) / STD


def to_uint8(normalized: torch.Tensor) -> np.ndarray:
    """The network's (N, 1, H, W) inputs back to (N, H, W) uint8 pictures."""
    return ((normalized.squeeze(1).cpu().numpy() * STD + MEAN).clip(0, 1) * 255).round().astype(np.uint8)


def to_tensors(images: np.ndarray, labels: np.ndarray, device="cpu") -> Split:
    """Normalize once and move to the device."""
    x = normalize(torch.from_numpy(np.array(images)).to(device).float().div_(255)).unsqueeze(1)
    return Split(x, torch.from_numpy(labels).to(device))


def load_mnist(data_dir=None, device="cpu") -> tuple[Split, Split]:
    """(train, test) splits from data_dir / $MNIST_DIR / a torchvision download."""
    folder = resolve_data_dir(data_dir)
    return tuple(to_tensors(*read_split(folder, split), device=device) for split in ("train", "test"))
