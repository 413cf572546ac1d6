"""The server's one training run: start, follow, stop; the finished model is saved and added to the registry."""
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

from .checkpoint import CheckpointError, save_checkpoint
from .config import TrainConfig, device_name, pick_device
from .data import MnistDataError, Split, load_mnist
from .engine import Event, train
from .generated import calibration_digits, training_extras
from .registry import ModelRegistry
from .report import History


class State(Enum):
    LOADING = "loading data"
    GENERATING = "making training images"  # drawn, printed and photographed digits, non-digits (mnist_core.generated)
    STARTING = "starting"  # data ready; the first steps (and a warm-up step) are running
    TRAINING = "training"
    SAVING = "saving"
    DONE = "done"
    STOPPED = "stopped"
    FAILED = "failed"


FINISHED = {State.DONE, State.STOPPED, State.FAILED}


class Start(Enum):
    """What pressing Start did."""

    STARTED = "training started"
    BUSY = "a training run is already in progress: showing it"
    SWITCHED_OFF = "training is switched off on this server"
    CANNOT_SAVE = "trained models cannot be saved here"


@dataclass
class Run:
    """One training run as the page shows it: its curves, where it is, and how it ended."""

    config: TrainConfig
    device: str
    history: History = field(default_factory=History)
    last: Event | None = None
    state: State = State.LOADING
    message: str = ""
    owner: str = ""  # who pressed Start (a page's session): the page that adopts the finished model
    saved: Path | None = None  # the finished model's file
    made_default: bool = False  # whether it became the server's default (it scored better on held-out data)
    started_at: float = field(default_factory=time.monotonic)
    last_at: float = field(default_factory=time.monotonic)  # when the last event came: the status counts from it


# A remote trainer: config as a dict -> plain event dicts (see mnist_core.remote), e.g. a @spaces.GPU function.
Remote = Callable[[dict], Iterator[dict]]


class TrainingJob:
    """At most one run for the whole server. Locally it trains in a thread of this process; with `remote` (a
    ZeroGPU Space) it trains inside the caller's request, so the GPU time is charged to the visitor who asked."""

    def __init__(self, registry: ModelRegistry, data: tuple[Split, Split] | None = None, data_dir=None,
                 allow_training: bool = True, remote: Remote | None = None,
                 after_event: Callable[[Event], None] | None = None):
        self.registry = registry
        self.data_dir = data_dir
        self.allow_training = allow_training
        self.remote = remote
        self.after_event = after_event  # a hook run after each event; tests use it to hold a run open on purpose
        self._data = data
        self._data_lock = threading.Lock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self.run: Run | None = None
        self.runs_started = 0  # with len(run.history.rows) and run.state: tells pages the run changed

    def data(self) -> tuple[Split, Split]:
        """MNIST on the CPU, loaded once and shared by training and the Explore tab."""
        with self._data_lock:
            if self._data is None:
                self._data = load_mnist(self.data_dir, "cpu")
            return self._data

    def running(self) -> bool:
        return not self._idle.is_set()

    def start(self, config: TrainConfig, owner: str = "") -> tuple[Start, str]:
        """Start a run unless one is going. Locally it returns at once; with a remote trainer, when the run ends.
        owner: who started it (a page's session), so that page can take the finished model as its own."""
        if not self.allow_training:
            return Start.SWITCHED_OFF, Start.SWITCHED_OFF.value
        try:
            self.registry.check_writable()
        except CheckpointError as e:
            return Start.CANNOT_SAVE, str(e)
        with self._lock:
            if self.running():
                return Start.BUSY, Start.BUSY.value
            self._stop.clear()
            self._idle.clear()
            device = "ZeroGPU" if self.remote else device_name(pick_device())
            self.run = Run(config, device, owner=owner)
            self.runs_started += 1
        if self.remote:
            self._follow(self.run)
        else:
            threading.Thread(target=self._follow, args=(self.run,), daemon=True, name="training").start()
        return Start.STARTED, Start.STARTED.value

    def stop(self) -> str:
        with self._lock:  # not between another user's start() and its run starting
            if not self.running():
                return "no training run in progress"
            if self.run.state == State.SAVING:
                return "too late to stop: the run is finished and being saved"
            self._stop.set()
        return "stopping after the current step: the active model stays (unless the run had already finished)"

    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout=None) -> bool:
        return self._idle.wait(timeout)

    def _events(self, run: Run) -> Iterator[Event]:
        if self.remote:
            from .remote import to_events

            run.state = State.GENERATING  # here, not in the GPU's paid time: the worker's engine reads the cache
            training_extras(run.config, data_dir=self.data_dir)
            calibration_digits(run.config)
            return to_events(self.remote(run.config.__dict__.copy()))
        train_set, test_set = self.data()
        run.state = State.GENERATING  # its own stage: minutes the first time on a small CPU, then read from a cache
        extra, non_digits = training_extras(run.config, data_dir=self.data_dir)
        calibration = calibration_digits(run.config)
        run.state = State.STARTING
        return train(run.config, train_set, test_set, device=pick_device(), stop=self._stop, extra=extra,
                     non_digits=non_digits, calibration=calibration)

    def _follow(self, run: Run):
        try:
            ev = None
            with closing(self._events(run)) as events:  # closing a remote stream stops its worker
                for ev in events:
                    run.state = State.TRAINING
                    run.history.add(ev)
                    run.last, run.last_at = ev, time.monotonic()
                    if self.after_event:
                        self.after_event(ev)
                    if self.stopping() or ev.kind == "stopped":
                        break
            if ev is None or ev.kind != "done":
                run.state, run.message = State.STOPPED, "stopped before the end: no model was saved"
                return
            run.state = State.SAVING
            name = f"run-{datetime.now().strftime('%Y%m%d-%H%M%S')}-{ev.test_acc * 100:.2f}.safetensors"
            path = save_checkpoint(self.registry.checkpoint_dir / name, ev.model, run.config, ev.metrics(), run.device)
            _, run.made_default = self.registry.add(path)
            run.saved = path
            run.state, run.message = State.DONE, f"saved {path.name}"
        except (MnistDataError, CheckpointError, ValueError, RuntimeError, OSError) as e:
            run.state, run.message = State.FAILED, f"training failed: {e}"
        except Exception as e:  # noqa: BLE001 - a crashed run must never take the server down
            if type(e).__name__ != "Error":  # gradio.Error (a ZeroGPU refusal) is a message, not a bug
                traceback.print_exc()
            run.state, run.message = State.FAILED, f"training failed: {e}"
        finally:
            self._idle.set()
