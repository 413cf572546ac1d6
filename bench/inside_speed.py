"""What the open "inside the network" section computes per stroke, p50 and p95 per part and in all: the probe, the
network's layers, the attribution maps (answer and runner-up), the nearest training digits, the rotation sweep
and the pictures. The drawing's plain reading (preprocessing and predict, which runs whether the section is
open or not) and Gradio's encoding of the pictures (its own encoder, as gr.Image calls it) are shown apart, as
is building the neighbour index; STROKE is all three, what a stroke costs the server.

    MNIST_DIR=... python bench/inside_speed.py [--checkpoint PATH] [--threads N] [--repeats N]
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from gradio.processing_utils import encode_pil_to_bytes

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from drawing import draw, sketchpad_value  # noqa: E402
from machine import cpu_name  # noqa: E402  (bench/machine.py)
from mnist_core.inside import activations, attribution  # noqa: E402
from mnist_core.inside_pictures import section_pictures  # noqa: E402
from mnist_core.inside_view import InsideView  # noqa: E402
from mnist_core.neighbours import nearest, neighbour_index  # noqa: E402
from mnist_core.probe import SWEEP_ANGLES, Probe, rotation_sweep, transform  # noqa: E402
from mnist_core.reader import load_model, predict  # noqa: E402

PARTS = ("probe", "network", "attribution", "neighbours", "sweep", "pictures")


def one_stroke(model, index, x28, probe: Probe) -> tuple[dict[str, float], dict[str, float], InsideView]:
    """inside_view.look_inside, step by step, then the pictures: each step's wall-clock time and this process's
    CPU time (ms). With one thread, the CPU time is about what the step takes on a core of its own."""
    ms, cpu = {}, {}
    t, c = time.perf_counter(), time.process_time()

    def lap(name):
        nonlocal t, c
        now, now_cpu = time.perf_counter(), time.process_time()
        ms[name], cpu[name] = (now - t) * 1000, (now_cpu - c) * 1000
        t, c = now, now_cpu

    pixels = transform(x28, probe.rotate, probe.scale, probe.dx, probe.dy, probe.thickness)
    lap("probe")
    layers = activations(model, pixels)
    lap("network")
    digits = layers.ranking[:2]
    maps = attribution(model, pixels, digits)
    lap("attribution")
    found = nearest(index, pixels, 8, hidden=layers.hidden)
    lap("neighbours")
    angles, sweep = rotation_sweep(model, x28, SWEEP_ANGLES, probe.scale, probe.dx, probe.dy, probe.thickness)
    lap("sweep")
    view = InsideView(probe, pixels, layers, digits, maps, found, angles, sweep)
    pictures = section_pictures(view)
    lap("pictures")
    return ms, cpu, pictures


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="default: the shipped model")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--repeats", type=int, default=100)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint)

    t0 = time.perf_counter()
    index = neighbour_index(model)
    build = time.perf_counter() - t0
    if index.message:
        print(f"no neighbour index: {index.message}")
    # Drawings of several digits and pen widths, under several slider settings: what a user's strokes would be.
    sketches = [sketchpad_value(draw(d, width=w)) for d in (0, 1, 2, 3, 4, 7) for w in (10, 18, 30)]
    probes = [Probe(), Probe(rotate=20), Probe(rotate=-35, scale=1.2, thickness=1), Probe(dx=3, dy=-2, thickness=-1)]
    readings = [predict(model, s) for s in sketches]

    for i in range(5):  # warm-up
        one_stroke(model, index, readings[i].pixels, probes[i % len(probes)])
    names = (*PARTS, "section", "reading", "encode png", "stroke")
    times, cpu_times = {name: [] for name in names}, {name: [] for name in names}
    for i in range(args.repeats):
        sketch = sketches[i % len(sketches)]
        t, c = time.perf_counter(), time.process_time()
        reading = predict(model, sketch)
        times["reading"].append((time.perf_counter() - t) * 1000)
        cpu_times["reading"].append((time.process_time() - c) * 1000)
        ms, cpu, pictures = one_stroke(model, index, reading.pixels, probes[i % len(probes)])
        for name in PARTS:
            times[name].append(ms[name])
            cpu_times[name].append(cpu[name])
        times["section"].append(sum(ms.values()))
        cpu_times["section"].append(sum(cpu.values()))
        t, c = time.perf_counter(), time.process_time()  # what Gradio does next with each picture (format="png")
        for picture in pictures.values():
            encode_pil_to_bytes(picture, "png")
        times["encode png"].append((time.perf_counter() - t) * 1000)
        cpu_times["encode png"].append((time.process_time() - c) * 1000)
        for figures in (times, cpu_times):  # the whole stroke: what the page waits for
            figures["stroke"].append(figures["reading"][-1] + figures["section"][-1] + figures["encode png"][-1])

    load = os.getloadavg()
    print(f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} threads; "
          f"load average {load[0]:.1f} / {load[1]:.1f} (1 / 5 min: other processes were sharing the CPU)")
    print(f"model {model.config}")
    print(f"neighbour index: {len(index):,} training digits, built in {build:.1f} s (once per model)")
    print(f"{args.repeats} strokes: {len(sketches)} drawings x {len(probes)} probe settings, ms per stroke")
    print(f"{'':>14} {'wall p50':>9} {'p95':>7} {'CPU p50':>8}")
    for name, label in [(n, n) for n in PARTS] + [("section", "SECTION total"), ("reading", "plain reading"),
                                                    ("encode png", "encode png"), ("stroke", "STROKE total")]:
        p50, p95 = np.percentile(times[name], [50, 95])
        print(f"{label:>14} {p50:9.1f} {p95:7.1f} {np.percentile(cpu_times[name], 50):8.1f}")
    for kind, figures in (("wall-clock", times), ("CPU", cpu_times)):
        stroke = np.percentile(figures["stroke"], 50)
        print(f"stroke {kind} p50 {stroke:.1f} ms: {'meets' if stroke <= 80 else 'MISSES'} the 80 ms target (the "
              f"plain reading, the section and Gradio's PNG encoding of its pictures; not the page's own drawing)")


if __name__ == "__main__":
    main()
