"""Peak memory of the real server reading a batch of huge uploads, and preprocess time on a noisy 2048² photo.

    python bench/upload_memory.py [--files 10] [--side 6300] [--data-dir DIR]

1. Writes `--files` PNGs of side x side pixels (RGB, white paper with one large drawn digit; about
   131 KB each at 6300x6300) into a temporary folder.
2. Starts `python app.py` as a subprocess (GRADIO_SERVER_PORT = a free port, MNIST_DIR set,
   CHECKPOINT_DIR = a temporary folder) and waits until it answers.
3. Sends all the files in ONE request to the Upload tab's handler (app.read_uploads) through the
   server, the way the browser does: POST /gradio_api/upload with the files, then
   POST /gradio_api/queue/join with the handler's fn_index and the uploaded paths, then reads the
   event stream /gradio_api/queue/data until the result arrives. (The handler is
   api_visibility="private", so gradio_client refuses to call it; the browser's own protocol is used
   instead, over plain HTTP with httpx, against the real server process.)
4. Prints the server's peak resident memory: VmHWM from /proc/<server pid>/status, once when the
   server is up and idle, and again after the request (VmHWM is the high-water mark since the
   process started, so the second figure is the peak of start-up and request together).
5. Prints the p50 of preprocess() on a 2048x2048 noisy photo (bench/isolate_speed.noisy_photo), over
   10 runs in this process.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "tests")]
from drawing import STROKES  # noqa: E402


def big_png(path: Path, side: int, digit: int):
    """An RGB PNG, white with one digit drawn in thick black strokes across most of it."""
    img = Image.new("RGB", (side, side), "white")
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = side * 0.25, side * 0.15, side * 0.75, side * 0.85
    width = max(1, side // 30)
    for line in STROKES[digit]:
        d.line([(x0 + x * (x1 - x0), y0 + y * (y1 - y0)) for x, y in line], fill="black", width=width, joint="curve")
    img.save(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm(pid: int, key: str) -> int:
    """A /proc/<pid>/status figure (VmHWM, VmRSS) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    raise KeyError(key)


def upload_event(config: dict) -> tuple[int, int]:
    """The fn_index of the event that reads the Upload tab's files (component elem_id "upload"), and how many inputs
    it takes (the files first; the page's model choice and screen width after them, sent as None: the defaults)."""
    upload_id = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "upload")
    for i, dep in enumerate(config["dependencies"]):
        if [upload_id, "change"] in [list(t) for t in dep["targets"]] and upload_id in dep["inputs"]:
            return dep.get("id", i), len(dep["inputs"])
    raise RuntimeError("no change event on the upload component in /config")


def read_uploads_over_http(url: str, paths: list[Path]) -> list:
    with httpx.Client(base_url=url, timeout=600) as http:
        fn_index, inputs = upload_event(http.get("/config").json())
        handles = [("files", (p.name, p.open("rb"), "image/png")) for p in paths]
        uploaded = http.post("/gradio_api/upload", files=handles).json()
        for _, (_, f, _) in handles:
            f.close()
        files = [{"path": u, "orig_name": p.name, "meta": {"_type": "gradio.FileData"}} for u, p in zip(uploaded, paths)]
        session = uuid.uuid4().hex[:11]
        joined = http.post("/gradio_api/queue/join", json={
            "data": [files] + [None] * (inputs - 1), "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None})
        joined.raise_for_status()
        with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    if not msg.get("success"):
                        raise RuntimeError(f"the handler failed: {msg.get('output')}")
                    return msg["output"]["data"]
    raise RuntimeError("the event stream ended without a result")


def photo_time(repeats=10) -> float:
    from isolate_speed import noisy_photo
    from mnist_core.preprocess import preprocess

    photo = noisy_photo()
    preprocess(photo)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        preprocess(photo)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--side", type=int, default=6300)
    p.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", str(ROOT.parent / "shared" / "data" / "mnist")))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        digits = sorted(STROKES)
        paths = []
        for i in range(args.files):
            paths.append(tmp / f"big{i:02d}.png")
            big_png(paths[-1], args.side, digits[i % len(digits)])
        sizes = [p.stat().st_size // 1024 for p in paths]
        print(f"{len(paths)} PNGs of {args.side}x{args.side} (RGB), {min(sizes)}-{max(sizes)} KB each")
        port = free_port()
        env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1", MNIST_DIR=args.data_dir,
                   CHECKPOINT_DIR=str(tmp / "checkpoints"), GRADIO_ANALYTICS_ENABLED="False")
        server = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):
                if server.poll() is not None:
                    raise RuntimeError(f"the server exited: {server.stderr.read().decode()[-2000:]}")
                try:
                    if httpx.get(f"{url}/config", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            else:
                raise RuntimeError("the server did not answer within 120 s")
            idle_rss, idle_hwm = vm(server.pid, "VmRSS"), vm(server.pid, "VmHWM")
            print(f"server up and idle: RSS {idle_rss} MB, peak so far (VmHWM) {idle_hwm} MB")
            t0 = time.perf_counter()
            _, _, summary = read_uploads_over_http(url, paths)
            took = time.perf_counter() - t0
            lines = summary.splitlines()
            print(f"one request with {len(paths)} files: {took:.1f} s; {len(lines)} lines of summary, e.g. {lines[0]!r}")
            print(f"server peak resident memory (VmHWM): {vm(server.pid, 'VmHWM')} MB "
                  f"(RSS now {vm(server.pid, 'VmRSS')} MB)")
        finally:
            server.terminate()
            server.wait(30)
    print(f"preprocess, 2048x2048 noisy photo: p50 {photo_time():.0f} ms (10 runs, this process)")


if __name__ == "__main__":
    main()
