"""Faults: broken checkpoints, a writer killed mid-save, a run that raises, Stop at awkward moments."""
import hashlib
import json
import subprocess
import sys
import textwrap
import threading

import pytest
import torch
from safetensors.torch import save_file

import mnist_core.engine as engine
import mnist_core.workspace as workspace
from conftest import MNIST_DIR, needs_mnist, wait_for
from mnist_core.checkpoint import SHIPPED, CheckpointError, load_checkpoint
from mnist_core.engine import TrainConfig
from mnist_core.workspace import Workspace

TINY = TrainConfig(epochs=1, batch_size=64, train_subset=1024, eval_every=8, log_every=2)
SHIPPED_SHA = hashlib.sha256(SHIPPED.read_bytes()).hexdigest()


def run_to_end(ws, config=TINY):
    started, message = ws.start(config)
    assert started, message
    ws.wait(120)
    return ws.run


@pytest.fixture
def broken_shipped(tmp_path, monkeypatch):
    """Point the workspace's 'shipped model' at a file the test breaks."""
    fake = tmp_path / "shipped" / "mnist_cnn.safetensors"
    fake.parent.mkdir()
    monkeypatch.setattr(workspace, "SHIPPED", fake)
    return fake


@needs_mnist
@pytest.mark.parametrize("damage", ["missing", "truncated", "incompatible"])
def test_app_starts_without_a_usable_checkpoint_and_training_makes_one(tmp_path, broken_shipped, damage):
    if damage == "truncated":
        broken_shipped.write_bytes(SHIPPED.read_bytes()[:5000])
    elif damage == "incompatible":  # a file from a future format
        raw = json.dumps({"format_version": 99, "model_config": {}, "train_config": {}, "metrics": {}})
        save_file({"w": torch.zeros(1)}, broken_shipped, metadata={"mnist_core": raw})
    ws = Workspace(checkpoint_dir=tmp_path / "runs", data_dir=MNIST_DIR)
    assert ws.active is None and "mnist_cnn.safetensors" in ws.problem
    assert {"missing": "not found", "truncated": "corrupt or truncated", "incompatible": "format version 99"}[damage] in ws.problem
    with pytest.raises(CheckpointError, match="no model is loaded"):
        ws.predict(None)
    run = run_to_end(ws)
    assert run.state == "done", run.message
    assert ws.active is not None and ws.active.path.parent == tmp_path / "runs"
    assert ws.predict({"background": None, "layers": [], "composite": None}).probs is None  # it answers


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
    assert [p.name for p in tmp_path.glob("*.safetensors")] == ["model.safetensors"]  # the leftover is a .tmp


@needs_mnist
def test_run_that_raises_reports_keeps_the_model_and_lets_the_next_run_start(tmp_path, monkeypatch):
    ws = Workspace(checkpoint_dir=tmp_path, data_dir=MNIST_DIR)
    active = ws.active.path
    real_train = workspace.train

    def failing_train(*args, **kwargs):  # the real engine, with a step that fails part-way
        for i, event in enumerate(real_train(*args, **kwargs)):
            if i == 3:
                raise RuntimeError("simulated failure in a training step")
            yield event

    monkeypatch.setattr(workspace, "train", failing_train)
    run = run_to_end(ws)
    assert run.state == "failed" and "simulated failure" in run.message
    assert ws.active.path == active and not ws.running()
    monkeypatch.setattr(workspace, "train", real_train)
    assert run_to_end(ws).state == "done"


@needs_mnist
def test_stop_during_evaluation_ends_cleanly(tmp_path, monkeypatch):
    ws = Workspace(checkpoint_dir=tmp_path, data_dir=MNIST_DIR)
    active = ws.active.path
    real_evaluate = engine.evaluate
    in_eval = threading.Event()

    def slow_evaluate(*args):
        in_eval.set()
        ws.stop()  # Stop pressed while the test set is being evaluated
        return real_evaluate(*args)

    monkeypatch.setattr(engine, "evaluate", slow_evaluate)
    run = run_to_end(ws, TrainConfig(epochs=1, batch_size=64, train_subset=2048, eval_every=4, log_every=2))
    assert in_eval.is_set() and run.state == "stopped" and ws.active.path == active
    assert list(tmp_path.glob("*.safetensors")) == []


@needs_mnist
def test_stop_while_saving_leaves_a_complete_active_checkpoint(tmp_path, monkeypatch):
    ws = Workspace(checkpoint_dir=tmp_path, data_dir=MNIST_DIR)
    real_save = workspace.save_checkpoint

    def save_with_stop(*args, **kwargs):
        ws.stop()  # too late to stop: the run is complete, so it is saved and used
        return real_save(*args, **kwargs)

    monkeypatch.setattr(workspace, "save_checkpoint", save_with_stop)
    run = run_to_end(ws)
    saved = list(tmp_path.glob("*.safetensors"))
    assert run.state == "done" and len(saved) == 1 and ws.active.path == saved[0]
    assert load_checkpoint(saved[0]).metrics["test_acc"] > 0.5
    assert ws.start(TINY)[0]  # and a new run can start
    ws.stop()
    ws.wait(60)


@needs_mnist
def test_training_never_overwrites_the_shipped_model():
    ws = Workspace(data_dir=MNIST_DIR)  # the default folder: the one the shipped model lives in
    try:
        run = run_to_end(ws)
        assert run.state == "done" and ws.active.path != SHIPPED and ws.active.path.parent == SHIPPED.parent
    finally:
        if ws.active is not None and ws.active.path != SHIPPED:
            ws.active.path.unlink()
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == SHIPPED_SHA


def test_only_this_servers_checkpoints_can_be_selected(tmp_path):
    ws = Workspace(checkpoint_dir=tmp_path)
    for name in ("../../etc/passwd", "/etc/passwd", str(SHIPPED.parent / ".." / "README.md")):
        with pytest.raises(CheckpointError, match="not one of this server's checkpoints"):
            ws.select(name)
    assert ws.active.path == SHIPPED


def test_training_can_be_switched_off(tmp_path, app_module, monkeypatch):
    ws = Workspace(checkpoint_dir=tmp_path, allow_training=False)
    assert ws.start(TINY) == (False, "training is switched off on this server")
    monkeypatch.setattr(app_module, "WORKSPACE", ws)
    assert "switched off" in app_module.training_status()
    status = app_module.start_training(1, 128, 0.003, True, 0)
    assert "switched off" in status and not ws.running()
