"""MNIST from its four IDX files (downloaded once when no folder is given), held on the training device as
normalized tensors."""
import gzip
import hashlib
import importlib.util
import io
import math
import os
import re
import struct
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import torch

MEAN, STD = 0.1307, 0.3081  # training-set pixel statistics of values scaled to 0..1
FILES = {  # split -> (images, labels) file names, without .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_TYPES = {0x08: np.uint8}  # MNIST uses only unsigned bytes
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mnist_core"
# Where a download comes from, in order. Each mirror serves the four .gz files; $MNIST_MIRRORS (URLs separated by
# spaces, none if empty) replaces this list. Then the Hugging Face Hub's copy, ylecun/mnist: two parquet files,
# read only where pyarrow is installed (requirements.txt does not add it); HUB_URL None skips it.
MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"]
HUB_URL = (os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
           + "/datasets/ylecun/mnist/resolve/main/mnist/")
HUB_SPLIT_SIZES = {"train": 60_000, "test": 10_000}  # what the Hub's copy must hold to be taken
TIMEOUT = 15.0  # s a source may stay silent (connecting or between two reads) before it counts as down
FILE_DEADLINE = 300.0  # s for one whole file, so a source that trickles bytes cannot hold a download forever
MD5 = {  # a download is MNIST if the .gz has the original's md5 (torchvision's list), or, recompressed, its content
    "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
}


class MnistDataError(RuntimeError):
    """A missing, truncated or malformed MNIST file; the message names the file."""


class MnistDownloadError(MnistDataError):
    """No source gave MNIST. The message is whole sentences in plain text (no angle brackets: a Gradio toast
    would take them for HTML tags), saying why and what to do."""


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
    expected = header + math.prod(shape)  # Python ints: np.prod would wrap around for absurd sizes
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


def has_all_files(data_dir: Path) -> bool:
    return all((data_dir / (stem + ".gz")).exists() or (data_dir / stem).exists()
               for stems in FILES.values() for stem in stems)


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
    """The folder given, else $MNIST_DIR, else the download cache, downloaded into first if incomplete."""
    data_dir = data_dir or os.environ.get("MNIST_DIR")
    if data_dir:
        return Path(data_dir)
    folder = DEFAULT_CACHE / "MNIST" / "raw"  # torchvision's layout, so an earlier torchvision download counts
    if not has_all_files(folder):
        download_mnist(folder)
    return folder


# Download ----------------------------------------------------------------------------------------

def download_mnist(folder) -> Path:
    """Fill folder with the four MNIST files: from the mirrors in turn (a file already checked is kept when a
    later one fails), then from the Hub. A source silent for TIMEOUT seconds counts as down. Every failure ends
    in one MnistDownloadError in plain words."""
    folder = Path(folder)
    advice = "Set MNIST_DIR to a folder with the four MNIST IDX files, or try again later."
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MnistDownloadError(f"MNIST could not be downloaded (cannot write to {folder}: {why(e)}). {advice}")
    env = os.environ.get("MNIST_MIRRORS")
    mirrors = env.split() if env is not None else MIRRORS
    missing = [stem for stems in FILES.values() for stem in stems if not (folder / (stem + ".gz")).exists()]
    reasons = []
    for base in mirrors:
        try:
            while missing:
                fetch_idx(base.rstrip("/") + "/" + missing[0] + ".gz", folder, missing[0])
                missing.pop(0)
            return folder
        except (OSError, HTTPException, ValueError, MnistDataError) as e:  # URLError, HTTPError, timeouts: OSErrors
            reasons.append(f"{urlsplit(base).netloc or base}: {why(e)}")
    if HUB_URL and importlib.util.find_spec("pyarrow"):
        try:
            fetch_from_hub(folder)
            return folder
        except (OSError, HTTPException, ValueError, MnistDataError) as e:
            reasons.append(f"the Hugging Face Hub: {why(e)}")
    raise MnistDownloadError(f"MNIST could not be downloaded ({'; '.join(reasons) or 'no source is set'}). {advice}")


def why(error: BaseException) -> str:
    """An exception in a few plain words: its first line, without angle brackets, cut short if long."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}".strip()
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        return why(error.reason)
    if isinstance(error, TimeoutError):
        return f"no answer within {TIMEOUT:g} s"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = re.sub(r"<[^<>]*>|[<>]|^\[Errno -?\d+\] ", "", text).strip() or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def fetch(url: str, path: Path) -> None:
    """url -> path, or an exception: TIMEOUT s of silence at most, FILE_DEADLINE s in all."""
    request = urllib.request.Request(url, headers={"User-Agent": "mnist_core"})
    deadline = time.monotonic() + FILE_DEADLINE
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response, open(path, "wb") as out:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                if time.monotonic() > deadline:
                    raise MnistDataError(f"{path.name} took over {FILE_DEADLINE:g} s")
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def fetch_idx(url: str, folder: Path, stem: str) -> None:
    """Download url as folder/stem.gz, kept only if it is the MNIST file: the original .gz, or its content."""
    part = folder / f".{stem}.gz.{os.getpid()}.part"
    fetch(url, part)
    gz_md5, content_md5 = MD5[stem]
    try:
        with gzip.open(part, "rb") as f:
            content = f.read()
        if hashlib.md5(part.read_bytes()).hexdigest() != gz_md5 and hashlib.md5(content).hexdigest() != content_md5:
            raise MnistDataError(f"{stem}.gz is not the MNIST file (its checksum differs)")
    except (OSError, EOFError) as e:
        part.unlink(missing_ok=True)
        raise MnistDataError(f"{stem}.gz is not a gzip file") from e
    except MnistDataError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, folder / (stem + ".gz"))


def fetch_from_hub(folder: Path) -> None:
    """The Hub's MNIST (parquet: PNG bytes and labels) written into folder as the four IDX files, uncompressed.
    A mirror's .gz of the same file is removed after, so images and labels never come from two sources."""
    import pyarrow.parquet as pq
    from PIL import Image

    for split, n in HUB_SPLIT_SIZES.items():
        part = folder / f".{split}.parquet.{os.getpid()}.part"
        fetch(f"{HUB_URL}{split}-00000-of-00001.parquet", part)
        try:
            table = pq.read_table(part, columns=["image", "label"])
            images = np.stack([np.asarray(Image.open(io.BytesIO(item["bytes"])).convert("L"))
                               for item in table.column("image").to_pylist()])
            labels = np.asarray(table.column("label").to_pylist())
        except Exception as e:  # noqa: BLE001 - pyarrow and PIL raise many kinds for a file that is not this one
            raise MnistDataError(f"{split}-00000-of-00001.parquet is not readable ({why(e)})") from e
        finally:
            part.unlink(missing_ok=True)
        if images.shape != (n, 28, 28) or labels.shape != (n,) or not ((labels >= 0) & (labels <= 9)).all():
            raise MnistDataError(f"its {split} split is not MNIST: images {images.shape}, labels {labels.shape}")
        for stem, array in zip(FILES[split], (images, labels.astype(np.uint8))):
            write_idx(folder / stem, array)
            (folder / (stem + ".gz")).unlink(missing_ok=True)


def write_idx(path: Path, array: np.ndarray) -> None:
    """A uint8 array as an uncompressed IDX file, written to a temporary name and renamed."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())
    os.replace(part, path)


@dataclass
class Split:
    """One split on a device: images (N, 1, 28, 28) normalized float32, labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self):
        return len(self.labels)

    def last(self, n: int) -> "Split":
        """The last n images and labels: of the training set, the validation split held out."""
        return Split(self.images[-n:], self.labels[-n:])

    def first(self, n: int) -> "Split":
        """The first n images and labels."""
        return Split(self.images[:n], self.labels[:n])

    def to(self, device) -> "Split":
        """The split with its tensors on `device`."""
        return Split(self.images.to(device), self.labels.to(device))


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
