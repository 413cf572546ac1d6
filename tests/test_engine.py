"""The training engine on a small subset of real MNIST: events, falling loss, stop, determinism, bounds."""
import threading

import pytest
import torch

from mnist_core.data import Split
from mnist_core.config import PRECISIONS, TrainConfig, pick_precision
from mnist_core.engine import train
from mnist_core.model import ModelConfig

SMALL = TrainConfig(epochs=2, batch_size=64, train_subset=2048, eval_every=16, log_every=4, seed=1)


def small_test(mnist):
    _, test = mnist
    return Split(test.images[:1000], test.labels[:1000])


def test_events_arrive_and_loss_falls(mnist):
    events = list(train(SMALL, mnist[0], small_test(mnist)))
    assert events[-1].kind == "done" and events[-1].model is not None
    assert all(e.model is None for e in events[:-1])
    steps = [e.iteration for e in events]
    assert steps == sorted(steps) and steps[-1] == 64 == events[-1].total_iterations
    losses = [e.train_loss for e in events]
    assert sum(losses[-3:]) / 3 < 0.5 * sum(losses[:3]) / 3
    evals = [e for e in events if e.test_acc is not None]
    assert len(evals) == 4  # every 16 steps, each with per-class accuracy too
    assert evals[-1].test_acc > 0.85 and all(len(e.per_class) == 10 for e in evals)
    last = events[-1]
    assert last.epoch == 2 and last.images_per_sec > 0 and 0 < last.train_time <= last.elapsed
    assert 0 < last.lr < SMALL.lr
    assert last.precision == pick_precision(torch.device("cpu")) and last.metrics()["precision"] == last.precision


def test_stop_request_ends_the_run_between_steps(mnist):
    stop = threading.Event()
    events = []
    for ev in train(SMALL, mnist[0], small_test(mnist), stop=stop):
        events.append(ev)
        if ev.iteration >= 8:
            stop.set()
    assert events[-1].kind == "stopped" and events[-1].iteration == 8
    assert isinstance(events[-1].model, torch.nn.Module)


@pytest.mark.parametrize("precision", PRECISIONS)  # both, whichever one this CPU would pick by itself
def test_same_seed_same_result_on_cpu(mnist, precision):
    config = TrainConfig(epochs=1, batch_size=64, train_subset=512, eval_every=100, log_every=4, seed=3)
    runs = [list(train(config, mnist[0], small_test(mnist), device="cpu", precision=precision)) for _ in range(2)]
    assert runs[0][-1].precision == precision
    assert [e.train_loss for e in runs[0]] == [e.train_loss for e in runs[1]]
    for a, b in zip(runs[0][-1].model.state_dict().values(), runs[1][-1].model.state_dict().values()):
        assert torch.equal(a, b)
    other = list(train(TrainConfig(**{**config.__dict__, "seed": 4}), mnist[0], small_test(mnist), device="cpu",
                       precision=precision))
    assert [e.train_loss for e in other] != [e.train_loss for e in runs[0]]
    (other_precision,) = set(PRECISIONS) - {precision}  # the precision is really applied: the numbers change
    switched = list(train(config, mnist[0], small_test(mnist), device="cpu", precision=other_precision))
    assert [e.train_loss for e in switched] != [e.train_loss for e in runs[0]]


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(epochs=10**6), dict(batch_size=0), dict(lr=0),
                                 dict(lr=float("nan")), dict(lr="fast"), dict(epochs=1.5), dict(augment="yes")])
def test_settings_out_of_bounds_are_refused(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TrainConfig(**bad)


def test_unknown_precision_is_refused(mnist):
    with pytest.raises(ValueError, match="precision must be one of bf16, float32, got 'fp8'"):
        next(train(SMALL, mnist[0], small_test(mnist), precision="fp8"))


@pytest.mark.parametrize("bad, message", [
    (dict(channels=()), "channels must be one or more"), (dict(channels=(8, 0)), "channels must be one or more"),
    (dict(channels=(8,) * 5), "5 stages halve a 28-pixel image to nothing"), (dict(convs_per_stage=0), "convs_per_stage"),
    (dict(hidden=0), "hidden"), (dict(dropout=1.0), "dropout")])
def test_model_settings_that_would_build_a_broken_network_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**bad)
