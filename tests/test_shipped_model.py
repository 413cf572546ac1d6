"""The model that ships in checkpoints/: it loads, scores on the real test set, and reads drawn digits."""
import pytest

from drawing import STROKES, draw, sketchpad_value
from mnist_core.checkpoint import SHIPPED, load_checkpoint
from mnist_core.evaluation import evaluate
from mnist_core.reader import load_model, predict


def test_shipped_checkpoint_is_small_and_describes_itself():
    assert SHIPPED.stat().st_size <= 5 * 1024 * 1024
    c = load_checkpoint()
    assert c.path == SHIPPED and c.metrics["test_acc"] >= 0.995 and len(c.metrics["per_class"]) == 10
    assert c.train_config.augment and c.device and c.created
    assert c.train_config.validation == 5000 and c.metrics["val_acc"] >= 0.995  # chosen on the validation split
    before, after = c.metrics["val_ece"]
    assert c.model.temperature != 1.0 and after < before and 0.3 < c.model.threshold < 1  # calibrated


def test_shipped_model_scores_over_99_5_percent_on_the_real_test_set(mnist):
    """Two networks, each reading the drawing and two turns of it: recorded in float32 on the CPU (99.71%), as the
    app runs it; float32 sums differ in their last bits between CPUs, so a digit or two may flip elsewhere.
    Issue 10 asks for 99.7% (see the README for how the model was chosen)."""
    _, test = mnist
    accuracy, per_class = evaluate(load_model(), test)
    assert len(test) == 10_000 and accuracy >= 0.9967
    assert min(per_class) >= 0.99
    assert accuracy == pytest.approx(load_checkpoint().metrics["test_acc"], abs=5e-4)  # the recorded figure is real


@pytest.mark.parametrize("digit", sorted(STROKES))
@pytest.mark.parametrize("width", [4, 18, 36, 60])
def test_reads_drawn_digits_at_any_stroke_width_and_never_misreads_a_fat_one(digit, width):
    """Up to a 36 px brush (13% of the canvas) every digit is read; with a 60 px brush a digit may be refused as
    "not a digit" (a fat 0 is a ring with a pinhole), but never read as another digit."""
    prediction = predict(load_model(), sketchpad_value(draw(digit, width=width)))
    if width <= 36:
        assert prediction.digit == digit, prediction.probs.round(3)
    else:
        assert prediction.digit == digit or prediction.refused, prediction.probs.round(3)


def test_a_batch_mixes_readable_and_blank_images():
    images = [draw(7), draw(0, ink=255, paper=0), {"background": None, "layers": [], "composite": None}]
    results = predict(load_model(), images)
    assert [r.digit for r in results] == [7, 0, None]
    assert results[2].message.startswith("nothing to read") and results[2].pixels is None
    assert results[0].pixels.shape == (28, 28)
