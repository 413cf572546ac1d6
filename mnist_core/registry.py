"""The models a server offers: the shipped one and those trained here, and the active one that reads drawings."""
import os
import threading
from pathlib import Path

from .checkpoint import SHIPPED, Checkpoint, CheckpointError, load_checkpoint
from .reader import predict


class ModelRegistry:
    """The checkpoints in one folder plus the shipped model; one active model, swapped whole under a lock."""

    def __init__(self, checkpoint_dir=None):
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else SHIPPED.parent
        self._lock = threading.Lock()
        self.active: Checkpoint | None = None
        self.version = 0  # goes up whenever the active model or the list of checkpoints changes
        self.problem = ""  # what went wrong loading checkpoints at start, shown to users
        self.swept = sweep_temporaries(self.checkpoint_dir)
        self._load_first_model()

    def checkpoints(self) -> list[Path]:
        """The shipped model first, then trained ones, newest first."""
        trained = [p for p in self.checkpoint_dir.glob("*.safetensors") if p.resolve() != SHIPPED.resolve()]
        trained.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        return ([SHIPPED] if SHIPPED.exists() else []) + trained

    def _load_first_model(self):
        """The shipped model, else the newest trained one that loads; what went wrong goes to self.problem."""
        problems = []
        for path in [SHIPPED] + [p for p in self.checkpoints() if p != SHIPPED]:
            try:
                self.active = load_checkpoint(path)
                break
            except CheckpointError as e:
                problems.append(str(e))
        self.problem = "; ".join(problems)

    def select(self, path) -> Checkpoint:
        """Load a checkpoint fully, then swap it in: predictions never see a half-loaded model."""
        path = Path(path).resolve()
        if path not in {p.resolve() for p in self.checkpoints()}:
            raise CheckpointError(f"{path.name}: not one of this server's checkpoints")
        checkpoint = load_checkpoint(path)
        with self._lock:  # one reference swapped: a prediction uses the model it got, whole, before or after
            self.active = checkpoint
            self.version += 1
        return checkpoint

    def model(self):
        with self._lock:
            if self.active is None:
                raise CheckpointError(f"no model is loaded ({self.problem}); train one in the Train tab")
            return self.active.model

    def predict(self, images):
        return predict(self.model(), images)

    def check_writable(self):
        """Raise CheckpointError now if trained models could not be saved here (not after a whole run)."""
        try:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            probe = self.checkpoint_dir / f".write-test-{os.getpid()}.tmp"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise CheckpointError(f"trained models cannot be saved in {self.checkpoint_dir} ({e.strerror or e}): "
                                  "set CHECKPOINT_DIR to a folder this server can write") from None


def sweep_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files that a checkpoint writer killed mid-save left behind (see save_checkpoint)."""
    swept = []
    for tmp in folder.glob(".*.safetensors.*.tmp"):
        try:
            tmp.unlink()
            swept.append(tmp)
        except OSError:  # not ours to remove (a read-only folder): harmless, it is never listed
            pass
    return swept
