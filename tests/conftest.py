import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))
HAVE_MNIST = (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists() or (MNIST_DIR / "t10k-images-idx3-ubyte").exists()
# Screenshots and other things worth looking at after a run: outside the repository, so a test run leaves it clean.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(tempfile.gettempdir()) / "mnist-test-artifacts"))

needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"the MNIST files are not in {MNIST_DIR} (set MNIST_DIR)")


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST (train, test) on the CPU."""
    if not HAVE_MNIST:
        pytest.skip(f"the MNIST files are not in {MNIST_DIR} (set MNIST_DIR)")
    from mnist_core.data import load_mnist

    return load_mnist(MNIST_DIR)


@pytest.fixture(scope="session")
def app_module(tmp_path_factory):
    """The app, imported once, saving trained models into a temporary folder instead of checkpoints/."""
    os.environ["CHECKPOINT_DIR"] = str(tmp_path_factory.mktemp("checkpoints"))
    os.environ.setdefault("MNIST_DIR", str(MNIST_DIR))
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import app

    return app


@pytest.fixture(scope="session")
def server(app_module):
    """The real Gradio server on a free local port; yields its URL."""
    app_module.demo.queue(default_concurrency_limit=4)
    _, url, _ = app_module.demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True,
                                       quiet=True, **app_module.LAUNCH)
    yield url.rstrip("/")
    app_module.JOB.stop()
    app_module.JOB.wait(30)
    app_module.demo.close()


@pytest.fixture(scope="session")
def client(server):
    from gradio_client import Client

    c = Client(server, verbose=False)
    yield c
    c.close()


def wait_for(condition, timeout=60.0, every=0.2):
    """Poll until condition() is truthy; returns its value or fails the test after timeout seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {condition.__name__}")


@contextmanager
def held_open(job, after_iteration=0):
    """Hold a TrainingJob's run once it reaches after_iteration, until the block ends or Stop is pressed: a test
    that needs a run still going later says so, instead of relying on the CPU being slow."""
    release = threading.Event()

    def hold(event):
        while event.iteration >= after_iteration and not release.is_set() and not job.stopping():
            release.wait(0.05)

    job.after_event = hold
    try:
        yield
    finally:
        release.set()
        job.after_event = None
