"""Training as a ZeroGPU Space runs it, without a ZeroGPU: the decorated generator runs in a forked process, its
arguments and every value it yields cross as pickles, and closing the caller's generator stops the worker
(what spaces.zero.wrappers.generator_function_wrapper does). The app must end where in-process training ends."""
import multiprocessing
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import MNIST_DIR, ROOT, needs_mnist
from drawing import STROKES, draw, sketchpad_value
from mnist_core.config import TrainConfig
from mnist_core.job import Start, State, TrainingJob
from mnist_core.reader import load_model, predict
from mnist_core.registry import ModelRegistry
from mnist_core.remote import gpu_seconds, train_plain

SMALL = TrainConfig(epochs=1, batch_size=64, train_subset=1024, eval_every=8, log_every=2, seed=5, drawn_digits=0, photo_digits=0,
                    non_digits=0, calibration_drawn=0)


def like_zero_gpu(task):
    """`task` (a generator function) run the way ZeroGPU runs a @spaces.GPU generator."""
    fork = multiprocessing.get_context("fork")

    def handler(*args):
        receive, send = fork.Pipe(duplex=False)
        blob = pickle.dumps(args)  # arguments are pickled on the way in

        def worker():
            try:
                for value in task(*pickle.loads(blob)):
                    send.send_bytes(pickle.dumps(("value", value)))  # and every yielded value on the way out
                send.send_bytes(pickle.dumps(("end", None)))
            except Exception as e:  # noqa: BLE001 - reported to the caller, as ZeroGPU does
                send.send_bytes(pickle.dumps(("error", f"{type(e).__name__}: {e}")))

        process = fork.Process(target=worker, daemon=True)
        process.start()
        send.close()
        try:
            while True:
                kind, value = pickle.loads(receive.recv_bytes())
                if kind == "end":
                    return
                if kind == "error":
                    raise RuntimeError(value)
                handler.yielded.append(value)
                yield value
        finally:  # the caller closed the stream (Stop) or it ended: the worker goes
            process.kill()
            process.join()
            handler.closed = True

    handler.yielded, handler.closed = [], False
    return handler


@needs_mnist
def test_a_run_in_a_forked_worker_ends_like_the_same_run_in_process(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(MNIST_DIR))
    remote = like_zero_gpu(train_plain)
    zero = TrainingJob(ModelRegistry(tmp_path / "zero"), remote=lambda config: remote(config, str(MNIST_DIR)))
    local = TrainingJob(ModelRegistry(tmp_path / "local"), data_dir=MNIST_DIR)
    assert zero.start(SMALL)[0] is Start.STARTED and not zero.running()  # returns when the run has ended
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the worker (see train_plain), so both sum in the same order
    try:
        assert local.start(SMALL)[0] is Start.STARTED and local.wait(120)
    finally:
        torch.set_num_threads(threads)
    assert zero.run.state is State.DONE and local.run.state is State.DONE, (zero.run.message, local.run.message)
    assert zero.run.device == "ZeroGPU"
    # every event crossed as plain values: numbers, strings, lists, and the weights as CPU tensors
    plain = (int, float, str, list, type(None))
    assert all(isinstance(v, plain) for event in remote.yielded for k, v in event.items()
               if k not in ("state_dict", "model_config"))
    assert all(t.device.type == "cpu" for t in remote.yielded[-1]["state_dict"].values())
    assert zero.run.history.rows == local.run.history.rows  # the same curves
    assert zero.run.last.test_acc == local.run.last.test_acc
    images = [sketchpad_value(draw(d)) for d in STROKES]
    ours, theirs = predict(load_model(zero.run.saved), images), predict(load_model(local.run.saved), images)
    assert all(np.allclose(a.probs, b.probs, atol=1e-6) for a, b in zip(ours, theirs))  # the same model
    assert zero.run.saved.parent == tmp_path / "zero"  # saved on this side
    calibrations = [(m.temperature, m.threshold) for m in (load_model(zero.run.saved), load_model(local.run.saved))]
    assert calibrations[0] == calibrations[1] and calibrations[0][0] != 1.0  # the calibration crossed too


@needs_mnist
def test_stop_closes_the_workers_stream(tmp_path):
    remote = like_zero_gpu(train_plain)
    job = TrainingJob(ModelRegistry(tmp_path), remote=lambda config: remote(config, str(MNIST_DIR)))
    job.after_event = lambda event: job.stop() if event.iteration >= 4 else None  # Stop pressed during the run
    assert job.start(SMALL)[0] is Start.STARTED
    assert remote.closed  # closed when start() returned, not whenever the garbage collector gets to it
    assert job.run.state is State.STOPPED and 4 <= job.run.last.iteration < 16
    assert list(tmp_path.glob("*.safetensors")) == []


def test_a_refusal_from_zero_gpu_becomes_a_failed_run_with_its_reason(tmp_path, app_module, monkeypatch):
    class Refused(app_module.gr.Error):
        pass

    def refusing_gpu(duration):
        def wrap(task):
            def handler(*args):
                raise Refused("You have exceeded your GPU quota (120s requested vs. 35s left). Try again in 3:00:00")
                yield  # a generator, as the real wrapper is
            return handler
        return wrap

    monkeypatch.setattr(app_module, "GPU_TRAIN", refusing_gpu(60)(app_module.train_in_gpu_worker))
    job = TrainingJob(ModelRegistry(tmp_path), remote=app_module.train_on_zero_gpu)
    assert job.start(SMALL)[0] is Start.STARTED
    assert job.run.state is State.FAILED and not job.running()
    assert "ZeroGPU: You have exceeded your GPU quota" in job.run.message
    monkeypatch.setattr(app_module, "JOB", job)
    assert "exceeded your GPU quota" in app_module.training_status()  # the page says so and stays usable


def test_the_gpu_time_asked_for_grows_with_the_work():
    one = gpu_seconds({"epochs": 1, "batch_size": 128})
    assert 30 < one < gpu_seconds({"epochs": 5, "batch_size": 128}) < gpu_seconds({"epochs": 5, "batch_size": 32})
    assert gpu_seconds({"epochs": 100, "batch_size": 8}) <= 600


def test_on_zero_gpu_the_training_function_is_decorated_at_import(tmp_path):
    script = ("import app, spaces.zero.decorator as d\n"
              "print(app.ZERO_GPU, app.JOB.remote is app.train_on_zero_gpu, app.GPU_TRAIN in d.decorated_cache.values(),"
              " app.predict_image('examples/mnist_test_0000_label_7.png')['label'] == '7')")
    env = {**os.environ, "CHECKPOINT_DIR": str(tmp_path), "GRADIO_ANALYTICS_ENABLED": "False",
           "SPACES_ZERO_GPU": "true", "SPACES_ZERO_DEVICE_API_URL": "http://127.0.0.1:9/"}  # never called here
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-4:] == ["True"] * 4  # and prediction still runs, on the CPU, spending no quota


@pytest.mark.parametrize("spaces_installed", [True, False])
def test_the_app_starts_with_and_without_the_spaces_package(spaces_installed, tmp_path):
    block = "" if spaces_installed else "import sys; sys.modules['spaces'] = None  # as if not installed\n"
    script = block + ("import app\n"
                      "print(app.spaces is not None, app.ZERO_GPU, app.predict_image('examples/mnist_test_0000_label_7.png')['label'] == '7')")
    env = {**os.environ, "CHECKPOINT_DIR": str(tmp_path), "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == [str(spaces_installed), "False", "True"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_cuda_saves_a_model_that_reads_on_the_cpu(mnist, tmp_path):
    from mnist_core.checkpoint import load_checkpoint, save_checkpoint
    from mnist_core.config import device_name, pick_precision
    from mnist_core.engine import train

    device = torch.device("cuda")
    events = list(train(TrainConfig(epochs=1), mnist[0], mnist[1], device=device))
    last = events[-1]
    assert last.kind == "done" and last.test_acc > 0.98 and last.precision == pick_precision(device)
    path = save_checkpoint(tmp_path / "cuda.safetensors", last.model, TrainConfig(epochs=1), last.metrics(),
                           device_name(device))
    model = load_checkpoint(path).model  # on the CPU
    assert next(model.parameters()).device.type == "cpu"
    readings = predict(model, [sketchpad_value(draw(d)) for d in STROKES])
    assert sum(r.digit == d for d, r in zip(STROKES, readings)) >= len(STROKES) - 1


@needs_mnist  # the photographed digits come from MNIST's training files
def test_the_training_images_are_made_before_the_gpu_is_asked_for(tmp_path, monkeypatch):
    """On ZeroGPU the visitor's GPU time is short: the generated images are made in the server first, so the
    worker's engine only reads them from the cache."""
    from mnist_core import generated

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(generated, "DEFAULT_CACHE", tmp_path / "cache" / "mnist_core")
    config = TrainConfig(**{**SMALL.__dict__, "drawn_digits": 20, "non_digits": 20, "photo_digits": 14})
    seen = []

    def remote(plain_config):
        seen.append(sorted(p.name.split("-")[0] for p in (tmp_path / "cache" / "mnist_core").glob("*.npz")))
        raise RuntimeError("no GPU today")

    job = TrainingJob(ModelRegistry(tmp_path / "models"), remote=remote)
    job.start(config)
    assert seen == [["drawn", "non", "photo"]] and job.run.state is State.FAILED
