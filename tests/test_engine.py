"""The training engine on a small subset of real MNIST: events, falling loss, stop, determinism, bounds."""
import threading

import pytest
import torch

from mnist_core.data import Split
from mnist_core.config import PRECISIONS, TrainConfig, pick_precision
from mnist_core.engine import train
from mnist_core.model import ModelConfig

# Small runs train and calibrate on MNIST alone: no generated digits or non-digits (test_the_generated... covers them)
NONE = dict(drawn_digits=0, non_digits=0, photo_digits=0, calibration_drawn=0)
SMALL = TrainConfig(epochs=2, batch_size=64, train_subset=2048, eval_every=16, log_every=4, seed=1, **NONE)


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
    evals = [e for e in events if e.val_acc is not None]
    assert len(evals) == 4  # every 16 steps, each with per-class accuracy too
    assert evals[-1].val_acc > 0.85 and all(len(e.per_class) == 10 for e in evals)
    assert [e for e in events if e.test_acc is not None] == [events[-1]]  # the test set only reports, at the end
    last = events[-1]
    assert last.test_acc > 0.85 and last.model.temperature > 0 and 0 < last.model.threshold < 1
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
    config = TrainConfig(epochs=1, batch_size=64, train_subset=512, eval_every=100, log_every=4, seed=3, **NONE)
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


def test_the_validation_split_is_the_last_images_and_is_held_out(mnist):
    """Mislabel the last 1,000 training images: if they were trained on or were not the validation split, the
    validation accuracy would not collapse while the test accuracy stays high."""
    train_set, _ = mnist
    labels = train_set.labels.clone()
    labels[-1000:] = (labels[-1000:] + 1) % 10
    config = TrainConfig(epochs=1, batch_size=64, train_subset=2048, eval_every=1000, log_every=8, validation=1000, **NONE)
    last = list(train(config, Split(train_set.images, labels), small_test(mnist)))[-1]
    assert last.val_acc < 0.1 and last.test_acc > 0.85


def test_outlier_exposure_lowers_confidence_on_non_digits(mnist):
    """Non-digits (here: random blobs) trained towards the uniform distribution get lower top probabilities
    than the same run without them."""
    g = torch.Generator().manual_seed(0)
    blobs = torch.nn.functional.avg_pool2d(torch.randn(600, 1, 28, 28, generator=g), 5, 1, 2) * 4
    config = TrainConfig(epochs=1, batch_size=64, train_subset=2048, eval_every=1000, log_every=8, validation=1000)
    tops = []
    for weight in (0.0, 1.0):
        run = TrainConfig(**{**config.__dict__, "outlier_weight": weight})
        model = list(train(run, mnist[0], small_test(mnist), non_digits=blobs[:500]))[-1].model
        with torch.no_grad():
            tops.append(torch.softmax(model(blobs[500:]), 1).max(1).values.mean().item())
    assert tops[1] < 0.16 and tops[0] > tops[1] + 0.08  # near uniform (0.1), and well below the plain run


def test_the_generated_digits_join_the_training_set_and_the_non_digits_the_outlier_batches(mnist):
    from mnist_core.generated import training_extras

    config = TrainConfig(epochs=1, batch_size=64, train_subset=640, eval_every=1000, log_every=5, drawn_digits=200,
                         printed_digits=200, photo_digits=70, non_digits=200, calibration_drawn=0)
    extra, non_digits = training_extras(config)
    assert 460 <= len(extra) <= 470 and set(extra.labels.tolist()) == set(range(10))  # a few may preprocess blank
    assert 190 <= len(non_digits) <= 200 and extra.images.shape[1:] == non_digits.shape[1:] == (1, 28, 28)
    events = list(train(config, mnist[0], small_test(mnist)))
    assert events[-1].total_iterations == (640 + len(extra)) // 64  # the generated digits are trained on


def test_the_photographed_digits_come_from_the_training_images_that_are_not_held_out(mnist):
    from mnist_core.data import read_split, resolve_data_dir
    from mnist_core.generated import photo_sources

    config = TrainConfig(validation=20_000, photo_digits=3000)
    sources, labels = photo_sources(config)
    images, all_labels = read_split(resolve_data_dir(), "train")
    trained = {image.tobytes(): label for image, label in zip(images[:-20_000], all_labels[:-20_000])}
    assert len(sources) == 3000 and all(trained.get(image.tobytes()) == label for image, label in zip(sources, labels))


def test_the_temperature_is_fitted_on_the_drawn_digits_too(mnist):
    """calibration_drawn: drawn digits (every style, from streams that neither training nor bench/readings.py
    draws) beside the validation split, each weighing half. A network trained on MNIST alone is surer of drawings
    than it should be, so the temperature fitted with them is higher; the threshold still comes from MNIST."""
    from mnist_core import synthetic
    from mnist_core.engine import calibrate
    from mnist_core.generated import as_inputs, calibration_digits

    drawn = calibration_digits(TrainConfig(calibration_drawn=300))
    assert 290 <= len(drawn.labels) <= 300 and set(drawn.labels.tolist()) == set(range(10))
    bench = synthetic.to_inputs(synthetic.drawn_digits(2000, 1)[0])[0]  # bench/readings.py's drawn digits
    assert not {p.numpy().tobytes() for p in as_inputs(bench)} & {p.numpy().tobytes() for p in drawn.images}
    model = next(e for e in train(SMALL, mnist[0], small_test(mnist)) if e.model is not None).model
    held = SMALL.validation
    val_set = Split(mnist[0].images[-held:], mnist[0].labels[-held:])
    calibrate(model, val_set, "float32")
    alone = model.temperature
    calibrate(model, val_set, "float32", drawn)
    assert model.temperature > 1.1 * alone
