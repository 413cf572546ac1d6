"""Checkpoints: exact round trip, clear errors for broken files, atomic writes, no code run on load."""
import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

import mnist_core.checkpoint as ckpt
from mnist_core.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.model import DigitCNN, ModelConfig

CONFIG = ModelConfig(channels=(8, 16), convs_per_stage=2, hidden=32)


def make_model(seed=0):
    torch.manual_seed(seed)
    model = DigitCNN(CONFIG)
    model.train()
    model(torch.randn(16, 1, 28, 28))  # move the batch-norm running statistics off their defaults
    return model.eval()


def test_round_trip_gives_identical_outputs(tmp_path):
    model = make_model()
    path = save_checkpoint(tmp_path / "m.safetensors", model, TrainConfig(epochs=3), {"test_acc": 0.9}, "CPU")
    loaded = load_checkpoint(path)
    for (name, saved), restored in zip(model.state_dict().items(), loaded.model.state_dict().values()):
        assert torch.equal(saved, restored), name
    x = torch.randn(5, 1, 28, 28)
    model = model.to(memory_format=torch.channels_last)  # as loaded models are, for speed
    assert torch.equal(model(x), loaded.model(x))
    assert loaded.model_config == CONFIG and loaded.train_config == TrainConfig(epochs=3)
    assert loaded.metrics == {"test_acc": 0.9} and loaded.device == "CPU" and loaded.created
    assert not loaded.model.training
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_truncated_checkpoint_gives_one_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "m.safetensors", make_model(), TrainConfig(), {}, "CPU")
    good = tmp_path / "good.safetensors"
    good.write_bytes(path.read_bytes())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="m.safetensors: not a readable checkpoint"):
        load_checkpoint(path)
    assert load_checkpoint(good).model_config == CONFIG  # nothing else broke


def test_missing_and_incompatible_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="nope.safetensors: checkpoint not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    weights = {k: v.contiguous() for k, v in make_model().state_dict().items()}
    meta = {"format_version": 99, "model_config": {}, "train_config": {}, "metrics": {}, "device": "", "created": ""}
    save_file(weights, tmp_path / "future.safetensors", metadata={"mnist_core": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="future.safetensors: incompatible checkpoint \\(ValueError: format version 99"):
        load_checkpoint(tmp_path / "future.safetensors")
    meta["format_version"] = 1
    save_file(weights, tmp_path / "v1.safetensors", metadata={"mnist_core": json.dumps(meta)})
    with pytest.raises(CheckpointError, match=f"format version 1, this code reads {FORMAT_VERSION}; format 1 held the older network"):
        load_checkpoint(tmp_path / "v1.safetensors")
    good = json.loads(json.dumps({"format_version": FORMAT_VERSION, "model_config": CONFIG.__dict__, "train_config": TrainConfig().__dict__,
                                  "metrics": {}, "device": "CPU", "created": ""}))
    del good["model_config"]["dropout"]  # an older file: filling in today's default could build another model
    save_file(weights, tmp_path / "old.safetensors", metadata={"mnist_core": json.dumps(good)})
    with pytest.raises(CheckpointError, match="old.safetensors: incompatible checkpoint .*missing \\['dropout'\\]"):
        load_checkpoint(tmp_path / "old.safetensors")
    save_file(weights, tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match="without mnist_core metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/mnist_core_pwned",))


def test_a_pickle_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Exploit()))
    if os.path.exists("/tmp/mnist_core_pwned"):
        os.remove("/tmp/mnist_core_pwned")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert not os.path.exists("/tmp/mnist_core_pwned")


def test_crash_mid_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "m.safetensors", make_model(0), TrainConfig(), {"test_acc": 0.5}, "CPU")
    before = path.read_bytes()

    def crash(tmp, dst):  # the writer dies after writing the temporary file, before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, make_model(1), TrainConfig(), {"test_acc": 0.6}, "CPU")
    assert path.read_bytes() == before and load_checkpoint(path).metrics == {"test_acc": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_format_2_3_and_4_checkpoints_load_as_trained_on_no_photographed_digits_or_calibrated_on_no_drawn(tmp_path):
    """Format 4 came before TrainConfig.calibration_drawn: its temperature was fitted on the validation split alone.
    Format 3 came before TrainConfig.photo_digits: such a model trained on none, and its file says nothing of it.
    Format 2 came before the validation split, the generated sets and calibration as well."""
    weights = {k: v.contiguous() for k, v in make_model().state_dict().items()}
    train = TrainConfig(photo_digits=500).__dict__.copy()
    del train["photo_digits"]
    meta = {"format_version": 3, "model_config": CONFIG.__dict__, "train_config": train, "metrics": {}, "device": "CPU",
            "created": "", "calibration": {"temperature": 0.5, "threshold": 0.6}}
    save_file(weights, tmp_path / "v3.safetensors", metadata={"mnist_core": json.dumps(meta)})
    loaded = load_checkpoint(tmp_path / "v3.safetensors")
    assert loaded.train_config.photo_digits == 0 and loaded.model.temperature == 0.5
    old = {k: v for k, v in train.items() if k not in ckpt.FORMAT_2_TRAINING}  # format 2: before validation too
    save_file(weights, tmp_path / "v2.safetensors", metadata={"mnist_core": json.dumps(
        {**meta, "format_version": 2, "train_config": old, "calibration": None})})
    v2 = load_checkpoint(tmp_path / "v2.safetensors")
    assert v2.train_config.photo_digits == v2.train_config.validation == 0 and v2.model.temperature == 1.0
    v4 = {**meta, "format_version": 4, "train_config": {k: v for k, v in train.items() if k != "calibration_drawn"} | {"photo_digits": 9}}
    save_file(weights, tmp_path / "v4.safetensors", metadata={"mnist_core": json.dumps(v4)})
    loaded = load_checkpoint(tmp_path / "v4.safetensors")  # format 4: its temperature was fitted on MNIST alone
    assert loaded.train_config.calibration_drawn == 0 and loaded.train_config.photo_digits == 9
    meta["format_version"] = FORMAT_VERSION  # today's format must name the field
    save_file(weights, tmp_path / "v5.safetensors", metadata={"mnist_core": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="missing \\['photo_digits'\\]"):
        load_checkpoint(tmp_path / "v5.safetensors")
