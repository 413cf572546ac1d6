"""The command lines as a user runs them: flags in, a checkpoint and curves out, or a one-line error."""
import importlib

import numpy as np
import pytest

from conftest import MNIST_DIR
from mnist_core import train as train_cli
from mnist_core.checkpoint import load_checkpoint


def test_train_writes_a_checkpoint_that_records_its_settings_and_precision(mnist, tmp_path, capsys):
    out = tmp_path / "tiny.safetensors"
    assert train_cli.main(["--data-dir", str(MNIST_DIR), "--train-subset", "512", "--batch-size", "64", "--eval-every", "4", "--channels", "8", "16",
                           "--drawn-digits", "0", "--non-digits", "0",
                           "--photo-digits", "0", "--precision", "float32", "--out", str(out)]) == 0
    c = load_checkpoint(out)
    assert c.metrics["precision"] == "float32" and c.train_config.train_subset == 512
    assert c.model_config.channels == (8, 16) and out.with_suffix(".png").stat().st_size > 0
    assert "Iteration: 8, Epoch: 1.00" in capsys.readouterr().out  # the tutorial-style log line


@pytest.mark.parametrize("flags, message", [
    (["--image-size", "20"], "MNIST needs --image-size 28 and --num-classes 10"),
    (["--num-classes", "5"], "MNIST needs --image-size 28 and --num-classes 10"),
    (["--num-classes", "12"], "MNIST needs --image-size 28 and --num-classes 10"),
    (["--channels", "8", "8", "8", "8", "8"], "5 stages halve a 28-pixel image to nothing"),
    (["--lr", "0"], "lr must be a number from"), (["--precision", "fp8"], "invalid choice: 'fp8'")])
def test_train_refuses_bad_flags_with_a_message_not_a_traceback(mnist, flags, message, capsys):
    with pytest.raises(SystemExit) as exit:
        train_cli.main(["--data-dir", str(MNIST_DIR), *flags])
    assert exit.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("module", ["mnist_core.predict", "mnist_core.train", "mnist_core.train_lines"])
def test_the_command_lines_run_without_warnings(module):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", module, "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout and "Warning" not in done.stderr, done.stderr


def test_predict_number_prints_the_number(tmp_path, capsys):
    from PIL import Image

    from drawing import draw

    predict_cli = importlib.import_module("mnist_core.predict")  # mnist_core.predict is also the function's name
    drawn = [np.asarray(draw(d, size=(600, 240), box=(40 + 130 * i, 40, 140 + 130 * i, 200), width=16))
             for i, d in enumerate((2, 0, 2, 4))]
    path = tmp_path / "number.png"
    Image.fromarray(np.minimum.reduce(drawn)).save(path)
    blank = tmp_path / "blank.png"
    Image.new("L", (600, 240), 255).save(blank)
    assert predict_cli.main([str(path), str(blank), "--number"]) == 0
    out = capsys.readouterr().out
    assert f"{path}: number 2024  [2:" in out and f"{blank}: nothing to read" in out
