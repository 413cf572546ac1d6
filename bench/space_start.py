"""Start the app as a fresh Hugging Face Space would, and check it answers.

    python bench/space_start.py [--python ~/.pyenv/versions/3.12.1/bin/python3] [--venv DIR]

1. A new virtual environment, installed the way a Gradio Space builds: gradio at the README's sdk_version first,
   then requirements.txt (each step timed; pip's cache makes a second run much faster than the first).
2. `python app.py` in it, with GRADIO_SERVER_NAME=0.0.0.0 and a free port as Spaces set them, no MNIST_DIR, HOME an
   empty folder (no cached MNIST), and MNIST_MIRRORS a closed local port, so a download fails at once.
3. Over HTTP with gradio_client: /predict on examples/mnist_test_0000_label_7.png must answer 7; the MCP
   server's tool list (/gradio_api/mcp/schema) must hold predict.
4. In the same environment, load_mnist() must fail fast with the plain download sentence.
5. The server's log must hold no traceback and no error line; its memory (VmRSS, VmHWM from /proc) is printed.
Exit status 0 when every check passes.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mnist_test_0000_label_7.png"


def sdk_version() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return str(yaml.safe_load(re.match(r"---\n(.*?)\n---\n", text, re.S).group(1))["sdk_version"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(command: list[str], log: Path) -> float:
    """Run command, its output appended to log; seconds taken. Stops the bench if it fails."""
    start = time.monotonic()
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
    if code:
        sys.exit(f"failed ({code}): {' '.join(command)}\n{log.read_text()[-3000:]}")
    return time.monotonic() - start


def memory(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = value.strip()
    return fields


def wait_until_up(url: str, server: subprocess.Popen, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server.poll() is not None:
            return -1
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            time.sleep(0.5)
    return -1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python", default=str(Path.home() / ".pyenv/versions/3.12.1/bin/python3"),
                   help="the interpreter of the new environment (a Space's python_version)")
    p.add_argument("--venv", help="where to build it (default: a temporary folder, removed after)")
    p.add_argument("--startup-timeout", type=float, default=240, help="seconds to wait for the server")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="space-start-"))
    venv = Path(args.venv) if args.venv else work / "venv"
    home = work / "home"  # empty: no ~/.cache/mnist_core, no Hugging Face cache
    home.mkdir()
    pip_log, server_log = work / "pip.log", work / "server.log"
    python = venv / "bin" / "python"
    failures = []
    server = None
    try:
        version = sdk_version()
        print(f"interpreter: {args.python}; gradio {version} (sdk_version), then requirements.txt; logs in {work}")
        create = timed([args.python, "-m", "venv", str(venv)], pip_log)
        gradio = timed([str(python), "-m", "pip", "install", f"gradio=={version}"], pip_log)
        requirements = timed([str(python), "-m", "pip", "install", "-r", str(ROOT / "requirements.txt")], pip_log)
        print(f"install: venv {create:.1f} s, gradio {gradio:.1f} s, requirements.txt {requirements:.1f} s, "
              f"total {create + gradio + requirements:.1f} s")

        port, closed = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MNIST_DIR", "XDG_CACHE_HOME", "VIRTUAL_ENV")}
        env.update(HOME=str(home), GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT=str(port),
                   GRADIO_ANALYTICS_ENABLED="False", MNIST_MIRRORS=f"http://127.0.0.1:{closed}/",
                   PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
        with open(server_log, "w") as out:
            server = subprocess.Popen([str(python), "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        up = wait_until_up(url, server, args.startup_timeout)
        if up < 0:
            failures.append(f"the server did not come up (exit code {server.poll()})")
        else:
            print(f"server up after {up:.1f} s on 0.0.0.0:{port}")
            from gradio_client import Client, handle_file

            start = time.monotonic()
            client = Client(url, verbose=False)
            result = client.predict(handle_file(str(EXAMPLE)), api_name="/predict")
            client.close()
            took = time.monotonic() - start
            top = result["confidences"][0]
            print(f"/predict {EXAMPLE.name}: {result['label']} ({top['confidence']:.1%}), {took:.2f} s with connecting")
            if result["label"] != "7":
                failures.append(f"/predict read {result['label']!r}, not '7'")
            try:  # the MCP server: /predict is a tool there
                with urllib.request.urlopen(url + "gradio_api/mcp/schema", timeout=10) as response:
                    schema = response.read().decode()
                print(f"MCP tool list: {'has' if 'predict' in schema else 'LACKS'} predict")
                if "predict" not in schema:
                    failures.append("the MCP schema does not list predict")
            except OSError as e:
                failures.append(f"no MCP schema ({e})")
            mem = memory(server.pid)
            print(f"server memory: VmRSS {mem.get('VmRSS')}, VmHWM (peak) {mem.get('VmHWM')}")

        start = time.monotonic()
        check = subprocess.run([str(python), "-c", "from mnist_core.data import load_mnist; load_mnist()"], cwd=ROOT,
                               env=env, capture_output=True, text=True, timeout=120)
        took = time.monotonic() - start
        last = (check.stderr.strip().splitlines() or [""])[-1]
        print(f"load_mnist() with no MNIST_DIR and no source: {took:.1f} s: {last}")
        if check.returncode == 0 or not re.search(r"MnistDownloadError: MNIST could not be downloaded \(.*\)\. Set "
                                                  r"MNIST_DIR .*, or try again later\.$", last) or "<" in last:
            failures.append("load_mnist() did not end in the plain download sentence")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
    log = server_log.read_text() if server_log.exists() else ""
    if "Traceback" in log:
        failures.append("the server log has a traceback")
    errors = [line for line in log.splitlines() if "Error" in line]
    if errors:  # gradio reports some failures, such as a missing MCP package, in one line without a traceback
        failures.append(f"the server log reports errors: {errors}")
    print("server log:\n" + "\n".join("  " + line for line in log.strip().splitlines()[-15:]))
    if failures:
        print("FAILED: " + "; ".join(failures) + f" (logs kept in {work})")
        sys.exit(1)
    print("all checks passed")
    shutil.rmtree(work, ignore_errors=True)  # and the environment with it, unless --venv put it elsewhere


if __name__ == "__main__":
    main()
