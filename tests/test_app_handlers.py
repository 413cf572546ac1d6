"""The app's handlers called directly, with the shipped model."""
import numpy as np
from PIL import Image, ImageDraw

from drawing import draw, sketchpad_value


def test_drawn_digit_gets_ten_bars_and_the_28x28_view(app_module):
    label, seen, hint = app_module.read_sketch(sketchpad_value(draw(7)))
    assert set(label) == {str(d) for d in range(10)} and abs(sum(label.values()) - 1) < 1e-4
    assert max(label, key=label.get) == "7"
    assert seen.size == (224, 224) and "7" in hint


def test_blank_canvas_shows_the_hint(app_module):
    for value in ({"background": None, "layers": [], "composite": None}, None,
                  sketchpad_value(draw(7, width=0, specks=[]).point(lambda v: 255))):  # drawn, then all erased
        label, seen, hint = app_module.read_sketch(value)
        assert label == {} and seen is None and hint == app_module.DRAW_HINT
    label, seen, hint = app_module.read_sketch(sketchpad_value(draw(7, box=(140, 140, 140, 140), width=20)))
    assert label == {} and seen is None and hint == "Nothing to read: only a dot. Draw the whole digit."


def test_a_shape_that_is_no_digit_is_read_as_a_guess(app_module):
    triangle = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(triangle).polygon([(140, 50), (230, 220), (50, 220)], outline=0, width=16)
    label, _, hint = app_module.read_sketch(sketchpad_value(triangle))
    top = max(label.values())
    assert top < app_module.UNSURE and f"but only {100 * top:.0f}% sure: is it a digit?" in hint
    _, _, hint = app_module.read_sketch(sketchpad_value(draw(7)))
    assert "sure" not in hint  # a clear digit reads without the doubt


def test_several_digits_side_by_side_read_the_largest(app_module):
    one = np.asarray(draw(1, size=(560, 280), box=(40, 80, 110, 200), width=12))
    seven = np.asarray(draw(7, size=(560, 280), box=(280, 30, 500, 250), width=20))
    label, _, hint = app_module.read_sketch({"background": None, "layers": [], "composite": np.minimum(one, seven)})
    assert max(label, key=label.get) == "7" and "several" in hint


def test_a_list_of_uploads(app_module, tmp_path):
    paths = []
    for digit in (0, 4, 7):
        paths.append(tmp_path / f"{digit}.png")
        draw(digit).save(paths[-1])
    (tmp_path / "blank.png").write_bytes(b"")
    Image.new("L", (100, 100), 255).save(tmp_path / "white.png")
    picture, first, summary = app_module.read_uploads([str(p) for p in paths] + [str(tmp_path / "blank.png"),
                                                                                 str(tmp_path / "white.png")])
    captions = summary.splitlines()
    assert len(captions) == 5
    assert captions[0].startswith("- 0.png: 0") and captions[1].startswith("- 4.png: 4")
    assert captions[2].startswith("- 7.png: 7")
    assert captions[3] == "- ⚠️ blank.png: empty file (0 bytes)"
    assert "white.png: nothing to read" in captions[4]
    assert max(first, key=first.get) == "0"
    assert picture.width > 900 and picture.height > 3 * 224  # five cards, two to a row, captions underneath


def test_models_are_chosen_by_name_from_the_servers_list_only(app_module):
    models = app_module.MODELS
    assert models.checkpoint_dir != models.checkpoints()[0].parent  # trained models go elsewhere than the shipped one
    assert "mnist_cnn.safetensors" in app_module.choose_model("mnist_cnn.safetensors")
    assert models.active.path.name == "mnist_cnn.safetensors"
    for name in ("../../etc/passwd", "/etc/hostname", ""):
        app_module.choose_model(name)
        assert models.active.path.name == "mnist_cnn.safetensors"


def test_every_open_page_gets_changes_and_only_changes(app_module):
    first = app_module.poll(None)  # a page that has seen nothing yet gets everything
    key = first[-1]
    assert first[2] and first[4].startswith("**Active model:**")
    again = app_module.poll(key)  # nothing changed: plots, model list and card are skipped
    skip = type(app_module.gr.skip())
    assert again[-1] == key and all(isinstance(x, skip) for x in (again[0], again[3], again[4]))
    app_module.MODELS.select(app_module.MODELS.active.path)  # another page (re)selects the model
    changed = app_module.poll(key)
    assert changed[-1] != key and changed[4].startswith("**Active model:**")
    assert again[5].value == app_module.IDLE_POLL  # no run going: the page polls slowly


def test_the_model_card_names_the_training_precision_when_the_checkpoint_records_it(app_module):
    from mnist_core.checkpoint import save_checkpoint
    from mnist_core.config import TrainConfig
    from mnist_core.model import DigitCNN, ModelConfig

    models = app_module.MODELS
    shipped = models.active.path
    assert "on CPU, bf16 ·" in app_module.active_model_card()  # as the shipped metrics say
    older = save_checkpoint(models.checkpoint_dir / "no-precision.safetensors", DigitCNN(ModelConfig()), TrainConfig(),
                            {"test_acc": 0.5}, "CPU")
    try:
        models.select(older)
        card = app_module.active_model_card()
        assert "no-precision.safetensors" in card and "on CPU ·" in card and "bf16" not in card
    finally:
        models.select(shipped)
        older.unlink()
