"""predict() latency for one drawn digit, preprocessing included (p50, p95), the Draw tab's whole handler
(app.read_sketch), and throughput in batches.

The drawings are what the Draw pad sends, ink on white at its size (app.PAD,
600x240; --pad 280 280 for the square pad of earlier versions), a digit 9/14 of its height tall, centred.

    python bench/predict_speed.py [--checkpoint PATH] [--threads N] [--repeats N] [--pad W H]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from app import PAD, read_sketch  # noqa: E402
from drawing import draw, sketchpad_value  # noqa: E402
from machine import cpu_name  # noqa: E402  (bench/machine.py)
from mnist_core.data import normalize  # noqa: E402
from mnist_core.reader import load_model, predict, read  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeats", type=int, default=300)
    p.add_argument("--pad", type=int, nargs=2, default=PAD, metavar=("W", "H"), help="the pad's size in pixels")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)
    (w, h), tall = args.pad, round(args.pad[1] * 9 / 14)  # a digit 9/14 of the pad tall, 7/9 as wide, centred:
    wide = round(tall * 7 / 9)  # on the 280x280 pad, the box (70, 50, 210, 230) this bench always drew in
    box = ((w - wide) // 2, (h - tall) // 2, (w + wide) // 2, (h + tall) // 2)
    sketches = [sketchpad_value(draw(d, size=(w, h), box=box, width=s)) for d in (0, 1, 2, 3, 4, 7) for s in (10, 18, 30)]
    for s in sketches[:10]:
        predict(model, s)  # warm-up
    times = []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        predict(model, sketches[i % len(sketches)])
        times.append(time.perf_counter() - t0)
    p50, p95 = np.percentile(np.array(times) * 1000, [50, 95])
    print(f"{cpu_name()}, {args.threads} threads, torch {torch.__version__}")
    print(f"one {w}x{h} Sketchpad drawing, preprocessing included: p50 {p50:.2f} ms, p95 {p95:.2f} ms "
          f"({args.repeats} calls)")
    handler = []  # what the Draw tab runs on each stroke: predict, and the checks for a number (with the app's
    # own model, the shipped one, whatever --checkpoint says)
    for i in range(args.repeats):
        t0 = time.perf_counter()
        read_sketch(sketches[i % len(sketches)])
        handler.append(time.perf_counter() - t0)
    print(f"  the Draw tab's handler (app.read_sketch: predict and the checks for a number; the app's model): "
          f"p50 {np.percentile(np.array(handler) * 1000, 50):.2f} ms")
    parts = {"preprocessing alone (reader.read)": [], "network alone, one 28x28": []}
    with torch.inference_mode():
        for i in range(args.repeats):  # the same drawings, each part timed by itself
            t0 = time.perf_counter()
            pixels = read(sketches[i % len(sketches)]).pixels
            t1 = time.perf_counter()
            model(normalize(torch.from_numpy(pixels)[None, None]).contiguous(memory_format=torch.channels_last))
            parts["preprocessing alone (reader.read)"].append(t1 - t0)
            parts["network alone, one 28x28"].append(time.perf_counter() - t1)
    for name, ts in parts.items():
        print(f"  of which {name}: p50 {np.percentile(np.array(ts) * 1000, 50):.2f} ms")
    for batch in (16, 128):
        images = [sketches[i % len(sketches)] for i in range(batch)]
        t0 = time.perf_counter()
        rounds = 5
        for _ in range(rounds):
            predict(model, images)
        rate = batch * rounds / (time.perf_counter() - t0)
        print(f"batches of {batch}: {rate:,.0f} drawings/s, preprocessing included")
    with torch.no_grad():
        x = torch.randn(1000, 1, 28, 28)
        model(x[:10])
        t0 = time.perf_counter()
        model(x)
        print(f"network alone, one batch of 1000 prepared 28x28 inputs: {1000 / (time.perf_counter() - t0):,.0f} images/s")


if __name__ == "__main__":
    main()
