"""The line reader: reads a row of digits in one pass, where they touch as well as where they stand apart.

A small convolutional network turns a line of ink (scaled to HEIGHT pixels) into one column of features per
STRIDE pixels, a bidirectional GRU reads the columns in both directions, and each column gets 11 scores (the
ten digits and a blank). It is trained with CTC (Graves et al., 2006) on lines composed of MNIST training digits
(mnist_core.line_data, mnist_core.train_lines), so no one has to say where one digit ends and the next begins:
read_number uses it for the groups of ink too wide to be one digit, which straight cuts between touching digits
often cannot separate. Its probabilities are calibrated like the digit network's (a temperature fitted on lines
of held-out digits) and it has its own "not a digit" threshold.
"""
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import nn

from .checkpoint import write_safetensors
from .data import normalize

HEIGHT = 32  # pixels: the line is scaled to this height (the ink to HEIGHT - 2 * PAD)...
PAD = 2  # ...with this much paper above, below and at the ends
STRIDE = 4  # input pixels per output column
MAX_WIDTH = 8 * HEIGHT  # a line wider than this (about ten digits) is squeezed to it
BLANK = 10  # the CTC blank's index
FORMAT_VERSION = 1
# in a folder of its own: the app lists the digit networks in checkpoints/ (mnist_core.registry) as models to pick
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "line_reader" / "line_reader.safetensors"


class LineNet(nn.Module):
    """(N, 1, HEIGHT, W) normalized ink -> (N, W / STRIDE, 11) scores: ten digits and the blank."""

    def __init__(self, channels: tuple[int, int, int] = (32, 64, 96), hidden: int = 96):
        super().__init__()
        self.channels, self.hidden = tuple(channels), hidden
        self.temperature: float = 1.0  # fitted after training (see train_lines.calibrate)
        self.threshold: float | None = None  # a digit under this top probability is "not a digit"
        self.shift: float = 0.0  # input pixels from a digit's surest column to its centre (fitted with the temperature)
        self.metrics: dict = {}  # what its training and calibration measured (kept in its file)
        c1, c2, c3 = channels

        def block(c_in, c_out, pool):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                    nn.MaxPool2d(pool)]

        # heights 32 -> 16 -> 8 -> 4 -> 2, widths / 4: two rows of c3 features per column
        self.features = nn.Sequential(*block(1, c1, 2), *block(c1, c2, 2), *block(c2, c3, (2, 1)),
                                      *block(c3, c3, (2, 1)))
        self.rnn = nn.GRU(2 * c3, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, BLANK + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).flatten(1, 2).transpose(1, 2)  # (N, columns, 2 * c3)
        return self.out(self.rnn(f)[0])


@dataclass
class Char:
    """One digit the line reader read: its ten calibrated probabilities and the columns of the line's crop it
    was read at (x0 to x1, x1 exclusive, in the ink's pixels)."""

    probs: np.ndarray
    x0: int
    x1: int


def line_input(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """The ink of one line (white on black, 0..1, cropped to its marks) scaled to HEIGHT - 2 * PAD pixels tall
    with PAD of paper around it and its brightest pixel at 1, and the scale (input pixels per ink pixel)."""
    h, w = ink.shape
    scale = (HEIGHT - 2 * PAD) / h
    width = min(max(1, round(w * scale)), MAX_WIDTH - 2 * PAD)
    a = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize((width, HEIGHT - 2 * PAD),
                                                                            Image.Resampling.BILINEAR))
    a = np.clip(a / max(float(a.max()), 1e-6), 0, 1)
    return np.pad(a, PAD), width / w


def batched(inputs: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
    """Lines of one height side by side in a normalized batch (N, 1, HEIGHT, W), padded with paper to the widest
    (W a multiple of STRIDE), and each line's number of output columns."""
    width = -(-max(a.shape[1] for a in inputs) // STRIDE) * STRIDE
    x = np.zeros((len(inputs), 1, HEIGHT, width), np.float32)
    for i, a in enumerate(inputs):
        x[i, 0, :, : a.shape[1]] = a
    return normalize(torch.from_numpy(x)), [-(-a.shape[1] // STRIDE) for a in inputs]


def decode(scores: torch.Tensor) -> list[tuple[int, int, int]]:
    """Greedy CTC decoding of one line's (columns, 11) scores: for each digit read, the first and last + 1 column
    of its run and the run's surest column (where its digit's score over the others' is highest)."""
    best = scores.argmax(-1).tolist()
    out, start = [], 0
    for t in range(1, len(best) + 1):
        if t == len(best) or best[t] != best[start]:
            if best[start] != BLANK:
                sure = torch.softmax(scores[start:t, :BLANK].float(), dim=-1).max(dim=1).values
                out.append((start, t, start + int(sure.argmax())))
            start = t
    return out


def column_centre(column: int) -> float:
    """The middle of an output column, in input pixels."""
    return (column + 0.5) * STRIDE


@torch.inference_mode()
def read_line(model: LineNet, ink: np.ndarray) -> list[Char]:
    """The digits of one line of ink (white on black, cropped to its marks), left to right. A digit's centre is its
    surest column moved by the model's shift (CTC puts that column anywhere in the digit, the same place for all);
    its columns reach halfway to its neighbours' centres (the line's ends for the first and last)."""
    a, scale = line_input(ink)
    x, _ = batched([a])
    scores = model.eval()(x.to(next(model.parameters()).device))[0].cpu()
    found = decode(scores)
    centres = [(column_centre(c) + model.shift - PAD) / scale for _, _, c in found]
    edges = [0, *((left + right) / 2 for left, right in zip(centres, centres[1:])), ink.shape[1]]
    edges = np.maximum.accumulate(np.clip(np.round(edges), 0, ink.shape[1])).astype(int)  # in the line, in order
    probs = torch.softmax(scores[[c for _, _, c in found], :BLANK].float() / model.temperature, dim=-1).numpy()
    return [Char(p, int(edges[i]), int(edges[i + 1])) for i, p in enumerate(probs)]


def save_line_reader(path, model: LineNet, metrics: dict, device: str) -> Path:
    """The weights in a safetensors file, with what rebuilds and describes the model as JSON metadata; written to
    a temporary file that is then renamed, so a crash leaves any earlier file whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "channels": list(model.channels), "hidden": model.hidden,
            "calibration": {"temperature": model.temperature, "threshold": model.threshold, "shift": model.shift},
            "metrics": metrics,
            "device": device, "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return write_safetensors(path, model, {"line_reader": json.dumps(meta)})


class LineReaderError(RuntimeError):
    """A missing, corrupt or incompatible line reader file; the message names the file and the problem."""


def load_line_reader(path=None) -> LineNet:
    """The line reader from its file (the shipped one when path is None), in eval mode on the CPU."""
    path = Path(path) if path else SHIPPED
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("line_reader")
        weights = load_file(str(path), device="cpu")
        meta = json.loads(raw)
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format version {meta.get('format_version')}, this code reads {FORMAT_VERSION}")
        model = LineNet(tuple(meta["channels"]), int(meta["hidden"]))
        model.load_state_dict(weights)
        model.temperature = float(meta["calibration"]["temperature"])
        threshold = meta["calibration"].get("threshold")
        model.threshold = None if threshold is None else float(threshold)
        model.shift = float(meta["calibration"].get("shift", 0.0))
        model.metrics = dict(meta.get("metrics") or {})
    except FileNotFoundError:
        raise LineReaderError(f"{path}: line reader not found") from None
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise LineReaderError(f"{path}: not a readable line reader ({type(e).__name__}: {e})") from None
    return model.eval()


@lru_cache(maxsize=1)
def shipped_line_reader() -> LineNet:
    """The shipped line reader, loaded once."""
    return load_line_reader()
