"""Calibration: temperature scaling, the expected calibration error, the "not a digit" threshold and AUROC,
each against a plain oracle, and the calibration's round trip through a checkpoint and predict."""
import numpy as np
import pytest
import torch

from mnist_core.calibration import auroc, calibrated, expected_calibration_error, fit_temperature, refusal_threshold
from mnist_core.checkpoint import load_checkpoint, save_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.model import DigitCNN, ModelConfig
from mnist_core.reader import predict
from drawing import draw, sketchpad_value


def overconfident(n=20_000, seed=0):
    """Logits three times too sharp: labels drawn from softmax(z), logits 3 z."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 10, generator=g) * 2.5
    labels = torch.multinomial(torch.softmax(z, 1), 1, generator=g).squeeze(1)
    return 3 * z, labels


def test_weights_count_as_copies_of_a_sample():
    logits, labels = overconfident(2000)
    sharper, sharper_labels = overconfident(1000, seed=1)
    sharper = 2 * sharper  # six times too sharp
    weights = torch.cat([torch.full((2000,), 2.0), torch.ones(1000)])
    weighted = fit_temperature(torch.cat([logits, sharper]), torch.cat([labels, sharper_labels]), weights)
    copied = fit_temperature(torch.cat([logits, logits, sharper]), torch.cat([labels, labels, sharper_labels]))
    assert weighted == pytest.approx(copied, rel=1e-3) and weighted != pytest.approx(3.0, rel=0.05)


def test_temperature_lowers_the_error_and_never_changes_the_argmax():
    logits, labels = overconfident()
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(3.0, rel=0.1)  # the sharpening is found and undone
    before = expected_calibration_error(torch.softmax(logits, 1).numpy(), labels.numpy())
    model = torch.nn.Identity()
    model.temperature = t
    after_probs = calibrated(logits, model)
    after = expected_calibration_error(after_probs.numpy(), labels.numpy())
    assert after < 0.3 * before
    assert torch.equal(after_probs.argmax(1), logits.argmax(1))
    nll = [torch.nn.functional.cross_entropy(logits / s, labels).item() for s in (t * 0.8, t, t * 1.25)]
    assert nll[1] < nll[0] and nll[1] < nll[2]  # a minimum of the likelihood, not just any value


def test_ece_against_a_plain_loop():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(10) * 0.3, size=997)
    labels = rng.integers(0, 10, 997)
    expected = 0.0
    for b in range(15):
        lo, hi = b / 15, (b + 1) / 15
        inside = [(p.max() > lo or b == 0) and p.max() <= hi for p in probs]
        idx = np.flatnonzero(inside)
        if len(idx):
            acc = np.mean([probs[i].argmax() == labels[i] for i in idx])
            conf = np.mean([probs[i].max() for i in idx])
            expected += len(idx) / len(probs) * abs(acc - conf)
    assert expected_calibration_error(probs, labels) == pytest.approx(expected, abs=1e-9)


def test_auroc_against_all_pairs():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 20, 50).astype(float), rng.integers(0, 20, 40).astype(float)  # with ties
    pairs = np.mean([(x > y) + 0.5 * (x == y) for x in a for y in b])
    assert auroc(a, b) == pytest.approx(pairs)


def test_threshold_refuses_the_asked_share_of_held_out_digits():
    tops = np.random.default_rng(3).uniform(0.2, 1.0, 10_000)
    t = refusal_threshold(tops, 0.01)
    assert np.mean(tops < t) == pytest.approx(0.01, abs=0.001)


def test_calibration_round_trips_and_refuses_what_is_under_the_threshold(tmp_path):
    model = DigitCNN(ModelConfig(channels=(8, 16), hidden=16)).eval()
    sketch = sketchpad_value(draw(7))
    plain = predict(model, sketch)
    model.temperature, model.threshold = 3.0, None
    path = save_checkpoint(tmp_path / "m.safetensors", model, TrainConfig(), {}, "CPU")
    loaded = load_checkpoint(path).model
    assert loaded.temperature == 3.0 and loaded.threshold is None
    warmer = predict(loaded, sketch)
    assert warmer.digit == plain.digit and warmer.probs.max() < plain.probs.max()  # softer, same answer
    loaded.threshold = float(warmer.probs.max()) + 1e-3  # just above this reading: refused
    refused = predict(loaded, sketch)
    assert refused.digit is None and refused.refused and refused.message.startswith("not a digit")
    assert np.allclose(refused.probs, warmer.probs)  # the bars can still be shown


def test_a_checkpoint_without_calibration_loads_with_temperature_one(tmp_path):
    """Format 2 checkpoints (the one shipped before calibration among them) have no calibration: plain softmax."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    model = DigitCNN(ModelConfig(channels=(8, 16), hidden=16))
    path = save_checkpoint(tmp_path / "m.safetensors", model, TrainConfig(), {}, "CPU")
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["mnist_core"])
    del meta["calibration"]
    save_file(load_file(str(path)), str(path), metadata={"mnist_core": json.dumps(meta)})
    loaded = load_checkpoint(path).model
    assert loaded.temperature == 1.0 and loaded.threshold is None
