"""Read the digit in each image file from the command line (the work is done by mnist_core.reader).

    python -m mnist_core.predict FILE... [--checkpoint PATH] [--number]

--number reads every digit in each image, left to right (mnist_core.numbers.read_number).

Kept apart from reader.py so that running it as __main__ does not run a module the package already imported.
"""
import argparse
import sys

from .checkpoint import CheckpointError
from .line_reader import LineReaderError, shipped_line_reader
from .numbers import Number, read_number
from .preprocess import ImageError
from .reader import Prediction, load_model, predict


def describe(prediction: Prediction) -> str:
    if prediction.probs is None:
        return prediction.message
    top = "  ".join(f"{d}:{p:.3f}" for d, p in enumerate(prediction.probs))
    note = f"  ({prediction.message})" if prediction.message else ""
    return f"digit {prediction.digit} ({prediction.probs.max():.1%})  [{top}]{note}"


def describe_number(number: Number) -> str:
    if not number.digits:
        return number.message
    digits = "  ".join("?" if p.digit is None else f"{p.digit}:{p.probs.max():.0%}" for p in number.digits)
    note = f"  ({number.message})" if number.message else ""
    return f"number {number.text}  [{digits}]{note}"


def main(argv=None):
    p = argparse.ArgumentParser(description="Read the digit in each image file.")
    p.add_argument("files", nargs="+", help="image files: PNG, JPEG, BMP, GIF, WebP, ...")
    p.add_argument("--checkpoint", help="checkpoint file (default: the shipped model)")
    p.add_argument("--number", action="store_true", help="read every digit in each image, left to right")
    args = p.parse_args(argv)
    try:
        model = load_model(args.checkpoint)
        if args.number:
            shipped_line_reader()
    except (CheckpointError, LineReaderError) as e:
        p.error(str(e))
    failed = 0
    for name in args.files:
        try:
            reading = read_number(model, name) if args.number else predict(model, name)
            print(f"{name}: {describe_number(reading) if args.number else describe(reading)}")
        except ImageError as e:
            print(f"{name}: error: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
