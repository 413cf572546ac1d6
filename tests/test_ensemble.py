"""Ensembles: networks trained apart, joined into one checkpoint that reads with the mean of their logits."""
import json

import pytest
import torch
from safetensors.torch import save_file

from conftest import MNIST_DIR, needs_mnist
from mnist_core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.data import load_mnist, normalize
from mnist_core.ensemble import join, main
from mnist_core.evaluation import evaluate
from mnist_core.inside import activations, attribution, run_layers
from mnist_core.model import DigitCNN, Ensemble, ModelConfig, affine

CONFIG = ModelConfig(channels=(8, 16), hidden=16)


def network(seed: int, config: ModelConfig = CONFIG) -> DigitCNN:
    torch.manual_seed(seed)
    model = DigitCNN(config)
    model.train()
    model(torch.randn(32, 1, 28, 28))  # batch-norm statistics off their defaults, other per seed
    return model.eval()


def saved(tmp_path, seed: int, config: ModelConfig = CONFIG, **train):
    return save_checkpoint(tmp_path / f"n{seed}.safetensors", network(seed, config),
                           TrainConfig(seed=seed, **train), {"test_acc": 0.5}, "CPU")


def test_an_ensemble_reads_with_the_mean_of_its_networks_logits_and_round_trips(tmp_path):
    a, b = (load_checkpoint(saved(tmp_path, s)) for s in (0, 1))
    model = join([a, b])
    x = torch.randn(6, 1, 28, 28)
    assert torch.allclose(model(x), (a.model(x) + b.model(x)) / 2, atol=1e-5)
    assert not torch.allclose(a.model(x), b.model(x), atol=1e-3)  # the networks differ: the mean is not either one
    model.temperature, model.threshold = 0.7, 0.4
    path = save_checkpoint(tmp_path / "both.safetensors", model, a.train_config, {"test_acc": 0.6}, "CPU + CPU")
    loaded = load_checkpoint(path)
    assert isinstance(loaded.model, Ensemble) and len(loaded.model.members) == 2
    assert torch.equal(loaded.model(x), model.to(memory_format=torch.channels_last)(x))
    assert (loaded.model.temperature, loaded.model.threshold) == (0.7, 0.4) and loaded.device == "CPU + CPU"


def test_networks_that_cannot_be_joined_are_refused_with_the_reason(tmp_path):
    a = load_checkpoint(saved(tmp_path, 0))
    with pytest.raises(ValueError, match="at least two"):
        join([a])
    other = load_checkpoint(saved(tmp_path, 1, ModelConfig(channels=(8, 32), hidden=16)))
    with pytest.raises(ValueError, match="differ in shape"):
        join([a, other])
    with pytest.raises(ValueError, match="same validation split"):
        join([a, load_checkpoint(saved(tmp_path, 2, validation=1000))])
    both = join([a, load_checkpoint(saved(tmp_path, 3))])
    path = save_checkpoint(tmp_path / "both.safetensors", both, a.train_config, {}, "CPU")
    with pytest.raises(ValueError, match="already an ensemble"):
        join([a, load_checkpoint(path)])


def test_a_checkpoint_with_a_bad_member_count_is_refused(tmp_path):
    path = saved(tmp_path, 0)
    weights = {k: v.contiguous() for k, v in load_checkpoint(path).model.state_dict().items()}
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["mnist_core"])
    for members, why in ((0, "members must be a whole number, at least 1"), (2, "Missing key")):
        save_file(weights, tmp_path / "bad.safetensors", metadata={"mnist_core": json.dumps({**meta, "members": members})})
        with pytest.raises(CheckpointError, match=f"(?s)bad.safetensors: incompatible checkpoint.*{why}"):
            load_checkpoint(tmp_path / "bad.safetensors")
    del meta["members"]
    meta["format_version"] = 5  # before ensembles: one network
    save_file(weights, tmp_path / "v5.safetensors", metadata={"mnist_core": json.dumps(meta)})
    assert isinstance(load_checkpoint(tmp_path / "v5.safetensors").model, DigitCNN)


def test_inside_an_ensemble_the_layers_are_its_first_networks_and_the_outputs_all_of_theirs(tmp_path):
    model = join([load_checkpoint(saved(tmp_path, s)) for s in (0, 1)])
    x = torch.randn(1, 1, 28, 28)
    stages, hidden, logits = run_layers(model, x)
    first = run_layers(model.members[0], x)
    assert all(torch.equal(s, t) for s, t in zip(stages, first[0])) and torch.equal(hidden, first[1])
    assert torch.allclose(logits, model(x)) and not torch.allclose(logits, first[2])
    pixels = torch.rand(28, 28).numpy()
    layers = activations(model, pixels)
    maps = attribution(model, pixels, layers.ranking[:2])  # DeepLIFT through both networks
    assert maps.shape == (2, 28, 28)
    black = model(normalize(torch.zeros(1, 1, 28, 28)))[0, layers.ranking[0]]
    assert maps[0].sum() == pytest.approx(float(layers.logits[layers.ranking[0]] - black), abs=1e-3)  # the change


@needs_mnist
def test_the_command_joins_calibrates_and_measures_on_the_validation_split(tmp_path, capsys):
    paths = [saved(tmp_path, s, calibration_drawn=0) for s in (0, 1)]
    out = tmp_path / "joined.safetensors"
    assert main([*map(str, paths), "--data-dir", str(MNIST_DIR), "--out", str(out)]) == 0
    c = load_checkpoint(out)
    assert isinstance(c.model, Ensemble) and c.model.temperature != 1.0 and c.model.threshold is not None
    assert [m["seed"] for m in c.metrics["members"]] == [0, 1] and c.device == "CPU + CPU"
    _, test = load_mnist(MNIST_DIR)
    assert c.metrics["test_acc"] == evaluate(c.model, test)[0]  # the recorded figure is the ensemble's own
    assert "ensemble of 2, views (): validation" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # a missing file: the usage error names it
        main([str(paths[0]), str(tmp_path / "nope.safetensors"), "--out", str(out)])
    assert "nope.safetensors: checkpoint not found" in capsys.readouterr().err


def test_views_are_the_drawing_turned_and_zoomed_read_by_every_network_and_kept_in_the_file(tmp_path):
    a, b = (load_checkpoint(saved(tmp_path, s)) for s in (0, 1))
    model = join([a, b], ("turn +6°", "scale up"))
    pixels = torch.zeros(2, 1, 28, 28)
    pixels[0, :, 6:22, 12:16] = 1.0  # a bar
    pixels[1, :, 10:14, 4:24] = 1.0  # another: a view of one image must not be averaged into the other's reading
    x = normalize(pixels)
    turned, zoomed = normalize(affine(pixels, 6.0)), normalize(affine(pixels, scale=1.08))
    assert not torch.allclose(turned, x, atol=0.1) and torch.allclose(normalize(affine(pixels)), x, atol=1e-5)
    by_hand = sum(net.model(v) for net in (a, b) for v in (x, turned, zoomed)) / 6
    assert torch.allclose(model(x), by_hand, atol=1e-5)
    path = save_checkpoint(tmp_path / "views.safetensors", model, a.train_config, {}, "CPU")
    assert load_checkpoint(path).model.views == ("turn +6°", "scale up")
    for views in (("turn +6°",), ("turn +6°", "scale up")):  # DeepLIFT's maps add up to the change, however many
        one = join([a, b], views)
        drawing = pixels[1, 0].numpy()
        top = int(activations(one, drawing).ranking[0])
        change = one(normalize(pixels[1:]))[0, top] - one(normalize(torch.zeros(1, 1, 28, 28)))[0, top]
        assert attribution(one, drawing, top).sum() == pytest.approx(float(change), abs=1e-3), views
    assert model(normalize(torch.zeros(0, 1, 28, 28))).shape == (0, 10)  # an empty batch, as for one network
    with pytest.raises(ValueError, match="unknown views \\['upside down'\\]"):
        join([a, b], ("upside down",))
    weights = {k: v.contiguous() for k, v in a.model.state_dict().items()}
    from safetensors import safe_open

    with safe_open(str(a.path), framework="pt") as f:
        meta = json.loads(f.metadata()["mnist_core"])
    save_file(weights, tmp_path / "one.safetensors", metadata={"mnist_core": json.dumps({**meta, "views": ["scale up"]})})
    with pytest.raises(CheckpointError, match="read by an ensemble, and this file holds one network"):
        load_checkpoint(tmp_path / "one.safetensors")
