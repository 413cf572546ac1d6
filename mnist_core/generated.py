"""Generated training data beside MNIST: hand-drawn-style non-digits for outlier exposure, digits drawn
with the same pen and printed from matplotlib's fonts (mnist_core.synthetic draws all three), and MNIST training
digits photographed and scanned as mnist_core.realworld degrades them. Each image goes through the app's own
preprocessing, so the network trains on exactly what it will be shown; the results are cached on disk."""
import hashlib
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import torch

from . import realworld, synthetic
from .config import TrainConfig
from .data import DEFAULT_CACHE, Split, normalize, read_split, resolve_data_dir

CHUNK = 500  # images drawn and preprocessed per worker task
SEED = 0  # the generated sets are fixed, like MNIST itself: every run (whatever its seed) shares one cache
CALIBRATION_SEED = 2  # the drawn digits for calibration: streams that neither training (SEED) nor bench/readings.py draw


def _non_digit_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    seed, n = args
    return synthetic.to_inputs(synthetic.non_digits(n, seed, "train"))[0], np.zeros(0, np.int64)  # no labels


def _printed_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    seed, n = args
    images, labels = synthetic.printed_digits(n, seed, synthetic.training_fonts())
    pixels, kept = synthetic.to_inputs(images)
    return pixels, labels[kept]


def _drawn_chunk(args, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    seed, n = args
    images, labels = synthetic.drawn_digits(n, seed, split=split)
    pixels, kept = synthetic.to_inputs(images)
    return pixels, labels[kept]


def _photo_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits degraded by each of mnist_core.realworld's kinds in turn, and as many printed digits
    (matplotlib's fonts, not the system fonts the real-world sets print from) photographed."""
    seed, n, digits, labels = args
    rng = np.random.default_rng(seed)
    fonts = synthetic.training_fonts()
    kinds = [*realworld.MAKERS.values(), lambda digit, label, rng: realworld.printed_photo(int(label), rng, fonts)]
    images = [kinds[i % len(kinds)](digit, label, rng) for i, (digit, label) in enumerate(zip(digits, labels))]
    pixels, kept = synthetic.to_inputs(images)
    return pixels, labels[kept]


def _made(kind: str, count: int, seed: int, work, workers: int, source=None):
    """`count` images of a kind, drawn in chunks (one seed per chunk, so the images do not depend on the number
    of workers) by `workers` fresh processes, cached as an .npz. `source`: a function giving arrays whose rows
    are handed out with the chunks (the digits to degrade), called only when the cache lacks the set."""
    path = DEFAULT_CACHE / f"{kind}-{count}-{seed}-{source_version()}.npz"
    if path.is_file():
        with np.load(path) as f:
            return f["pixels"], f["labels"]
    rows = source() if source else ()
    tasks = [(seed * 100_003 + i, min(CHUNK, count - start), *(a[start : start + CHUNK] for a in rows))
             for i, start in enumerate(range(0, count, CHUNK))]
    if workers <= 1 or len(tasks) == 1:
        parts = [work(t) for t in tasks]
    else:  # spawned, not forked: a fork of a process running torch threads can hang
        with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(work, tasks))
    pixels, labels = np.concatenate([p for p, _ in parts]), np.concatenate([y for _, y in parts])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, pixels=pixels, labels=labels)
        os.replace(tmp, path)
    except OSError:  # a read-only home: generate again next time
        pass
    return pixels, labels


def source_version() -> str:
    """A fingerprint of the code that makes the images (this module's choices, the drawing, the degradations and
    the preprocessing): a cache made by other code is not reused."""
    from . import preprocess

    digest = hashlib.sha1()
    for module in (sys.modules[__name__], synthetic, realworld, preprocess):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:10]


def as_inputs(pixels: np.ndarray) -> torch.Tensor:
    """(N, 28, 28) 0..1 -> the network's normalized (N, 1, 28, 28)."""
    return normalize(torch.from_numpy(pixels).float()).unsqueeze(1)


def photo_sources(config: TrainConfig, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST training digits to photograph: config.photo_digits picks (uint8 (n, 28, 28), labels), never
    from the last config.validation images, which are held out. Like the other generated sets, a fixed set
    whatever config.train_subset is."""
    images, labels = read_split(resolve_data_dir(data_dir), "train")
    usable = len(images) - config.validation
    picks = np.random.default_rng(SEED).choice(usable, config.photo_digits, replace=config.photo_digits > usable)
    return images[picks], labels[picks]


def training_extras(config: TrainConfig, workers: int = 1, data_dir=None) -> tuple[Split | None, torch.Tensor | None]:
    """(printed, drawn and photographed digits to train on, non-digits for outlier exposure) as the config asks;
    None for each it does not. The same images for every run (SEED), so a run is repeatable and the cache is
    shared. The photographed digits come from MNIST's training files (data_dir, else as mnist_core.data finds
    them). workers > 1 draws them in that many processes (for the command line; a server keeps to its own process)."""
    extra = non_digits = None
    made = [_made(kind, count, SEED, work, workers) for kind, count, work in
            (("printed-digits", config.printed_digits, _printed_chunk), ("drawn-digits", config.drawn_digits, _drawn_chunk))
            if count]
    if config.photo_digits:
        made.append(_made(f"photo-digits-v{config.validation}", config.photo_digits, SEED, _photo_chunk, workers,
                          lambda: photo_sources(config, data_dir)))  # MNIST's files read only on a cache miss
    if made:
        extra = Split(as_inputs(np.concatenate([p for p, _ in made])), torch.from_numpy(np.concatenate([y for _, y in made])))
    if config.non_digits and config.outlier_weight > 0:
        non_digits = as_inputs(non_digit_pixels(config.non_digits, workers))
    return extra, non_digits


def non_digit_pixels(count: int, workers: int = 1) -> np.ndarray:
    """The first `count` generated non-digits for outlier exposure (synthetic's "train" split, preprocessed):
    (count, 28, 28) float32 0..1, white ink on black, as MNIST's digits are."""
    return _made("non-digits", count, SEED, _non_digit_chunk, workers)[0]


def calibration_digits(config: TrainConfig, workers: int = 1) -> Split | None:
    """config.calibration_drawn drawn digits in every style (mnist_core.synthetic's "eval" split, from streams of
    their own), to fit the temperature on beside the validation split; None when the config asks for none."""
    if not config.calibration_drawn:
        return None
    pixels, labels = _made("calibration-digits", config.calibration_drawn, CALIBRATION_SEED,
                           partial(_drawn_chunk, split="eval"), workers)  # every style: not trained on, only calibrated
    return Split(as_inputs(pixels), torch.from_numpy(labels))
