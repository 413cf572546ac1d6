"""Many users at once: one training run for the whole server, predictions that keep answering, safe model swaps."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from conftest import held_open, needs_mnist, wait_for
from drawing import draw, sketchpad_value
from mnist_core.checkpoint import load_checkpoint, save_checkpoint
from mnist_core.config import TrainConfig
from mnist_core.model import DigitCNN, ModelConfig
from mnist_core.reader import predict
from mnist_core.job import State
from mnist_core.registry import ModelRegistry


@needs_mnist
def test_two_starts_at_the_same_moment_start_exactly_one_run(server, app_module):
    from gradio_client import Client

    clients = [Client(server, verbose=False) for _ in range(2)]
    barrier = threading.Barrier(2)

    def start(c):
        barrier.wait()
        return c.predict(1, 128, 0.003, True, 0, api_name="/train")

    try:
        with held_open(app_module.JOB), ThreadPoolExecutor(2) as pool:  # the first run cannot end before the second Start
            replies = list(pool.map(start, clients))
        assert sum("training started" in r.lower() for r in replies) == 1, replies
        assert sum("already in progress" in r for r in replies) == 1, replies
    finally:
        app_module.JOB.stop()
        app_module.JOB.wait(30)
        for c in clients:
            c.close()


@needs_mnist
def test_predictions_from_ten_clients_all_succeed_during_training(server, app_module, tmp_path):
    from gradio_client import Client, handle_file

    paths = []
    for digit in (0, 1, 2, 3, 4, 7):
        paths.append((digit, tmp_path / f"{digit}.png"))
        draw(digit).save(paths[-1][1])
    job = app_module.JOB
    hold = held_open(job, after_iteration=50)  # the run waits there until the calls are done
    hold.__enter__()
    assert job.start(TrainConfig(epochs=3))[0] is app_module.Start.STARTED
    wait_for(lambda: job.run.state is State.TRAINING, timeout=600)  # a first run makes generated images
    clients = [Client(server, verbose=False) for _ in range(10)]

    def five_calls(c):
        answers = []
        for i in range(5):
            digit, path = paths[(hash(c) + i) % len(paths)]
            answers.append((digit, c.predict(handle_file(str(path)), api_name="/predict")["label"]))
        return answers

    try:
        with ThreadPoolExecutor(10) as pool:
            answers = [a for batch in pool.map(five_calls, clients) for a in batch]
        assert job.running()  # the run was going the whole time
        assert len(answers) == 50 and all(str(digit) == label for digit, label in answers)
    finally:
        hold.__exit__(None, None, None)
        job.stop()
        job.wait(30)
        for c in clients:
            c.close()


def test_predictions_never_see_a_half_swapped_model(tmp_path):
    paths = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        paths.append(save_checkpoint(tmp_path / f"m{seed}.safetensors", DigitCNN(ModelConfig()), TrainConfig(), {}, "CPU"))
    image = sketchpad_value(draw(3))
    expected = [predict(load_checkpoint(p).model, image).probs for p in paths]
    assert not np.allclose(expected[0], expected[1])
    models = ModelRegistry(tmp_path)
    models.select(paths[0])
    done = threading.Event()
    seen = []

    def swap():
        for i in range(40):
            models.select(paths[i % 2])
        done.set()

    def ask():
        while not done.is_set():
            seen.append(models.predict(image).probs)

    threads = [threading.Thread(target=swap)] + [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(seen) > 10
    for probs in seen:
        assert any(np.allclose(probs, e, atol=1e-5) for e in expected)
