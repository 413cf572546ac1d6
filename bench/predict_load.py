"""/predict latency over HTTP: 10 concurrent gradio_client clients, 50 calls, with and without a training run.

The server is `python app.py` in its own process, as users run it; the clients run in this one.
    python bench/predict_load.py --data-dir ../shared/data/mnist
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from drawing import draw  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DIR)")
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--calls", type=int, default=50)
    args = p.parse_args()
    from gradio_client import Client, handle_file

    work = Path(tempfile.mkdtemp())
    port = free_port()
    env = dict(os.environ, CHECKPOINT_DIR=str(work), GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    if args.data_dir:
        env["MNIST_DIR"] = str(Path(args.data_dir).resolve())
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                probe = Client(url, verbose=False)
                break
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.5)
        else:
            sys.exit(f"the server did not start on {url}")
        images = []
        for digit in (0, 1, 2, 3, 4, 7):
            images.append(work / f"{digit}.png")
            draw(digit).save(images[-1])
        clients = [Client(url, verbose=False) for _ in range(args.clients)]
        per_client = args.calls // args.clients

        def calls(i):
            times = []
            for k in range(per_client):
                t0 = time.perf_counter()
                clients[i].predict(handle_file(str(images[(i + k) % len(images)])), api_name="/predict")
                times.append(time.perf_counter() - t0)
            return times

        def measure():
            with ThreadPoolExecutor(args.clients) as pool:
                return np.array([t for ts in pool.map(calls, range(args.clients)) for t in ts]) * 1000

        calls(0)  # warm-up
        rows = [("idle server", measure())]
        started = probe.predict(20, 128, 0.003, True, 0, api_name="/train")  # 20 epochs: far longer than the calls
        print(started)
        if not started.startswith("▶️"):
            sys.exit(f"no training run: {started}")
        time.sleep(5)  # past loading the data: the run is training
        rows.append(("training run in progress", measure()))
        stopped = probe.predict(api_name="/stop")
        print(stopped)
        if not stopped.startswith("stopping"):
            sys.exit(f"the training run ended before the calls did ({stopped}): that row is not valid")
        print(f"\n{args.calls} /predict calls from {args.clients} concurrent clients; server and clients on one "
              f"machine, CPU ({os.cpu_count()} cores)")
        print("| server | p50 | p95 | max |\n|---|---|---|---|")
        for name, ms in rows:
            print(f"| {name} | {np.percentile(ms, 50):.0f} ms | {np.percentile(ms, 95):.0f} ms | {ms.max():.0f} ms |")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
