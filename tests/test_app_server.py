"""The real server over HTTP with gradio_client: /predict, /read_number, and one training run at a time."""
import time

import numpy as np
from gradio_client import handle_file
from PIL import Image

from conftest import held_open, needs_mnist, wait_for
from drawing import draw


def test_predict_endpoint_reads_a_drawn_digit(client, tmp_path):
    path = tmp_path / "seven.png"
    draw(7).save(path)
    result = client.predict(handle_file(str(path)), api_name="/predict")
    assert set(result) == {"label", "confidences", "message"}
    assert result["label"] == "7" and len(result["confidences"]) == 10 and result["message"] == ""
    assert result["confidences"][0]["label"] == "7" and abs(sum(c["confidence"] for c in result["confidences"]) - 1) < 1e-4


def test_predict_endpoint_blank_image_gives_the_same_shape_with_a_message(client, tmp_path):
    path = tmp_path / "blank.png"
    Image.new("RGB", (280, 280), "white").save(path)
    result = client.predict(handle_file(str(path)), api_name="/predict")
    assert set(result) == {"label", "confidences", "message"}  # the same keys as for a digit
    assert result["label"] is None and result["confidences"] == [] and "nothing to read" in result["message"]


def test_read_number_endpoint_reads_every_digit_with_its_box(client, tmp_path):
    path = tmp_path / "number.png"
    drawn = [draw(d, size=(600, 240), box=(40 + 130 * i, 40, 140 + 130 * i, 200), width=16)
             for i, d in enumerate((2, 0, 2, 4))]
    Image.fromarray(np.minimum.reduce([np.asarray(d) for d in drawn])).save(path)
    result = client.predict(handle_file(str(path)), api_name="/read_number")
    assert set(result) == {"text", "digits", "message"} and result["text"] == "2024"
    for i, digit in enumerate(result["digits"]):
        assert digit["label"] == "2024"[i] and len(digit["confidences"]) == 10
        x0, y0, x1, y1 = digit["box"]
        assert 30 + 130 * i <= x0 < x1 <= 150 + 130 * i and 30 <= y0 < y1 <= 210
    path = tmp_path / "blank.png"
    Image.new("RGB", (600, 240), "white").save(path)
    result = client.predict(handle_file(str(path)), api_name="/read_number")
    assert result["text"] == "" and result["digits"] == [] and "nothing to read" in result["message"]


def test_only_predict_and_read_number_are_documented_and_training_is_callable_but_unlisted(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert names == {"/predict", "/read_number"}  # so they are the MCP tools too; /train and /stop answer (below)


@needs_mnist
def test_training_starts_refuses_a_second_start_and_stops(client, app_module):
    from mnist_core.job import State

    job, models = app_module.JOB, app_module.MODELS
    active_before = models.active.path
    with held_open(job, after_iteration=20):  # the run waits at iteration 20 until Stop: never ends by itself
        status = client.predict(1, 128, 0.003, True, 0, api_name="/train")
        assert "started" in status
        status = client.predict(1, 64, 0.003, True, 0, api_name="/train")
        assert "already in progress" in status
        wait_for(lambda: job.run.last is not None and job.run.last.iteration >= 20, timeout=600)  # minutes on a first run: generated images
        t0 = time.monotonic()
        assert "stopping" in client.predict(api_name="/stop")
        wait_for(lambda: not job.running(), timeout=10)
    assert time.monotonic() - t0 < 10 and job.run.state is State.STOPPED
    assert models.active.path == active_before  # the model that was active stays
