"""The training digits nearest to an input in the network's own representation (its hidden layer): an index of
the 60,000 training digits' hidden vectors, built once per model in batches, and a k-nearest search over it."""
import hashlib
import threading
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import MnistDataError, read_split, resolve_data_dir
from .inside import as_batch, device_of, first_network, hidden_vectors

BATCH = 1000  # training digits per forward pass while building (a few MB of activations at a time)
KEEP = 3  # indexes kept in memory (about 31 MB each for the shipped model's 128 hidden units)


@dataclass
class NeighbourIndex:
    """Hidden vectors of the training digits for one model; empty, with a message saying why, when MNIST is
    not there."""

    model: nn.Module | None
    vectors: torch.Tensor  # (N, hidden) float32, on the model's device
    labels: np.ndarray  # (N,) int64
    images: np.ndarray  # (N, 28, 28) uint8, white ink on black
    message: str = ""  # why there is no index; "" when there is one
    key: tuple = ()  # (weights' fingerprint, data folder): where neighbour_index keeps it
    squared_norms: torch.Tensor = field(init=False)

    def __post_init__(self):
        self.squared_norms = (self.vectors * self.vectors).sum(1)

    def __len__(self):
        return len(self.labels)


@dataclass
class Nearest:
    """The k training digits nearest to an input, nearest first."""

    indices: np.ndarray  # (k,) into the training split
    labels: np.ndarray  # (k,)
    distances: np.ndarray  # (k,) Euclidean, between hidden vectors
    images: np.ndarray  # (k, 28, 28) uint8
    message: str = ""  # why there are none; "" otherwise


@lru_cache(maxsize=2)
def training_digits(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The training split's images (N, 28, 28) uint8 and labels, read once per folder."""
    return read_split(data_dir, "train")


def fingerprint(model: nn.Module) -> str:
    """A hash of the model's configuration and every weight and buffer (an Ensemble's: its first network's, whose
    hidden layer the index holds): two models with the same fingerprint give the same hidden vectors."""
    model = first_network(model)
    digest = hashlib.blake2b(repr(getattr(model, "config", type(model))).encode(), digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def build_index(model: nn.Module, data_dir=None, batch: int = BATCH) -> NeighbourIndex:
    """Read the MNIST training split and run it through the model in batches (raises MnistDataError when
    the files cannot be had)."""
    images, labels = training_digits(resolve_data_dir(data_dir))
    device = device_of(model)
    vectors = torch.cat([hidden_vectors(model, as_batch(images[i : i + batch] / np.float32(255), device))
                         for i in range(0, len(images), batch)])
    return NeighbourIndex(model, vectors, labels, images)


_cache: dict[tuple, NeighbourIndex] = {}  # (fingerprint, data folder) -> index, oldest first
_building = threading.Lock()  # one build at a time: two requests for a new model wait for one build


def neighbour_index(model: nn.Module, data_dir=None) -> NeighbourIndex:
    """The model's index, built on first use (60,000 forward passes: about 17 s on an idle 2-core CPU for the
    shipped model) and kept for the KEEP most recent models, keyed by the weights' fingerprint. When the
    MNIST files are absent or cannot be downloaded, an empty index whose message says why (not kept: the
    files may come later)."""
    with _building:
        try:
            folder = resolve_data_dir(data_dir)
            key = (fingerprint(model), str(folder))
            if key not in _cache:
                _cache[key] = build_index(model, folder)
                _cache[key].key = key
                while len(_cache) > KEEP:
                    del _cache[next(iter(_cache))]
            return _cache[key]
        except MnistDataError as e:
            return empty_index(f"No training digits to compare with: {e}")


_keys = weakref.WeakKeyDictionary()  # model -> the cache key of its built index
_builds = weakref.WeakKeyDictionary()  # model -> the thread building its index
_why = weakref.WeakKeyDictionary()  # model -> why its build found no training digits


def index_when_ready(model: nn.Module, data_dir=None) -> NeighbourIndex | None:
    """neighbour_index without waiting, for a page: the index when it is built (or an empty one saying why
    there is none), else None, after starting the build in a background thread on the first call."""
    index = _cache.get(_keys.get(model))
    if index is not None:
        return index
    build = _builds.get(model)
    if build is None:
        build = _builds[model] = threading.Thread(target=remember_index, args=(model, data_dir), daemon=True,
                                                  name="neighbour-index")
        build.start()
    if build.is_alive():
        return None
    del _builds[model]
    if model in _why:  # said once; the next call tries again, in case the files have come
        return empty_index(_why.pop(model))
    return index_when_ready(model, data_dir)


def remember_index(model: nn.Module, data_dir) -> None:
    """Build (or find) the model's index and note its key, or why there is none. Only plain values are kept
    against the model, so a model nobody uses any more can be collected."""
    index = neighbour_index(model, data_dir)
    if index.message:
        _why[model] = index.message
    else:
        _keys[model] = index.key


def empty_index(message: str) -> NeighbourIndex:
    """An index of nothing, saying why."""
    return NeighbourIndex(None, torch.zeros(0, 0), np.zeros(0, np.int64), np.zeros((0, 28, 28), np.uint8), message)


def nearest(index: NeighbourIndex, x28, k: int = 8, hidden=None) -> Nearest:
    """The k training digits whose hidden vectors are nearest (Euclidean) to x28's, nearest first. Pass the
    input's hidden vector (Activations.hidden) as `hidden` to skip the forward pass."""
    if not len(index):
        return Nearest(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32),
                       np.zeros((0, 28, 28), np.uint8), index.message or "The index is empty.")
    device = index.vectors.device
    if hidden is None:
        query = hidden_vectors(index.model, as_batch(x28, device))[0]
    else:
        query = torch.as_tensor(np.asarray(hidden, np.float32), device=device)
    with torch.inference_mode():
        # |a - b|^2 = |a|^2 - 2 a.b + |b|^2, for all 60,000 at once; |query|^2 is the same for all, so left out
        scores = index.squared_norms - 2 * (index.vectors @ query)
        picked = torch.topk(scores, min(k, len(index)), largest=False).indices
        distances = (index.vectors[picked] - query).norm(dim=1)  # exact, for the few shown
        order = torch.argsort(distances, stable=True)
        picked, distances = picked[order].cpu().numpy(), distances[order].cpu().numpy()
    return Nearest(picked, index.labels[picked], distances, index.images[picked])
