"""The app's handlers called directly, with the shipped model."""
import gradio as gr
import numpy as np
import torch
from PIL import Image, ImageDraw

from drawing import draw, sketchpad_value


def read_sketch(app_module, value, choice=None):
    """app.read_sketch with the bars as {digit: probability} ({} when cleared)."""
    label, seen, hint, pixels, _ = app_module.read_sketch(value, choice)
    return {c["label"]: c["confidence"] for c in (label.value or {}).get("confidences", [])}, seen, hint, pixels


def greyed(app_module, value):
    return "refused" in app_module.read_sketch(value)[0].elem_classes


def test_drawn_digit_gets_ten_bars_and_the_28x28_view(app_module):
    label, seen, hint, _ = read_sketch(app_module, sketchpad_value(draw(7)))
    assert set(label) == {str(d) for d in range(10)} and abs(sum(label.values()) - 1) < 1e-4
    assert max(label, key=label.get) == "7"
    assert seen.size == (224, 224) and "7" in hint


def test_blank_canvas_shows_the_hint(app_module):
    for value in ({"background": None, "layers": [], "composite": None}, None,
                  sketchpad_value(draw(7, width=0, specks=[]).point(lambda v: 255))):  # drawn, then all erased
        label, seen, hint, _ = read_sketch(app_module, value)
        assert label == {} and seen is None and hint == app_module.DRAW_HINT
    label, seen, hint, _ = read_sketch(app_module, sketchpad_value(draw(7, box=(140, 140, 140, 140), width=20)))
    assert label == {} and seen is None and hint == "Nothing to read: only a dot. Draw the whole digit."


def test_a_shape_that_is_no_digit_is_doubted_or_refused(app_module):
    triangle = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(triangle).polygon([(140, 50), (230, 220), (50, 220)], outline=0, width=16)
    label, _, hint, _ = read_sketch(app_module, sketchpad_value(triangle))
    top = max(label.values())
    assert len(label) == 10 and top < app_module.UNSURE  # the bars show, and the words doubt it, or refuse it
    assert f"but only {100 * top:.0f}% sure: is it a digit?" in hint or hint.startswith("Not a digit")
    _, _, hint, _ = read_sketch(app_module, sketchpad_value(draw(7)))
    assert "sure" not in hint  # a clear digit reads without the doubt


def test_several_digits_side_by_side_read_as_a_number_and_the_bars_show_the_largest(app_module):
    one = np.asarray(draw(1, size=(560, 280), box=(40, 80, 110, 200), width=12))
    seven = np.asarray(draw(7, size=(560, 280), box=(280, 30, 500, 250), width=20))
    label, _, hint, pixels = read_sketch(app_module, {"background": None, "layers": [],
                                                     "composite": np.minimum(one, seven)})
    assert max(label, key=label.get) == "7" and hint.startswith("Read as **17**") and "2 digits" in hint
    assert "second from the left" in hint  # the bars: the larger digit
    assert pixels.shape == (28, 28)


def test_two_digits_drawn_side_by_side_on_one_canvas_read_as_a_number(app_module):
    four = np.asarray(draw(4, box=(30, 70, 120, 210), width=14))
    two = np.asarray(draw(2, box=(160, 70, 250, 210), width=14))
    _, _, hint, _ = read_sketch(app_module, sketchpad_value(Image.fromarray(np.minimum(four, two))))
    assert hint.startswith("Read as **42**: 2 digits")
    # four digits written close together, as on the page: each mark apart, but predict sees one wide drawing
    drawn = [np.asarray(draw(d, box=(20 + 62 * i, 90, 66 + 62 * i, 190), width=14)) for i, d in enumerate((2, 0, 2, 4))]
    _, _, hint, _ = read_sketch(app_module, sketchpad_value(Image.fromarray(np.minimum.reduce(drawn))))
    assert hint.startswith("Read as **2024**")
    _, _, hint, _ = read_sketch(app_module, sketchpad_value(draw(4)))  # one digit: the plain reading, as before
    assert hint == "Read as **4**."


def test_a_number_shows_each_digits_box_and_card_and_one_digit_shows_none(app_module):
    drawn = [np.asarray(draw(d, box=(20 + 62 * i, 90, 66 + 62 * i, 190), width=14)) for i, d in enumerate((2, 0, 2, 4))]
    *_, picture = app_module.read_sketch(sketchpad_value(Image.fromarray(np.minimum.reduce(drawn))))
    assert picture["visible"] is True
    image = picture["value"]
    assert image.width >= 560 and image.height > 300  # the number cut from the drawing, at 560 px wide, then the cards
    from mnist_core.pictures import INK

    copy = np.asarray(image.convert("RGB"))[:300].astype(int)
    blue = np.abs(copy - INK).sum(axis=2) < 30  # the boxes and their labels
    columns = np.flatnonzero(blue.any(axis=0))
    assert len(np.split(columns, np.flatnonzero(np.diff(columns) > 3) + 1)) >= 4  # four boxes' sides, apart
    *_, picture = app_module.read_sketch(sketchpad_value(draw(4)))
    assert picture["visible"] is False


def test_touching_digits_drawn_as_one_mark_read_as_a_number(app_module):
    """A 4 and a 7 drawn so that they touch make one mark: predict alone reads it as one digit; the line reader
    finds the two digits in it."""
    four = np.asarray(draw(4, box=(40, 70, 140, 210), width=14))
    seven = np.asarray(draw(7, box=(128, 70, 228, 210), width=14))
    value = sketchpad_value(Image.fromarray(np.minimum(four, seven)))
    ink = app_module.sketch_ink(value)
    assert len(app_module.ink_stretches(ink)) == 1 and app_module.is_wide(ink)
    _, _, hint, _ = read_sketch(app_module, value)
    assert hint.startswith("Read as **47**: 2 digits"), hint


def test_touching_digits_the_network_refuses_get_a_tip_to_leave_a_gap(app_module):
    """A 7 and a 4 that touch, about as wide as tall: the line reader is not trusted with a mark that squat (it
    would read many doodles as numbers), the digit network refuses it, and the line says how to get it read."""
    seven = np.asarray(draw(7, size=(600, 240), box=(180, 50, 290, 200), width=14))
    four = np.asarray(draw(4, size=(600, 240), box=(270, 50, 370, 200), width=14))
    hint = read_sketch(app_module, sketchpad_value(Image.fromarray(np.minimum(seven, four))))[2]
    assert hint.startswith("Not a digit") and hint.endswith(app_module.TOUCHING_TIP), hint
    apart = np.minimum(np.asarray(draw(7, size=(600, 240), box=(130, 50, 240, 200), width=14)),
                       np.asarray(draw(4, size=(600, 240), box=(300, 50, 400, 200), width=14)))
    assert read_sketch(app_module, sketchpad_value(Image.fromarray(apart)))[2].startswith("Read as **74**")
    assert read_sketch(app_module, sketchpad_value(draw(7, size=(600, 240), box=(250, 40, 350, 200))))[2] == \
        "Read as **7**."  # a plain digit gets no tip


def test_one_wide_digit_stays_one_digit_and_wide_doodles_seldom_read_as_numbers(app_module):
    """One mark much wider than tall goes to the line reader; it must not cut a wide digit in two, and, having
    never seen a non-digit, shows a doodle as a number only when every digit is SURE_NUMBER sure (6 of these
    50 stretched non-digits, against 32 without that rule)."""
    for digit in (0, 2, 4, 7):
        value = sketchpad_value(draw(digit, box=(20, 80, 260, 200), width=14))  # twice as wide as tall
        assert app_module.is_wide(app_module.sketch_ink(value))
        assert read_sketch(app_module, value)[2] == f"Read as **{digit}**."
    from mnist_core.synthetic import non_digits

    as_numbers = 0
    for doodle in non_digits(200, seed=5, split="eval")[2::4]:  # 50 of the eval non-digits, each twice as wide
        wide = np.full((280, 532), 255, np.uint8)
        wide[12:268, 10:522] = np.asarray(Image.fromarray(doodle).resize((256, 128)).resize((512, 256)))
        hint = read_sketch(app_module, {"background": None, "layers": [], "composite": wide})[2]
        as_numbers += hint.startswith("Read as **") and "digits" in hint
    assert as_numbers <= 8, as_numbers


def test_a_refused_drawing_keeps_its_bars(app_module):
    star = Image.new("L", (280, 280), 255)
    points = [(140 + 100 * np.sin(a), 140 - 100 * np.cos(a)) for a in np.arange(6) * 4 * np.pi / 5]
    ImageDraw.Draw(star).line(points, fill=0, width=12, joint="curve")
    label, seen, hint, _ = read_sketch(app_module, sketchpad_value(star))
    assert len(label) == 10 and seen is not None  # greyed, not hidden
    assert hint.startswith("Not a digit") and greyed(app_module, sketchpad_value(star))
    assert not greyed(app_module, sketchpad_value(draw(7)))


def test_the_inside_section_computes_only_when_open_and_empties_without_a_drawing(app_module, monkeypatch):
    from gradio import processing_utils

    encoded = []  # the handler hands pictures over; Gradio encodes them once, as the block's PNG, afterwards
    real = processing_utils.encode_pil_to_bytes
    monkeypatch.setattr(processing_utils, "encode_pil_to_bytes", lambda *a, **k: encoded.append(a[1:]) or real(*a, **k))
    _, _, _, pixels = read_sketch(app_module, sketchpad_value(draw(7)))
    closed = app_module.inside_section(pixels, None, False)
    skip = type(gr.skip())
    assert all(isinstance(x, skip) for x in closed)
    opened = app_module.inside_section(pixels, None, True)
    images = dict(zip(app_module.PICTURE_NAMES, opened))
    assert all(images[n]["value"] is not None for n in ("input", "stage1", "hidden", "outputs", "why", "neighbours",
                                                        "sweep"))
    stages = len(app_module.MODELS.default.model.config.channels)
    assert [images[f"stage{i + 1}"]["visible"] for i in range(app_module.MAX_STAGES)] == \
        [i < stages for i in range(app_module.MAX_STAGES)]  # from the model's config
    assert opened[-2].startswith("This model is 2 networks whose scores are averaged, each over the drawing and 2 "
                                 "turned or zoomed copies: the layers and look-alikes shown are the first network's")
    turned = app_module.inside_section(pixels, None, True, rotate=30)
    assert "not the reading above" in turned[-2]
    assert np.asarray(turned[0]["value"]).tolist() != np.asarray(images["input"]["value"]).tolist()
    cleared = app_module.inside_section(None, None, True)
    assert all(c["value"] is None for c in cleared[:len(app_module.PICTURE_NAMES)])
    assert encoded == []  # nothing encoded in the handler (a gr.Image built with a value would encode WebP)


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
    assert captions[3] == "- blank.png: empty file (0 bytes)"
    assert "white.png: nothing to read" in captions[4]
    assert max(first, key=first.get) == "0"
    assert picture.width > 900 and picture.height > 3 * 224  # five cards, two to a row, captions underneath


def test_an_uploaded_number_is_read_whole_with_a_box_per_digit(app_module, tmp_path):
    """A file holding several digits is read as a number (its card is the image with each digit's box and a
    card per digit); one digit in a file reads as before."""
    number = Image.new("L", (600, 240), 255)
    number.paste(draw(4, size=(280, 240)), (20, 0))
    number.paste(draw(2, size=(280, 240)), (300, 0))
    number.save(tmp_path / "42.png")
    draw(7).save(tmp_path / "7.png")
    picture, first, summary = app_module.read_uploads([str(tmp_path / "42.png"), str(tmp_path / "7.png")])
    captions = summary.splitlines()
    assert captions[0] == "- 42.png: read as 42, 2 digits", captions
    assert captions[1].startswith("- 7.png: 7 (") and "read as" not in captions[1]
    assert max(first, key=first.get) == "7"  # the bars are the first file of one digit's, not the 2 of the 42
    alone, _, _ = app_module.read_uploads([str(tmp_path / "7.png")])
    assert picture.height > alone.height  # the number's card: the image above a card per digit


def test_an_uploaded_number_on_transparent_paper_is_shown_on_white(app_module, tmp_path):
    """Black ink on a transparent PNG: the number's picture shows it on white paper, not black on black."""
    ink = Image.new("L", (600, 240), 255)
    ink.paste(draw(4, size=(280, 240)), (20, 0))
    ink.paste(draw(2, size=(280, 240)), (300, 0))
    clear = Image.new("RGBA", ink.size, (0, 0, 0, 0))
    clear.putalpha(Image.eval(ink, lambda v: 255 - v))  # black where the ink is, transparent elsewhere
    clear.save(tmp_path / "42.png")
    picture, _, summary = app_module.read_uploads([str(tmp_path / "42.png")])
    assert summary.startswith("- 42.png: read as 42"), summary
    shown = np.asarray(app_module.viewable(Image.open(tmp_path / "42.png")).convert("L"))
    assert np.median(shown) == 255 and shown.min() < 50  # white paper, dark ink
    top = np.asarray(picture.convert("L"))[40:200, 40:500]  # the number's picture, above its digit cards
    assert np.median(top) > 200


def test_a_digit_beside_a_stray_mark_keeps_its_card_and_bars(app_module, tmp_path):
    """One digit and a mark beside it that is no digit (a logo, a doodle): read whole it is "7?", not a number, so
    the file keeps its one-digit card and bars."""
    img = draw(7, size=(480, 280), box=(40, 40, 240, 240))
    ImageDraw.Draw(img).polygon([(370, 60), (450, 220), (290, 220)], outline=0, width=10)
    assert app_module.read_number(app_module.MODELS.model(), img).text == "7?"
    img.save(tmp_path / "seven.png")
    _, first, summary = app_module.read_uploads([str(tmp_path / "seven.png")])
    assert "read as" not in summary and max(first, key=first.get) == "7", summary


def test_uploaded_digits_of_two_sizes_or_touching_are_read_as_a_number(app_module, tmp_path):
    """A big 3 and a small 7 apart (the 7 under predict's share for "several marks") read as 37; two digits that
    touch in a mark hardly wider than tall, refused as one digit, get the number as a hint."""
    from test_numbers import draw_number

    mixed = Image.new("L", (600, 300), 255)
    mixed.paste(draw(3, size=(260, 280), box=(30, 20, 230, 270), width=22), (60, 0))
    mixed.paste(draw(7, size=(110, 140), box=(10, 10, 90, 130), width=8), (340, 150))
    assert not app_module.MODELS.predict(mixed).several_marks  # the 7 holds too little of the ink to be named
    mixed.save(tmp_path / "37.png")
    draw_number([4, 2], size=(400, 240), gap=-12, width=16).save(tmp_path / "touching.png")
    _, first, summary = app_module.read_uploads([str(tmp_path / "37.png"), str(tmp_path / "touching.png")])
    captions = summary.splitlines()
    assert captions[0] == "- 37.png: read as 37, 2 digits", captions
    assert captions[1].startswith("- touching.png: ") and captions[1].endswith("they read as 42."), captions


def test_a_big_noisy_photo_of_a_thin_pen_number_is_read(app_module, tmp_path):
    """A number written with a thin pen, photographed big on grainy paper: each digit holds too little of the image
    for predict's noise gate ("only faint patches in the paper's grain"), read_number reads it (found by a new
    user's try)."""
    from test_numbers import draw_number

    ink = np.asarray(draw_number([2, 0, 2, 4], size=(1600, 1200), height=300, width=5, gap=60), np.float32)
    photo = np.clip(60 + 0.55 * ink + np.random.default_rng(0).normal(0, 12, ink.shape), 0, 255).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "2024.jpg", quality=85)
    assert app_module.MODELS.predict(str(tmp_path / "2024.jpg")).message.startswith("nothing to read")
    _, _, summary = app_module.read_uploads([str(tmp_path / "2024.jpg")])
    assert summary == "- 2024.jpg: read as 2024, 4 digits"


def test_models_are_chosen_by_name_from_the_servers_list_only(app_module):
    models = app_module.MODELS
    assert models.checkpoint_dir != models.checkpoints()[0].parent  # trained models go elsewhere than the shipped one
    choice, line, details = app_module.choose_model("mnist_cnn.safetensors")
    assert choice == "mnist_cnn.safetensors" and "mnist_cnn.safetensors" in line.label
    assert app_module.accuracy_of(models.default) in details and app_module.accuracy_of(models.default) in line.label
    for name in ("../../etc/passwd", "/etc/hostname"):
        choice, line, _ = app_module.choose_model(name, "mnist_cnn.safetensors")
        assert choice == "mnist_cnn.safetensors"  # refused: the page keeps what it had
    assert models.default.path.name == "mnist_cnn.safetensors"


def random_model(models, name, seed, metrics=None):
    from mnist_core.checkpoint import save_checkpoint
    from mnist_core.config import TrainConfig
    from mnist_core.model import DigitCNN, ModelConfig

    torch.manual_seed(seed)
    return save_checkpoint(models.checkpoint_dir / name, DigitCNN(ModelConfig()), TrainConfig(),
                           {"test_acc": 0.1, **(metrics or {})}, "CPU")


def test_two_pages_read_with_their_own_models_and_the_default_stays(app_module):
    models = app_module.MODELS
    path = random_model(models, "page-b.safetensors", 0)
    try:
        drawing = sketchpad_value(draw(7))
        page_b, line_b, _ = app_module.choose_model("page-b.safetensors")
        page_a = None  # never chose: the server's default
        label_a, _, _, _ = read_sketch(app_module, drawing, page_a)
        label_b, _, _, _ = read_sketch(app_module, drawing, page_b)
        assert max(label_a, key=label_a.get) == "7" and label_a != label_b  # each page's own model read it
        assert "page-b.safetensors" in line_b.label and "page-b" not in app_module.model_line(page_a)
        assert models.default.path.name == "mnist_cnn.safetensors"  # nobody else's model changed
        assert app_module.predict_image(str(write_png(draw(7), path.parent / "seven.png")))["label"] == "7"
    finally:
        path.unlink()


def write_png(img, path):
    img.save(path)
    return path


def test_the_default_changes_only_for_a_model_better_on_held_out_data(tmp_path):
    from mnist_core.registry import ModelRegistry

    models = ModelRegistry(tmp_path)
    shipped = models.default.path
    no_measure = random_model(models, "a.safetensors", 1)
    assert models.add(no_measure) == (models.get(no_measure), False) and models.default.path == shipped
    measured = random_model(models, "b.safetensors", 2, {"val_acc": 0.90})
    checkpoint, became = models.add(measured)
    assert not became or "val_acc" in models.get(shipped).metrics  # the shipped model wins unless both are measured
    models.select(measured)  # a default with a held-out score: better ones replace it, worse ones do not
    worse, better = (random_model(models, f"{n}.safetensors", 3, {"val_acc": v}) for n, v in (("c", 0.85), ("d", 0.95)))
    assert models.add(worse)[1] is False and models.default.path == measured
    assert models.add(better)[1] is True and models.default.path == better
    assert [p.name for p in models.checkpoints()][1:] == ["d.safetensors", "c.safetensors", "b.safetensors",
                                                           "a.safetensors"] or len(models.checkpoints()) == 5


def test_every_open_page_gets_changes_and_only_changes(app_module):
    first = app_module.poll(None, None)  # a page that has seen nothing yet gets everything
    key = first[7]
    assert first[2] and first[4].label.startswith("Model: mnist_cnn.safetensors")
    again = app_module.poll(key, None)  # nothing changed: plots, model list and header are skipped
    skip = type(app_module.gr.skip())
    assert again[7] == key and all(isinstance(x, skip) for x in (again[0], again[3], again[4], again[5]))
    assert again[6].value == app_module.IDLE_POLL  # no run going: the page polls slowly
    path = random_model(app_module.MODELS, "new.safetensors", 4)
    try:
        app_module.MODELS.add(path)  # another visitor's run saved a model: every page's list shows it
        changed = app_module.poll(key, None)
        assert any(value == "new.safetensors" for _, value in changed[3].choices)
        assert isinstance(changed[4], skip)  # this page's own model did not change
    finally:
        path.unlink()


def test_the_page_that_trained_takes_its_model_and_the_others_keep_theirs(app_module):
    from mnist_core.config import TrainConfig
    from mnist_core.job import Run, State

    job = app_module.JOB
    path = random_model(app_module.MODELS, "trained-here.safetensors", 5)
    saved_run, saved_count = job.run, job.runs_started
    try:
        app_module.MODELS.add(path)
        job.run = Run(TrainConfig(), "CPU", state=State.DONE, owner="trainer", saved=path, message="saved")
        job.runs_started += 1
        mine = app_module.poll(None, None, gr.Request(session_hash="trainer"))
        theirs = app_module.poll(None, None, gr.Request(session_hash="someone else"))
        assert mine[8] == "trained-here.safetensors" and "trained-here" in mine[4].label
        assert "This page reads with it now" in mine[2]
        assert theirs[8] is None and "mnist_cnn.safetensors" in theirs[4].label
        assert "Pick it from the model list" in theirs[2]
        switched, _, _ = app_module.choose_model("mnist_cnn.safetensors", mine[8])  # the trainer goes back
        after = app_module.poll(mine[7], switched, gr.Request(session_hash="trainer"))
        assert after[8] == "mnist_cnn.safetensors" and "Pick it from the model list" in after[2]
    finally:
        job.run, job.runs_started = saved_run, saved_count
        path.unlink()


def test_the_model_details_name_the_training_precision_when_the_checkpoint_records_it(app_module):
    models = app_module.MODELS
    shipped = models.default  # two networks, measured together in float32: no training precision of its own
    details = app_module.model_details()
    assert f"on {shipped.device} ·" in details and "NVIDIA H200 + CPU" in details and "measured in" not in details
    assert "2 networks averaged, seeds 0, 1" in details
    one = random_model(models, "bf16.safetensors", 5, {"precision": "bf16"})
    older = random_model(models, "no-precision.safetensors", 6)
    try:  # the test figure says it was measured in bf16, beside Explore's float32 check of the same model
        details = app_module.model_details("bf16.safetensors")
        assert "on CPU, bf16 ·" in details and "(measured in bf16 as trained; Explore checks it in float32)" in details
        assert "seed 0 ·" in details
        details = app_module.model_details("no-precision.safetensors")
        assert "no-precision.safetensors" in details and "on CPU ·" in details and "bf16" not in details
    finally:
        one.unlink()
        older.unlink()


def test_messages_name_no_library(app_module, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image at all")
    _, _, summary = app_module.read_uploads([str(text)])
    assert "notes.png" in summary and "Pillow" not in summary
    with __import__("pytest").raises(gr.Error) as refused:
        app_module.predict_image(str(text))
    assert "Pillow" not in refused.value.message


def test_small_and_fat_drawings_get_honest_words(app_module):
    small = sketchpad_value(draw(3, box=(120, 120, 160, 160), width=24))  # small, default-ish brush: a blob
    _, _, hint, _ = read_sketch(app_module, small)
    assert "only a dot" not in hint and ("thinner" in hint)
    fat = sketchpad_value(draw(3, box=(40, 30, 240, 250), width=64))
    _, _, hint, _ = read_sketch(app_module, fat)
    assert "very thick" in hint and "thinner brush" in hint
    _, _, hint, _ = read_sketch(app_module, sketchpad_value(draw(3)))
    assert "thick" not in hint  # an ordinary drawing reads without the warning
    refused = sketchpad_value(draw(3, box=(120, 120, 141, 150), width=14))  # small for the brush: not a digit
    _, _, hint, _ = read_sketch(app_module, refused)
    assert hint.startswith("Not a digit") and "If it is one, its strokes are very thick" in hint and "larger" in hint
