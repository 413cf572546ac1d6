"""Strange files and images: each gets a clear message or a right reading, never a crash; the next request works."""
import gzip
import io
import re
import zipfile

import httpx
import numpy as np
import pytest
from PIL import Image

from drawing import draw
from mnist_core.reader import open_image

SEVEN = draw(7)


def save(path, image, **kw):
    image.save(path, **kw)
    return path


def make_files(d):
    """name -> (path, expected digit or the start of the expected message)."""
    files = {}
    files["white.png"] = (save(d / "white.png", Image.new("L", (280, 280), 255)), "nothing to read")
    files["black.png"] = (save(d / "black.png", Image.new("L", (280, 280), 0)), "nothing to read")
    files["dot.png"] = (save(d / "dot.png", draw(7, box=(140, 140, 140, 140), width=14)), "nothing to read")
    speck = np.full((280, 280), 255, np.uint8)
    speck[100, 100] = speck[200, 37] = 0
    files["specks.png"] = (save(d / "specks.png", Image.fromarray(speck)), "nothing to read")
    files["1x1.png"] = (save(d / "1x1.png", Image.new("L", (1, 1), 0)), "nothing to read")
    files["huge.png"] = (save(d / "huge.png", draw(7, size=(5000, 5000), box=(2000, 1800, 3000, 3200), width=120)), 7)
    files["wide.png"] = (save(d / "wide.png", draw(7, size=(3000, 60), box=(1500, 5, 1540, 55), width=5)), 7)
    files["tall.png"] = (save(d / "tall.png", draw(7, size=(60, 3000), box=(10, 400, 50, 460), width=5)), 7)
    (d / "notes.png").write_text("this is not an image\n")
    files["notes.png"] = (d / "notes.png", "notes.png: not an image")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    (d / "archive.zip").write_bytes(buf.getvalue())
    files["archive.zip"] = (d / "archive.zip", "archive.zip: not an image")
    (d / "empty.png").write_bytes(b"")
    files["empty.png"] = (d / "empty.png", "empty.png: empty file")
    whole = io.BytesIO()
    SEVEN.save(whole, "PNG")
    (d / "truncated.png").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    files["truncated.png"] = (d / "truncated.png", "truncated.png: damaged or truncated")
    (d / "gzip.png").write_bytes(gzip.compress(whole.getvalue()))
    files["gzip.png"] = (d / "gzip.png", "gzip.png: not an image")
    files["jpeg-named.png"] = (save(d / "jpeg-named.png", SEVEN.convert("RGB"), format="JPEG", quality=80), 7)
    frames = [draw(7).convert("P"), draw(1).convert("P")]
    files["animated.gif"] = (save(d / "animated.gif", frames[0], save_all=True, append_images=frames[1:]), 7)
    sixteen = (np.asarray(SEVEN, np.uint16) * 257).astype(np.uint16)
    files["16bit.png"] = (save(d / "16bit.png", Image.fromarray(sixteen, "I;16")), 7)
    files["cmyk.jpg"] = (save(d / "cmyk.jpg", SEVEN.convert("CMYK"), format="JPEG"), 7)
    palette = Image.new("P", (280, 280), 0)
    palette.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    palette.paste(1, mask=Image.eval(SEVEN, lambda v: 255 - v).point(lambda v: 255 if v > 128 else 0).convert("1"))
    palette.info["transparency"] = 0
    files["palette.png"] = (save(d / "palette.png", palette, transparency=0), 7)
    rotated = SEVEN.rotate(90, expand=True).convert("RGB")  # stored on its side, EXIF says turn it back
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    files["phone.jpg"] = (save(d / "phone.jpg", rotated, format="JPEG", exif=exif.tobytes()), 7)
    return files


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("bad"))


def check(caption, expected):
    if isinstance(expected, int):
        assert caption.split(": ", 1)[1].startswith(f"{expected} ("), caption
    else:
        assert expected in caption, caption


def test_every_strange_file_gets_a_reading_or_a_clear_message(app_module, bad_files):
    names = list(bad_files)
    _, _, summary = app_module.read_uploads([str(bad_files[n][0]) for n in names])
    captions = summary.splitlines()
    assert len(captions) == len(names)
    for name, caption in zip(names, captions):
        check(caption.removeprefix("- ").removeprefix("⚠️ "), bad_files[name][1])
        assert "Traceback" not in caption
    _, first, _ = app_module.read_uploads([str(bad_files["jpeg-named.png"][0])])  # the next request works
    assert max(first, key=first.get) == "7"


@pytest.mark.parametrize("side", [7100, 9000])  # 50 and 81 million pixels: over our limit, and over Pillow's
def test_decompression_bomb_is_refused(tmp_path, side):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (side, side), 1).save(bomb)  # a few kB on disk, tens of millions of pixels in memory
    with pytest.raises(ValueError, match="bomb.png: image too large"):
        open_image(bomb)


def test_api_gives_clear_errors_and_keeps_serving(client, bad_files):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    for name in ("notes.png", "truncated.png", "empty.png", "archive.zip"):
        with pytest.raises(AppError, match=name):
            client.predict(handle_file(str(bad_files[name][0])), api_name="/predict")
    assert not client.predict(handle_file(str(bad_files["white.png"][0])), api_name="/predict").get("confidences")
    assert client.predict(handle_file(str(bad_files["cmyk.jpg"][0])), api_name="/predict")["label"] == "7"


def call(server, api_name, data):
    """Call an endpoint over plain HTTP, as any client could, bypassing gradio_client's own checks."""
    event = httpx.post(f"{server}/gradio_api/call/{api_name}", json={"data": data}).json()["event_id"]
    return httpx.get(f"{server}/gradio_api/call/{api_name}/{event}", timeout=60).text


def test_uploads_over_the_size_limit_are_refused(server, client, tmp_path):
    from gradio_client import handle_file

    big = b"\x89PNG" + bytes(11 * 1024 * 1024)  # 11 MB, the limit is 10 MB
    response = httpx.post(f"{server}/gradio_api/upload", files={"files": ("big.png", big)})
    assert response.status_code == 413 and "maximum allowed size" in response.text
    small = tmp_path / "seven.png"
    SEVEN.save(small)
    assert client.predict(handle_file(str(small)), api_name="/predict")["label"] == "7"


def test_server_files_cannot_be_read_through_the_api(server):
    reply = call(server, "predict", [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}])
    assert "event: error" in reply and "not uploaded by a user" in reply


@pytest.mark.parametrize("settings, refusal", [  # Gradio's components check some bounds, TrainConfig the rest
    ((0, 128, 0.003, True, 0), "less than minimum value 1"), ((10**6, 128, 0.003, True, 0), "greater than maximum"),
    ((2, 0, 0.003, True, 0), "not in the list of choices"), ((2, 10**9, 0.003, True, 0), "not in the list of choices"),
    ((2, 128, 0, True, 0), "Not started: lr must be a number from"),
    ((2, 128, 50.0, True, 0), "Not started: lr must be a number from"),
    ((2.5, 128, 0.003, True, 0), "Not started: expected a whole number"),
    ((2, 128, 0.003, True, -5), "Not started: seed must be a whole number from 0"),
])
def test_training_settings_out_of_bounds_are_refused_by_the_api(client, app_module, settings, refusal):
    from gradio_client.exceptions import AppError

    try:
        message = client.predict(*settings, api_name="/train")
    except AppError as e:
        message = str(e)
    assert refusal in message
    assert not app_module.JOB.running()


def test_text_where_a_number_goes_is_refused(server, client, app_module):
    reply = call(server, "train", ["two", "many", "fast", True, "x"])
    assert "event: error" in reply and "Expected a `float`" in reply and "Traceback" not in reply
    assert not app_module.JOB.running()
    assert client.predict(api_name="/stop") == "no training run in progress"  # and the server still answers
