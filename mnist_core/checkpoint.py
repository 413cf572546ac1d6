"""Checkpoints: one safetensors file with the weights and, as JSON metadata, everything needed to rebuild
and describe the model. Loading never unpickles; writing goes to a temporary file that is then renamed."""
import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import TrainConfig
from .model import DigitCNN, Ensemble, ModelConfig

FORMAT_VERSION = 6
OLD_FORMATS = {1: "format 1 held the older network with batch norm before pooling: retrain it"}
# Format 2 predates the validation split, outlier exposure and calibration: such a model loads as trained,
# with no held-out split, no outlier exposure, temperature 1 and no "not a digit" threshold.
# Format 3 predates the generated photos and scans (photo_digits): such a model trained on none.
# Format 4 predates the drawn digits in calibration (calibration_drawn): its temperature was fitted on MNIST alone.
# Format 5 predates ensembles ("members", "views"): it holds one network.
FORMAT_4_TRAINING = {"calibration_drawn": 0}
FORMAT_3_TRAINING = {"photo_digits": 0, **FORMAT_4_TRAINING}
FORMAT_2_TRAINING = {"validation": 0, "outlier_weight": 0.0, "non_digits": 0, "drawn_digits": 0, "printed_digits": 0,
                     **FORMAT_3_TRAINING}
SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints" / "mnist_cnn.safetensors"


class CheckpointError(RuntimeError):
    """A missing, corrupt or incompatible checkpoint; the message names the file and the problem."""


@dataclass
class Checkpoint:
    model: DigitCNN | Ensemble
    model_config: ModelConfig
    train_config: TrainConfig
    metrics: dict  # test_acc, per_class, and whatever else the trainer measured
    device: str  # what it was trained on, e.g. "NVIDIA H100" or "CPU" (an ensemble's: each network's, with " + ")
    created: str  # ISO 8601, UTC
    path: Path | None = None


def save_checkpoint(path, model, train_config: TrainConfig, metrics: dict, device: str) -> Path:
    """Write atomically: a crash mid-write leaves any previous file at `path` intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "model_config": asdict(model.config),
        "members": len(model.members) if isinstance(model, Ensemble) else 1,  # networks of that config, averaged
        "views": list(getattr(model, "views", ())),  # what an ensemble reads beside the input (model.VIEWS)
        "train_config": asdict(train_config),
        "metrics": metrics,
        "calibration": {"temperature": model.temperature, "threshold": model.threshold},
        "device": device,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return write_safetensors(path, model, {"mnist_core": json.dumps(meta)})


def write_safetensors(path: Path, model: torch.nn.Module, metadata: dict[str, str]) -> Path:
    """The model's weights and `metadata` in a safetensors file, written to a temporary file beside `path`,
    synced, then renamed over it: a crash mid-write leaves any previous file intact."""
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(weights, tmp, metadata=metadata)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a checkpoint is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def from_dict(cls, values: dict):
    """A frozen config from saved values, which must name every field and nothing else: a default
    filled in for a missing field could silently rebuild a different model."""
    names = {f.name for f in fields(cls)}
    if set(values) != names:
        raise ValueError(f"{cls.__name__} fields differ: missing {sorted(names - set(values))}, "
                         f"unknown {sorted(set(values) - names)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def load_checkpoint(path=None, device=None) -> Checkpoint:
    """Rebuild the model from a checkpoint (the shipped one when path is None), in eval mode."""
    path = Path(path) if path else SHIPPED
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("mnist_core")
        weights = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint (corrupt or truncated: {e})") from None
    if raw is None:
        raise CheckpointError(f"{path}: a safetensors file without mnist_core metadata")
    try:
        meta = json.loads(raw)
        old = {2: FORMAT_2_TRAINING, 3: FORMAT_3_TRAINING, 4: FORMAT_4_TRAINING, 5: {}}.get(meta.get("format_version"))
        if old is not None:
            meta["train_config"] = {**old, **meta["train_config"]}
        elif meta.get("format_version") != FORMAT_VERSION:
            version = meta.get("format_version")
            why = f"; {OLD_FORMATS[version]}" if version in OLD_FORMATS else ""
            raise ValueError(f"format version {version}, this code reads {FORMAT_VERSION}{why}")
        model_config = from_dict(ModelConfig, meta["model_config"])
        train_config = from_dict(TrainConfig, meta["train_config"])
        members = meta.get("members", 1)
        if isinstance(members, bool) or not isinstance(members, int) or members < 1:
            raise ValueError(f"members must be a whole number, at least 1, got {members!r}")
        views = tuple(meta.get("views", ()))
        if members == 1 and views:
            raise ValueError(f"views {list(views)} are read by an ensemble, and this file holds one network")
        model = DigitCNN(model_config) if members == 1 else Ensemble(model_config, members, views)
        model.load_state_dict(weights)
        calibration = meta.get("calibration") or {}  # none: plain softmax, nothing refused
        model.temperature = float(calibration.get("temperature", 1.0))
        model.threshold = None if calibration.get("threshold") is None else float(calibration["threshold"])
        if not model.temperature > 0:
            raise ValueError(f"temperature must be positive, got {model.temperature}")
        checkpoint = Checkpoint(model, model_config, train_config, dict(meta["metrics"]), str(meta["device"]),
                                str(meta["created"]), path)
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{path}: incompatible checkpoint ({type(e).__name__}: {e})") from None
    checkpoint.model = model.to(device or "cpu", memory_format=torch.channels_last).eval()  # faster convolutions
    return checkpoint
