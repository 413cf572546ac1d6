"""The models a server offers: the shipped one and those trained here. Each page reads with the model it chose;
the server's default (for pages that chose none, and for the API) is the shipped model unless a trained one
scores better on held-out data."""
import json
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from safetensors import SafetensorError, safe_open

from .checkpoint import SHIPPED, Checkpoint, CheckpointError, load_checkpoint
from .reader import predict

HELD_OUT = "val_acc"  # the metric that decides the default: accuracy on digits held out of training


class ModelRegistry:
    """The checkpoints in one folder plus the shipped model; the default one, swapped whole under a lock; and a
    few loaded models kept for the pages that chose them."""

    def __init__(self, checkpoint_dir=None, keep_loaded: int = 8):
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else SHIPPED.parent
        self._lock = threading.Lock()
        self._loaded: OrderedDict[Path, Checkpoint] = OrderedDict()  # the most recently used last
        self.keep_loaded = keep_loaded
        self._metrics: dict[tuple[Path, float], dict] = {}  # describe()'s answers, by file and modification time
        self.default: Checkpoint | None = None
        self.version = 0  # goes up whenever the default model or the list of checkpoints changes
        self.problem = ""  # what went wrong loading checkpoints at start, shown to users
        self.swept = sweep_temporaries(self.checkpoint_dir)
        self._load_first_model()

    @property
    def active(self) -> Checkpoint | None:
        """The server's default model (the name older callers use)."""
        return self.default

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
                self.default = self._remember(load_checkpoint(path))
                break
            except CheckpointError as e:
                problems.append(str(e))
        self.problem = "; ".join(problems)

    def _remember(self, checkpoint: Checkpoint) -> Checkpoint:
        with self._lock:
            self._loaded[checkpoint.path.resolve()] = checkpoint
            self._loaded.move_to_end(checkpoint.path.resolve())
            while len(self._loaded) > self.keep_loaded:
                self._loaded.popitem(last=False)
        return checkpoint

    def get(self, name=None) -> Checkpoint:
        """A checkpoint of this server by file name or path, loaded once and kept; the default when name is empty."""
        if not name:
            with self._lock:
                if self.default is None:
                    raise CheckpointError(f"no model is loaded ({self.problem}); train one in the Train tab")
                return self.default
        by_name = {p.name: p.resolve() for p in self.checkpoints()}
        path = by_name.get(str(name)) or Path(name).resolve()
        if path not in by_name.values():
            raise CheckpointError(f"{Path(str(name)).name}: not one of this server's checkpoints")
        with self._lock:
            if path in self._loaded:
                self._loaded.move_to_end(path)
                return self._loaded[path]
        return self._remember(load_checkpoint(path))  # loaded whole before anyone can use it

    def describe(self, path) -> dict:
        """A checkpoint's recorded metrics, read from its header alone (no weights); {} when unreadable."""
        path = Path(path)
        try:
            key = (path.resolve(), path.stat().st_mtime)
        except OSError:
            return {}
        if key not in self._metrics:
            try:
                with safe_open(str(path), framework="pt") as f:
                    self._metrics[key] = dict(json.loads((f.metadata() or {})["mnist_core"]).get("metrics", {}))
            except (SafetensorError, OSError, ValueError, KeyError, TypeError):
                return {}
        return self._metrics[key]

    def select(self, path) -> Checkpoint:
        """Make a checkpoint the server's default: loaded fully, then swapped in whole."""
        checkpoint = self.get(path)  # empty: the default stays
        with self._lock:  # one reference swapped: a prediction uses the model it got, whole, before or after
            self.default = checkpoint
            self.version += 1
        return checkpoint

    def add(self, path) -> tuple[Checkpoint, bool]:
        """A checkpoint just trained here: listed for every page, and the default only when there is none or it
        scores better on held-out data than the default does. Returns it and whether it became the default."""
        checkpoint = self.get(path)
        with self._lock:
            better = self.default is None or beats(checkpoint, self.default)
            if better:
                self.default = checkpoint
            self.version += 1  # the list changed, at least
        return checkpoint, better

    def model(self, name=None):
        return self.get(name).model

    def predict(self, images, name=None):
        """Read images with the named model (the default when name is empty)."""
        return predict(self.model(name), images)

    def check_writable(self):
        """Raise CheckpointError now if trained models could not be saved here (not after a whole run)."""
        try:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.checkpoint_dir, prefix=".write-test-"):
                pass  # a name of its own: two Starts at once each write and remove their own
        except OSError as e:
            raise CheckpointError(f"trained models cannot be saved in {self.checkpoint_dir} ({e.strerror or e}): "
                                  "set CHECKPOINT_DIR to a folder this server can write") from None


def beats(candidate: Checkpoint, default: Checkpoint) -> bool:
    """Whether a model should replace the default: both measured on held-out data, the candidate higher. A model
    without that measure never replaces one, nor is replaced by one on a measure it does not share."""
    theirs, ours = candidate.metrics.get(HELD_OUT), default.metrics.get(HELD_OUT)
    return isinstance(theirs, (int, float)) and isinstance(ours, (int, float)) and theirs > ours


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
