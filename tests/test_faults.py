"""Faults: broken checkpoints, a writer killed mid-save, a run that raises, Stop at awkward moments."""
import hashlib
import os
import json
import subprocess
import sys
import textwrap
import threading

import pytest
import torch
from safetensors.torch import save_file

import mnist_core.engine as engine
import mnist_core.job as job_module
import mnist_core.registry as registry
from conftest import MNIST_DIR, needs_mnist, wait_for
from mnist_core.checkpoint import SHIPPED, CheckpointError, load_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.job import Start, State, TrainingJob
from mnist_core.registry import ModelRegistry

TINY = TrainConfig(epochs=1, batch_size=64, train_subset=1024, eval_every=8, log_every=2, drawn_digits=0, photo_digits=0, non_digits=0)
SHIPPED_SHA = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()


def job_on(folder, **kwargs):
    return TrainingJob(ModelRegistry(folder), data_dir=MNIST_DIR, **kwargs)


def run_to_end(job, config=TINY):
    started, message = job.start(config)
    assert started is Start.STARTED, message
    assert job.wait(120)
    return job.run


@pytest.fixture
def broken_shipped(tmp_path, monkeypatch):
    """Point the workspace's 'shipped model' at a file the test breaks."""
    fake = tmp_path / "shipped" / "mnist_cnn.safetensors"
    fake.parent.mkdir()
    monkeypatch.setattr(registry, "SHIPPED", fake)
    return fake


@needs_mnist
@pytest.mark.parametrize("damage", ["missing", "truncated", "incompatible"])
def test_app_starts_without_a_usable_checkpoint_and_training_makes_one(tmp_path, broken_shipped, damage):
    if damage == "truncated":
        broken_shipped.write_bytes(SHIPPED.read_bytes()[:5000])
    elif damage == "incompatible":  # a file from a future format
        raw = json.dumps({"format_version": 99, "model_config": {}, "train_config": {}, "metrics": {}})
        save_file({"w": torch.zeros(1)}, broken_shipped, metadata={"mnist_core": raw})
    job = job_on(tmp_path / "runs")
    models = job.registry
    assert models.active is None and "mnist_cnn.safetensors" in models.problem
    assert {"missing": "not found", "truncated": "corrupt or truncated", "incompatible": "format version 99"}[damage] in models.problem
    with pytest.raises(CheckpointError, match="no model is loaded"):
        models.predict(None)
    run = run_to_end(job)
    assert run.state is State.DONE, run.message
    assert models.active is not None and models.active.path.parent == tmp_path / "runs"
    assert models.predict({"background": None, "layers": [], "composite": None}).probs is None  # it answers


def test_writer_killed_mid_save_leaves_the_previous_checkpoint(tmp_path):
    target = tmp_path / "model.safetensors"
    target.write_bytes(SHIPPED.read_bytes())
    script = textwrap.dedent(f"""
        import os, sys, time
        import mnist_core.checkpoint as c
        def stall(src, dst):  # the temporary file is written; die before the rename
            print("written", flush=True); time.sleep(60)
        c.os.replace = stall
        ck = c.load_checkpoint()
        c.save_checkpoint({str(target)!r}, ck.model, ck.train_config, {{"test_acc": 0.1}}, "CPU")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    proc.kill()
    proc.wait()
    assert load_checkpoint(target).metrics["test_acc"] == load_checkpoint(SHIPPED).metrics["test_acc"]
    assert [p.name for p in tmp_path.glob("*.safetensors")] == ["model.safetensors"]
    leftovers = list(tmp_path.glob(".*.tmp"))
    assert len(leftovers) == 1  # the killed writer's temporary file...
    models = ModelRegistry(tmp_path)  # ...is swept when a server next starts on the folder
    assert models.swept == leftovers and list(tmp_path.glob(".*.tmp")) == []
    assert [p.name for p in models.checkpoints()[1:]] == ["model.safetensors"]


@needs_mnist
def test_run_that_raises_reports_keeps_the_model_and_lets_the_next_run_start(tmp_path, monkeypatch):
    job = job_on(tmp_path)
    active = job.registry.active.path
    real_train = job_module.train

    def failing_train(*args, **kwargs):  # the real engine, with a step that fails part-way
        for i, event in enumerate(real_train(*args, **kwargs)):
            if i == 3:
                raise RuntimeError("simulated failure in a training step")
            yield event

    monkeypatch.setattr(job_module, "train", failing_train)
    run = run_to_end(job)
    assert run.state is State.FAILED and "simulated failure" in run.message
    assert job.registry.active.path == active and not job.running()
    monkeypatch.setattr(job_module, "train", real_train)
    assert run_to_end(job).state is State.DONE


@needs_mnist
def test_stop_during_evaluation_ends_cleanly(tmp_path, monkeypatch):
    job = job_on(tmp_path)
    active = job.registry.active.path
    real_evaluate = engine.evaluate
    in_eval = threading.Event()

    def slow_evaluate(*args):
        in_eval.set()
        job.stop()  # Stop pressed while the test set is being evaluated
        return real_evaluate(*args)

    monkeypatch.setattr(engine, "evaluate", slow_evaluate)
    run = run_to_end(job, TrainConfig(epochs=1, batch_size=64, train_subset=2048, eval_every=4, log_every=2, drawn_digits=0, photo_digits=0,
                                          non_digits=0))
    assert in_eval.is_set() and run.state is State.STOPPED and job.registry.active.path == active
    assert list(tmp_path.glob("*.safetensors")) == []


@needs_mnist
def test_stop_while_saving_leaves_a_complete_active_checkpoint(tmp_path, monkeypatch):
    job = job_on(tmp_path)
    real_save = job_module.save_checkpoint

    def save_with_stop(*args, **kwargs):
        assert job.stop() == "too late to stop: the run is finished and being saved"
        return real_save(*args, **kwargs)

    monkeypatch.setattr(job_module, "save_checkpoint", save_with_stop)
    run = run_to_end(job)
    saved = list(tmp_path.glob("*.safetensors"))
    assert run.state is State.DONE and len(saved) == 1 and run.saved == saved[0]
    assert load_checkpoint(saved[0]).metrics["test_acc"] > 0.5
    assert job.start(TINY)[0] is Start.STARTED  # and a new run can start
    job.stop()
    job.wait(60)


@needs_mnist
def test_training_never_overwrites_the_shipped_model():
    job = job_on(None)  # the default folder: the one the shipped model lives in
    models = job.registry
    run = None
    try:
        run = run_to_end(job)
        assert run.state is State.DONE and run.saved != SHIPPED and run.saved.parent == SHIPPED.parent
        assert models.active.path == SHIPPED  # a one-epoch run scores lower on held-out digits: the default stays
    finally:
        if run is not None and run.saved is not None and run.saved != SHIPPED:
            run.saved.unlink()
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == SHIPPED_SHA


def test_only_this_servers_checkpoints_can_be_selected(tmp_path):
    models = ModelRegistry(tmp_path)
    for name in ("../../etc/passwd", "/etc/passwd", str(SHIPPED.parent / ".." / "README.md")):
        with pytest.raises(CheckpointError, match="not one of this server's checkpoints"):
            models.select(name)
    assert models.active.path == SHIPPED


def test_training_can_be_switched_off(tmp_path, app_module, monkeypatch):
    job = TrainingJob(ModelRegistry(tmp_path), allow_training=False)
    assert job.start(TINY) == (Start.SWITCHED_OFF, "training is switched off on this server")
    monkeypatch.setattr(app_module, "JOB", job)
    assert "switched off" in app_module.training_status()
    status = app_module.start_training(1, 128, 0.003, True, 0)
    assert "switched off" in status and not job.running()


def test_a_checkpoint_folder_that_cannot_be_written_is_refused_before_the_run(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        job = TrainingJob(ModelRegistry(folder), data=((), ()))  # no data needed: it must not get that far
        if os.access(folder, os.W_OK):  # root ignores permission bits: use a path under a file instead
            job = TrainingJob(ModelRegistry(tmp_path / "a-file" / "sub"), data=((), ()))
            (tmp_path / "a-file").write_text("not a folder")
        code, message = job.start(TINY)
        assert code is Start.CANNOT_SAVE and "cannot be saved" in message and "CHECKPOINT_DIR" in message
        assert job.run is None and not job.running()
    finally:
        folder.chmod(0o755)
