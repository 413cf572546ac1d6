"""What a server shares between its users: the active model and at most one training run, behind one lock."""
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .checkpoint import SHIPPED, Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .data import MnistDataError, Split, load_mnist
from .engine import Event, TrainConfig, device_name, pick_device, train
from .predict import predict
from .report import History


@dataclass
class Run:
    """One training run as the page shows it: its curves, where it is, and how it ended."""

    config: TrainConfig
    device: str
    history: History = field(default_factory=History)
    last: Event | None = None
    state: str = "starting"  # starting, loading data, training, saving, done, stopped, failed
    message: str = ""


class Workspace:
    def __init__(self, checkpoint_dir=None, data_dir=None, allow_training: bool = True):
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else SHIPPED.parent
        self.data_dir = data_dir
        self.allow_training = allow_training
        self._lock = threading.Lock()
        self._data: tuple[Split, Split] | None = None
        self._data_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.run: Run | None = None
        self.runs_started = 0  # with len(run.history.rows) and run.state: tells pages the run changed
        self.active: Checkpoint | None = None
        self.model_version = 0  # goes up whenever the active model or the list of checkpoints changes
        self.problem = ""  # what went wrong loading checkpoints at start, shown to users
        self._load_first_model()

    # models ----------------------------------------------------------------------------------

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
            self.model_version += 1
        return checkpoint

    def model(self):
        with self._lock:
            if self.active is None:
                raise CheckpointError(f"no model is loaded ({self.problem}); train one in the Train tab")
            return self.active.model

    def predict(self, images):
        return predict(self.model(), images)

    # data ------------------------------------------------------------------------------------

    def data(self) -> tuple[Split, Split]:
        """MNIST on the CPU, loaded once and shared by training and the Explore tab."""
        with self._data_lock:
            if self._data is None:
                self._data = load_mnist(self.data_dir, "cpu")
            return self._data

    # training --------------------------------------------------------------------------------

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, config: TrainConfig) -> tuple[bool, str]:
        """Start a run unless one is going: exactly one at a time for the whole server."""
        if not self.allow_training:
            return False, "training is switched off on this server"
        with self._lock:
            if self.running():
                return False, "a training run is already in progress: showing it"
            self._stop.clear()
            device = pick_device()
            self.run = Run(config, device_name(device))
            self.runs_started += 1
            self._thread = threading.Thread(target=self._train, args=(self.run, device), daemon=True, name="training")
            self._thread.start()
        return True, "training started"

    def stop(self) -> str:
        with self._lock:  # not between another user's start() and its thread starting
            if not self.running():
                return "no training run in progress"
            if self.run.state == "saving":
                return "too late to stop: the run is finished and being saved"
            self._stop.set()
        return "stopping after the current step: the active model stays (unless the run had already finished)"

    def wait(self, timeout=None):
        if self._thread is not None:
            self._thread.join(timeout)

    def _train(self, run: Run, device):
        try:
            run.state = "loading data"
            train_set, test_set = self.data()
            run.state = "training"
            for ev in train(run.config, train_set, test_set, device=device, stop=self._stop):
                run.history.add(ev)
                run.last = ev
            if ev.kind == "stopped":
                run.state, run.message = "stopped", "stopped: the active model was kept"
                return
            run.state = "saving"
            name = f"run-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{ev.test_acc * 100:.2f}.safetensors"
            path = save_checkpoint(self.checkpoint_dir / name, ev.model, run.config, ev.metrics(), run.device)
            self.select(path)
            run.state, run.message = "done", f"saved {path.name}; it is now the active model"
        except (MnistDataError, ValueError, RuntimeError, OSError) as e:
            run.state, run.message = "failed", f"training failed: {e}"
        except Exception as e:  # noqa: BLE001 - a crashed run must never take the server down
            traceback.print_exc()
            run.state, run.message = "failed", f"training failed: {type(e).__name__}: {e}"

