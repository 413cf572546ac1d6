"""Training in another process, as on a ZeroGPU Space: the GPU exists only inside one `@spaces.GPU` call, which
runs in a forked worker and pickles what it yields. So the worker yields plain values only (each event as a
dict, the finished weights as a CPU state dict), and this process turns them back into engine Events."""
import dataclasses
from collections.abc import Iterator

import torch

from .checkpoint import from_dict
from .config import TrainConfig, pick_device
from .data import load_mnist
from .engine import Event, train
from .model import DigitCNN, ModelConfig


def train_plain(config: dict, data_dir: str | None = None) -> Iterator[dict]:
    """The engine's events as plain dicts; the last one adds "state_dict" (CPU tensors) and "model_config"."""
    # A forked process inherits the parent's OpenMP thread pool in a broken state: a parallel CPU op would hang
    # (seen here). One thread avoids it; on the GPU the CPU does little.
    torch.set_num_threads(1)
    device = pick_device()
    train_set, test_set = load_mnist(data_dir, "cpu")  # loaded in the worker: arguments stay small
    for ev in train(TrainConfig(**config), train_set, test_set, device=device):
        plain = {f.name: getattr(ev, f.name) for f in dataclasses.fields(Event) if f.name != "model"}
        if ev.model is not None:
            plain["state_dict"] = {k: v.detach().cpu() for k, v in ev.model.state_dict().items()}
            plain["model_config"] = dataclasses.asdict(ev.model.config)
            plain["calibration"] = [ev.model.temperature, ev.model.threshold]
        yield plain


def to_events(plain_events: Iterator[dict]) -> Iterator[Event]:
    """Events again, the last one with its model rebuilt on the CPU from the state dict. Closing this closes
    plain_events at once (on ZeroGPU that stops the worker), not whenever it is garbage-collected."""
    try:
        yield from _rebuilt(plain_events)
    finally:
        getattr(plain_events, "close", lambda: None)()


def _rebuilt(plain_events: Iterator[dict]) -> Iterator[Event]:
    for plain in plain_events:
        plain = dict(plain)
        state, model_config = plain.pop("state_dict", None), plain.pop("model_config", None)
        calibration = plain.pop("calibration", [1.0, None])
        model = None
        if state is not None:
            model = DigitCNN(from_dict(ModelConfig, model_config))  # the checkpoint's own strict rebuild
            model.load_state_dict(state)
            model.temperature, model.threshold = calibration
            model = model.to(memory_format=torch.channels_last).eval()
        yield Event(**plain, model=model)


def gpu_seconds(config: dict, data_dir: str | None = None) -> int:
    """The GPU time to ask ZeroGPU for: start-up and data loading, plus a generous per-epoch estimate that grows
    with the number of steps (smaller batches, more steps). Quota is charged against what is asked, so not more."""
    steps = 60_000 // int(config.get("batch_size", 128)) * int(config.get("epochs", 1))
    return int(min(30 + steps * 0.01, 600))  # about 10 ms a step is generous on a ZeroGPU slice; at most 10 min
