"""Downloading MNIST, offline: mirrors on 127.0.0.1 that serve the real files, answer 404, send a web page
instead of a file, refuse the connection, or accept it and never answer; and a local stand-in for the Hugging
Face Hub. Whatever goes wrong must end within seconds in one plain sentence that says what to do."""
import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import MNIST_DIR, needs_mnist
from mnist_core import data
from mnist_core.data import FILES, MnistDownloadError, load_mnist, read_split

ADVICE = "Set MNIST_DIR to a folder with the four MNIST IDX files, or try again later."


def serve(handler_get):
    """A threaded HTTP server on 127.0.0.1; GET and HEAD answer with handler_get(path) -> (status, headers, body)."""

    class Handler(BaseHTTPRequestHandler):
        def answer(self, with_body):
            status, headers, body = handler_get(self.path)
            self.send_response(status)
            for key, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(key, value)
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - the http.server API
            self.answer(True)

        def do_HEAD(self):  # noqa: N802
            self.answer(False)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def mirror():
    """/good/<file>: the real MNIST files; /train-only/<file>: the training files, 404 for the others;
    /missing/<file>: 404; /page/<file>: 200 with a web page, as a captive portal or a moved bucket sends."""
    if not (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip(f"the gzipped MNIST files are not in {MNIST_DIR} (set MNIST_DIR)")
    requests = []

    def get(path):
        requests.append(path)
        kind, _, name = path.strip("/").partition("/")
        if kind == "page":
            return 200, {"Content-Type": "text/html"}, b"<html><body>Bucket moved</body></html>"
        if (kind == "good" or (kind == "train-only" and name.startswith("train"))) and (MNIST_DIR / name).is_file():
            return 200, {"Content-Type": "application/gzip"}, (MNIST_DIR / name).read_bytes()
        return 404, {}, b"not here"

    server, url = serve(get)
    yield SimpleNamespace(url=url, requests=requests)
    server.shutdown()


@pytest.fixture
def stalled():
    """A mirror that accepts the connection (the kernel completes it) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/mnist/"
    sock.close()


@pytest.fixture
def refused():
    """A loopback port with nothing listening on it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture
def sources(monkeypatch, tmp_path):
    """No MNIST_DIR, an empty cache, a 1 s timeout, no Hub; returns a function that sets the mirror list."""
    monkeypatch.delenv("MNIST_DIR", raising=False)
    monkeypatch.delenv("MNIST_MIRRORS", raising=False)
    monkeypatch.setattr(data, "DEFAULT_CACHE", tmp_path / "cache")
    monkeypatch.setattr(data, "TIMEOUT", 1.0)
    monkeypatch.setattr(data, "HUB_URL", None)
    return lambda *urls: monkeypatch.setattr(data, "MIRRORS", list(urls))


def failure(seconds=5.0):
    """The MnistDownloadError load_mnist() raises, checked to come within `seconds` and to be plain text."""
    start = time.monotonic()
    with pytest.raises(MnistDownloadError) as caught:
        load_mnist()
    elapsed = time.monotonic() - start
    message = str(caught.value)
    assert elapsed < seconds, f"took {elapsed:.1f} s: {message}"
    assert message.startswith("MNIST could not be downloaded (") and message.endswith(ADVICE), message
    assert "\n" not in message and "<" not in message and ">" not in message, message  # a toast would eat tags
    assert "Tried" not in message and "urlopen" not in message, message  # nothing of torchvision's raw error
    return message


def cached_files():
    return sorted(p.name for p in (data.DEFAULT_CACHE / "MNIST" / "raw").iterdir())


@needs_mnist
def test_good_mirror_gives_the_real_arrays_and_is_asked_once(sources, mirror):
    sources(mirror.url + "/good/")
    before = len(mirror.requests)
    train, test = load_mnist()
    assert (len(train), len(test)) == (60_000, 10_000)
    for split in ("train", "test"):
        got, expected = read_split(data.DEFAULT_CACHE / "MNIST" / "raw", split), read_split(MNIST_DIR, split)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
    assert test.labels.tolist() == read_split(MNIST_DIR, "test")[1].tolist()
    assert len(mirror.requests) - before == 4
    load_mnist()  # from the cache now
    assert len(mirror.requests) - before == 4
    assert cached_files() == sorted(stem + ".gz" for stems in FILES.values() for stem in stems)  # no leftovers


def test_404_mirror_ends_in_one_plain_sentence(sources, mirror):
    sources(mirror.url + "/missing/")
    message = failure()
    assert f"127.0.0.1:{mirror.url.rsplit(':', 1)[1]}: HTTP 404" in message
    assert cached_files() == []  # nothing half-written left behind


def test_stalled_mirror_times_out(sources, stalled):
    sources(stalled)
    message = failure(seconds=5.0)  # TIMEOUT is 1 s here
    assert "no answer within 1 s" in message


def test_refused_connection_and_web_page_are_reported_per_mirror(sources, mirror, refused):
    sources(refused, mirror.url + "/page/")
    message = failure()
    assert "Connection refused" in message
    assert "train-images-idx3-ubyte.gz is not a gzip file" in message
    assert cached_files() == []


@needs_mnist
def test_falls_through_bad_mirrors_and_keeps_files_already_checked(sources, mirror, stalled):
    sources(mirror.url + "/missing/", stalled, mirror.url + "/train-only/", mirror.url + "/good/")
    start = len(mirror.requests)
    began = time.monotonic()
    train, test = load_mnist()
    assert time.monotonic() - began < 15
    assert (len(train), len(test)) == (60_000, 10_000)
    from_good = [p for p in mirror.requests[start:] if p.startswith("/good/")]
    assert from_good == ["/good/t10k-images-idx3-ubyte.gz", "/good/t10k-labels-idx1-ubyte.gz"]


def test_a_wrong_file_is_refused_by_its_checksum(sources, monkeypatch, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    import gzip

    with gzip.open(wrong / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x03" + (1).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(784))
    server, url = serve(lambda path: (200, {}, (wrong / path.rsplit("/", 1)[1]).read_bytes()))
    try:
        sources(url + "/")
        assert "train-images-idx3-ubyte.gz is not the MNIST file (its checksum differs)" in failure()
    finally:
        server.shutdown()


def test_mirrors_from_the_environment(sources, monkeypatch, mirror):
    sources(mirror.url + "/good/")
    monkeypatch.setenv("MNIST_MIRRORS", mirror.url + "/missing/")
    assert "HTTP 404" in failure()
    monkeypatch.setenv("MNIST_MIRRORS", "")
    assert "(no source is set)" in failure()


def test_unwritable_cache_is_a_plain_sentence(sources, monkeypatch, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setattr(data, "DEFAULT_CACHE", tmp_path / "a-file" / "cache")
    assert "cannot write to" in failure()


def test_the_app_shows_the_sentence_whole(app_module, sources, mirror, monkeypatch):
    """Explore's error reaches the page as gr.Error's message: the whole download sentence, nothing cut."""
    import gradio as gr
    from gradio.utils import error_payload

    from mnist_core.job import TrainingJob

    sources(mirror.url + "/missing/")
    monkeypatch.setattr(app_module, "JOB", TrainingJob(app_module.MODELS))  # no data loaded yet
    with pytest.raises(gr.Error) as caught:
        app_module.random_training_digits()
    shown = error_payload(caught.value, show_error=True)["error"]  # what the page's toast receives
    assert shown.startswith("MNIST could not be downloaded (127.0.0.1:") and shown.endswith(ADVICE), shown
    assert "HTTP 404" in shown and "<" not in shown and ">" not in shown, shown


# The Hugging Face Hub ---------------------------------------------------------------------------

def parquet_bytes(images, labels):
    """A parquet file shaped like ylecun/mnist's: image = {bytes: PNG, path}, label = int64."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    from PIL import Image

    pngs = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image, "L").save(buffer, "PNG")
        pngs.append({"bytes": buffer.getvalue(), "path": None})
    table = pa.table({"image": pa.array(pngs, pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
                      "label": pa.array(labels.astype(np.int64))})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


@pytest.fixture
def hub(sources, monkeypatch):
    """A local stand-in for the Hub serving ylecun/mnist's two parquet files, made from the first few real digits
    of each split, at /hub/; returns the arrays it serves."""
    pytest.importorskip("pyarrow")
    if not (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip(f"the gzipped MNIST files are not in {MNIST_DIR} (set MNIST_DIR)")
    sizes = {"train": 40, "test": 15}
    served, files = {}, {}
    for split, n in sizes.items():
        served[split] = tuple(a[:n] for a in read_split(MNIST_DIR, split))
        files[f"/hub/{split}-00000-of-00001.parquet"] = parquet_bytes(*served[split])
    server, url = serve(lambda path: (200, {}, files[path]) if path in files else (404, {}, b"Entry not found"))
    monkeypatch.setattr(data, "HUB_URL", url + "/hub/")
    monkeypatch.setattr(data, "HUB_SPLIT_SIZES", sizes)
    yield served
    server.shutdown()


def test_hub_is_the_last_source_and_gives_the_same_arrays(sources, mirror, hub):
    sources(mirror.url + "/missing/")
    train, test = load_mnist()
    assert (len(train), len(test)) == (40, 15)
    for split in ("train", "test"):
        images, labels = read_split(data.DEFAULT_CACHE / "MNIST" / "raw", split)
        np.testing.assert_array_equal(images, hub[split][0])
        np.testing.assert_array_equal(labels, hub[split][1])
    assert not [name for name in cached_files() if name.startswith(".")]  # no temporary files left


def test_hub_failures_are_plain_reasons_too(sources, mirror, hub, monkeypatch, stalled):
    sources(mirror.url + "/missing/")
    monkeypatch.setattr(data, "HUB_URL", mirror.url + "/missing/")
    assert "the Hugging Face Hub: HTTP 404" in failure()
    monkeypatch.setattr(data, "HUB_URL", mirror.url + "/page/")
    assert "the Hugging Face Hub: train-00000-of-00001.parquet is not readable" in failure()
    monkeypatch.setattr(data, "HUB_URL", stalled)
    assert "the Hugging Face Hub: no answer within 1 s" in failure()
