"""The web app: draw a digit, upload images, train with live plots, and look at the data and the model's mistakes.

A thin shell over mnist_core. Shared state lives in MODELS (the server's models and its default) and JOB (the one
training run); each page keeps its own model choice in a gr.State.
    python app.py          # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT honoured)
"""
import atexit
import os
import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageOps
from scipy import ndimage

from mnist_core.checkpoint import SHIPPED, CheckpointError
from mnist_core.config import TrainConfig
from mnist_core.job import FINISHED, Start, State, TrainingJob
from mnist_core.data import MnistDataError, to_uint8
from mnist_core.evaluation import examine
from mnist_core.inside_pictures import section_pictures
from mnist_core.inside_view import look_inside
from mnist_core.model import Ensemble, count_parameters
from mnist_core.neighbours import index_when_ready
from mnist_core.line_reader import LineReaderError
from mnist_core.numbers import read_number
from mnist_core.probe import LIMITS, Probe
from mnist_core.pictures import (CARD, RIGHT, WRONG, confusion_figure, enlarge, framed, message_card, number_picture,
                                 probability_card, sheet)
from mnist_core.reader import Prediction, open_image
from mnist_core.preprocess import ImageError
from mnist_core.registry import ModelRegistry
from mnist_core.remote import gpu_seconds, train_plain

try:  # Hugging Face's ZeroGPU: a GPU exists only inside @spaces.GPU calls. Elsewhere the decorator does nothing.
    import spaces
except ImportError:
    spaces = None
ZERO_GPU = spaces is not None and os.getenv("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def train_in_gpu_worker(config: dict, data_dir: str | None):
    """train_plain, any failure turned into a gr.Error: ZeroGPU passes those back whole, others by class name."""
    try:
        yield from train_plain(config, data_dir)
    except Exception as e:  # noqa: BLE001 - reported to the visitor in the Train tab
        raise gr.Error(f"{type(e).__name__}: {e}", print_exception=False) from None


# Decorated at import, where ZeroGPU looks for @spaces.GPU functions; the duration asked for follows the settings.
GPU_TRAIN = spaces.GPU(duration=gpu_seconds)(train_in_gpu_worker) if ZERO_GPU else None


def train_on_zero_gpu(config: dict):
    """The run inside one @spaces.GPU call, charged to the visitor who pressed Start; refusals in plain words."""
    try:
        yield from GPU_TRAIN(config, os.getenv("MNIST_DIR"))
    except gr.Error as e:  # no quota left, a duration over the visitor's cap, a queue timeout, a failed run
        raise RuntimeError(f"ZeroGPU: {e.message}") from None


if os.getenv("CPU_CORES"):  # a Space's share of the host's cores, not the host's count
    torch.set_num_threads(max(1, int(float(os.environ["CPU_CORES"]))))
MODELS = ModelRegistry(os.getenv("CHECKPOINT_DIR"))
JOB = TrainingJob(  # the MNIST folder comes from $MNIST_DIR, read by mnist_core.data
    MODELS,
    allow_training=os.getenv("MNIST_ALLOW_TRAINING", "1").lower() not in ("0", "false", "no", "off"),
    remote=train_on_zero_gpu if ZERO_GPU else None,
)
EXAMPLES = sorted(str(p) for p in (Path(__file__).parent / "examples").glob("*.png"))
PAD = (600, 240)  # the Draw pad, in pixels: wide enough for a number, one digit drawn about as tall as before
DRAW_HINT = ("Draw a digit (0-9) on the white pad, or a number, digits side by side. The reading updates after "
             "every stroke.")
UNSURE = 0.5  # below this top probability the hint says the reading is a guess
CURVE_TYPES = {"iteration": "int64", "metric": "str", "value": "float64"}  # History rows, typed even when empty


# Words for people ------------------------------------------------------------------------------

def plain(message: str) -> str:
    """A library's name out of a message a visitor reads."""
    return message.replace("an image Pillow can read", "an image this app can read").replace("Pillow", "the image reader")


def page_model(choice):
    """The checkpoint a page reads with: the one it chose, else the server's default."""
    try:
        return MODELS.get(choice or None)
    except CheckpointError:  # the chosen file is gone or broken: the default reads, and the header says so
        return MODELS.get(None)


# Draw and Upload -------------------------------------------------------------------------------

def read_sketch(sketch, choice=None):
    """Sketchpad value -> (probabilities for gr.Label, greyed when refused; what the network saw; a line in words;
    the 28x28 for the inside section; the number's picture, shown only for several digits). A drawing of several
    digits reads as a whole number, with the bars for its largest digit; one digit reads as a plain prediction.
    One mark much wider than tall may be digits that touch: it reads as a number when several digits are found in
    it, each SURE_NUMBER sure, else as one mark."""
    try:
        checkpoint = page_model(choice)
        prediction = MODELS.predict(sketch, checkpoint.path)
        ink = sketch_ink(sketch)  # once per drawing, for every question below
        several = maybe_several(ink, prediction)
        number = read_number(checkpoint.model, sketch) if several or is_wide(ink) else None
    except (ImageError, CheckpointError, LineReaderError) as e:
        return gr.Label({}, elem_classes=[]), None, f"Cannot read it: {plain(str(e))}", None, gr.update(visible=False)
    picture = gr.update(value=None, visible=False)
    if number is not None and len(number.digits) > 1 and (several or sure_number(number)):
        largest = max(range(len(number.digits)), key=lambda i: box_area(number.boxes[i]))
        prediction, line = number.digits[largest], number_line(number, largest)
        picture = gr.update(value=number_view(sketch["composite"], number),
                            visible=True)  # gr.update: see inside_section
    else:
        line = reading(prediction, ink)
    refused = prediction.probs is not None and prediction.digit is None
    return gr.Label(prediction.as_label(), elem_classes=["refused"] if refused else [], show_heading=not refused), \
        enlarge(prediction.pixels) if prediction.pixels is not None else None, line, prediction.pixels, picture


SURE_NUMBER = 0.9  # one wide mark reads as a number only if every digit in it is this sure: the line reader never
# saw a non-digit in training, and reads a wide doodle as digits, but seldom as surely as digits that touch


def sure_number(number) -> bool:
    return all(p.digit is not None and p.probs.max() >= SURE_NUMBER for p in number.digits)


def bounds(boxes) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) that holds all the boxes."""
    x0, y0 = (min(b[i] for b in boxes) for i in (0, 1))
    x1, y1 = (max(b[i] for b in boxes) for i in (2, 3))
    return x0, y0, x1, y1


def spans_wide(boxes) -> bool:
    """Whether boxes together are more than WIDE times as wide as they are tall, as is_wide asks of a drawing's ink."""
    x0, y0, x1, y1 = bounds(boxes)
    return x1 - x0 > WIDE * (y1 - y0)


def apart(boxes) -> bool:
    """Whether each box ends before the next begins: digits that stand apart, not digits that touch."""
    return all(a[2] <= b[0] for a, b in zip(boxes, boxes[1:]))


def number_view(image, number, width: int = 560):
    """The drawing or photo (a PIL image or an array, as read_number got it), cut to the number and shown `width`
    pixels wide, with each digit's box and label, and a card per digit: its 28x28 and its top probabilities."""
    labels = ["?" if p.digit is None else str(p.digit) for p in number.digits]
    cards = [enlarge(p.pixels if p.pixels is not None else np.zeros((28, 28), np.float32), 4) for p in number.digits]
    drawing = viewable(image)
    x0, y0, x1, y1 = bounds(number.boxes)
    pad = max(12, (y1 - y0) // 4)  # the number with paper around it for the labels, not the whole pad
    x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(drawing.width, x1 + pad), min(drawing.height, y1 + pad)
    boxes = [(a - x0, b - y0, c - x0, d - y0) for a, b, c, d in number.boxes]
    return number_picture(drawing.crop((x0, y0, x1, y1)), boxes, labels, cards, [top_two(p) for p in number.digits],
                          width)


def viewable(image) -> Image.Image:
    """An image as a person sees it, in RGB: turned as its EXIF says, transparent parts on white paper, 16-bit and
    float pictures stretched to 8 bits."""
    image = ImageOps.exif_transpose(image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image)))
    if image.mode in ("I", "I;16", "F"):
        a = np.asarray(image, np.float32)
        low, high = float(a.min()), float(a.max())
        image = Image.fromarray(((a - low) / max(high - low, 1e-6) * 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", image.size, "white"), image).convert("RGB")
    return image.convert("RGB")


def top_two(prediction: Prediction) -> str:
    """The two likeliest digits and their probabilities, "7: 98% · 1: 2%"; "not a digit" first when refused."""
    best = np.argsort(prediction.probs)[::-1][:2]
    words = " · ".join(f"{d}: {100 * prediction.probs[d]:.0f}%" for d in best)
    return f"not a digit: {words}" if prediction.digit is None else words


SPECK = 0.02  # a stretch of ink holding less than this share of the drawing's ink is a speck, not a mark


def maybe_several(ink, prediction) -> bool:
    """Whether a drawing holds several marks side by side, so read_number is worth its extra work: predict found
    several marks, or the ink falls into column stretches with paper between them. One digit costs one predict,
    as before (a mark that is no digit is never cut into digit-like pieces)."""
    if prediction.probs is None:
        return False
    return prediction.several_marks or len(ink_stretches(ink)) > 1


WIDE = 1.2  # ink this many times wider than tall may be several digits that touch: one digit seldom is


def sketch_ink(sketch) -> np.ndarray | None:
    """Which pixels of a Sketchpad value are ink (darker than mid-gray), or None for none or another kind of image."""
    composite = sketch.get("composite") if isinstance(sketch, dict) else None
    if composite is None:
        return None
    ink = np.asarray(composite)
    return (ink if ink.ndim == 2 else ink[..., :3].mean(axis=2)) < 128


def is_wide(ink, ratio: float = WIDE) -> bool:
    """Whether a drawing's ink (sketch_ink) is more than `ratio` times as wide as it is tall."""
    if ink is None:
        return False
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return rows.size > 0 and cols[-1] - cols[0] + 1 > ratio * (rows[-1] - rows[0] + 1)


def ink_stretches(ink) -> list[tuple[int, int]]:
    """The (first, last + 1) columns of each stretch of a drawing's ink (sketch_ink) with blank columns either
    side, specks left out; [] for none."""
    if ink is None:
        return []
    per_column = ink.sum(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], per_column > 0, [0]]).astype(np.int8)))
    stretches = list(zip(edges[::2], edges[1::2]))
    total = per_column.sum()
    return [(a, b) for a, b in stretches if per_column[a:b].sum() >= SPECK * total]


def box_area(box) -> int:
    x0, y0, x1, y1 = box
    return (x1 - x0) * (y1 - y0)


def number_line(number, shown: int) -> str:
    """The line for a drawing of several digits: the number, which digit the bars show, what a "?" means."""
    note = " A ? is a piece that does not look like a digit." if "?" in number.text else ""
    return (f"Read as **{number.text}**: {len(number.digits)} digits. The bars show the largest, "
            f"the {ordinal(shown + 1)} from the left.{note}")


def ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}.get(n, f"{n}th")


def reading(prediction, ink) -> str:
    """The line above the bars: what was read and how sure, or why nothing was (one place for new kinds of answer)."""
    if prediction.probs is None:
        message = prediction.message
        if "blank" in message or "empty" in message:
            return DRAW_HINT
        if "only a dot" in message and ink_shape(ink)[0] >= BLOB_SIDE:
            return ("Too small to read: the strokes run together into a blob. Draw it larger, or pick a thinner "
                    "brush (Brush Size, in the pad's tools).")
        return f"{message.capitalize()}. Draw the whole digit."
    fat = too_fat(ink)
    if prediction.digit is None:  # read, but refused (for example "not a digit"): the bars still show
        line = f"{prediction.message[:1].upper()}{prediction.message[1:]}"
        if fat:
            return (f"{line}. If it is one, its strokes are very thick for its size: draw it larger, or pick a "
                    "thinner brush (Brush Size).")
        return f"{line}.{touching_tip(prediction, ink)}"
    note = f" ({prediction.message})" if prediction.message else ""
    top = float(prediction.probs.max())
    if fat:
        note += (", but the strokes are very thick for its size, so this may be wrong. Draw it larger, or pick a "
                 "thinner brush (Brush Size)")
    elif top < UNSURE:
        note += f", but only {100 * top:.0f}% sure: is it a digit? Try it larger and clearer"
        return f"Read as **{prediction.digit}**{note}.{touching_tip(prediction, ink)}"
    return f"Read as **{prediction.digit}**{note}."


SQUAT = 0.8  # one mark this wide for its height, refused or doubted, may be two digits that touch (a 1 against a 2)
TIP_BELIEF = 0.18  # ... when the network sees some digit in it (a star's readings are all near 10%; 6.6% of 423
# squat, refused evaluation doodles on the pad reach this with the two-network model, 3.3% reach 0.25)
TOUCHING_TIP = " If it is digits that touch, leave a little gap between them."


def touching_tip(prediction, ink) -> str:
    """TOUCHING_TIP for one mark at least SQUAT times as wide as tall, with a top probability of at least
    TIP_BELIEF, else "". The line reader is not trusted with marks that squat (it would read many doodles as
    numbers): a gap lets each digit be read by itself."""
    one_mark = not prediction.several_marks
    return TOUCHING_TIP if one_mark and prediction.probs.max() >= TIP_BELIEF and is_wide(ink, SQUAT) else ""


BLOB_SIDE = 24  # pad pixels (PAD): a mark this wide is a drawing, even when it reads as "only a dot"
FAT = 0.22  # stroke width over the digit's longer side above which strokes merge (MNIST's: about 0.12)


def too_fat(ink) -> bool:
    """Whether a drawing's strokes are so thick for its size that they run together (a small digit drawn with
    a wide brush): the network then sees a blob, and may read it wrong or not as a digit at all."""
    side, width = ink_shape(ink)
    return bool(side) and width > FAT * side


def ink_shape(ink) -> tuple[int, float]:
    """The longer side of a drawing's ink (sketch_ink) and its typical stroke width, in pad pixels ((0, 0) for
    none). Across a stroke the distance to its edge averages a quarter of its width."""
    if ink is None:
        return 0, 0.0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return 0, 0.0
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return max(ink.shape), float(4 * ndimage.distance_transform_edt(np.pad(ink, 1))[1:-1, 1:-1][ink].mean())


# Inside the network (the Draw tab's section) -------------------------------------------------------

MAX_STAGES = 4  # picture slots for convolution stages: a 28x28 input halves to nothing after 4
PROBE_NAMES = ("rotate", "scale", "dx", "dy", "thickness")  # the sliders, in Probe's order
BUILDING = "Building the index of 60,000 training digits… the look-alikes appear when it is ready."
CAPTIONS = {  # one line per picture, in plain words; the pictures' own titles give the shapes
    "input": "What the network reads: your drawing shrunk to 28×28 pixels",
    "stage1": "First layer: small filters that light up on edges and stroke ends",
    "stage": "Next layer: combines the patterns before into curves, corners and loops",
    "hidden": "A summary of the drawing in numbers",
    "outputs": "Ten scores, turned into probabilities",
    "why": "Which pixels made it choose this digit, and not the runner-up",
    "neighbours": "Training digits the network finds most alike",
    "sweep": "How its answer changes as the drawing turns",
}
PICTURE_NAMES = ("input", *(f"stage{i + 1}" for i in range(MAX_STAGES)), "hidden", "outputs", "why", "neighbours",
                 "sweep")


@atexit.register
def finish_index_builds(timeout: float = 120.0):
    """At exit, wait for a neighbour index still being built: torch aborts the process (exit code 134) when its
    thread is cut off mid-batch."""
    for thread in threading.enumerate():
        if thread.name == "neighbour-index":
            thread.join(timeout)


def caption(name: str) -> str:
    return CAPTIONS.get(name) or CAPTIONS["stage"]


def inside_section(pixels, choice, is_open, rotate=0.0, scale=1.0, dx=0.0, dy=0.0, thickness=0):
    """The section's pictures for the current drawing's 28x28 under the sliders' probe, a status line, and the
    timer that looks again while the neighbour index is building. Closed: nothing is computed or changed.
    No drawing: the section empties."""
    if not is_open:
        return [gr.skip()] * (2 * len(PICTURE_NAMES) + 2)
    if pixels is None:
        return [gr.update(value=None) for _ in PICTURE_NAMES] + [gr.skip() for _ in PICTURE_NAMES] + \
            ["Draw a digit to see inside the network.", gr.Timer(active=False)]
    model = page_model(choice).model
    index = index_when_ready(model)
    probe = Probe(float(rotate), float(scale), float(dx), float(dy), int(thickness))
    pictures = section_pictures(look_inside(model, np.asarray(pixels, np.float32), probe=probe, index=index))
    status = BUILDING if index is None else index.message
    if isinstance(model, Ensemble):
        views = f", each over the drawing and {len(model.views)} turned or zoomed copies" if model.views else ""
        status = (f"This model is {len(model.members)} networks whose scores are averaged{views}: the layers and "
                  "look-alikes shown are the first network's, reading the drawing as it is; the scores, "
                  "probabilities and heat maps are the whole model's." +
                  ("\n\n" + status if status else ""))
    if not probe.neutral:
        status = (status + "\n\n" if status else "") + ("The sliders change the drawing: this is not the reading "
                                                        "above. Back to your drawing gives it again.")
    # gr.update, not gr.Image(value=...): a component built with a value encodes it at once in Gradio's default
    # format (WebP, about 100 ms for the section), which is then thrown away and encoded again as PNG
    images = [gr.update(value=pictures.get(n), visible=n in pictures) for n in PICTURE_NAMES]
    images += [gr.update(visible=n in pictures) for n in PICTURE_NAMES]
    return images + [status, gr.Timer(active=index is None)]


MAX_FILES = 64  # files read per upload request; the summary says how many more were left unread


def read_uploads(files, choice=None, screen=None):
    """Uploaded files -> one picture with a card per file, the probabilities of the first file read as one digit,
    and a list in words. Files are opened, read and dropped one at a time (a request holds one decoded image,
    shrunk to at most 2048 px, never all of them); at most MAX_FILES.
    A file of one digit gets a card with its 28x28 view and bars. Every file is also read whole, as a number, and
    shown as one (the image with each digit's box, a card per digit, "read as 42") as the Draw tab shows a drawing:
    when it holds several marks and two or more read as digits, or when its digits, each read SURE_NUMBER sure, stand
    apart or span a mark more than WIDE times as wide as tall (digits that touch). A squatter mark refused as one
    digit that reads as such a number gets it as a hint."""
    if not files:
        return None, {}, "Upload one or more images: PNG, JPEG, BMP, GIF or WebP."
    files = [files] if isinstance(files, str) else files
    try:
        checkpoint = page_model(choice)
    except CheckpointError as e:
        return None, {}, f"Cannot read: {e}"
    cards, captions, first = [], [], {}
    for path in files[:MAX_FILES]:
        name = Path(path).name
        try:
            image = open_image(path)
            prediction = MODELS.predict(image, checkpoint.path)
        except ImageError as e:
            cards.append(message_card(plain(str(e))))
            captions.append(f"{plain(str(e))}")
            continue
        number, note = None, ""
        try:
            number = read_number(checkpoint.model, image)
        except LineReaderError as e:  # the one-digit reading stands
            note = f" (not read as a number: {plain(str(e))})"
        several = number is not None and len(number.digits) > 1
        whole = several and (sure_number(number) and (spans_wide(number.boxes) or apart(number.boxes))
                             or prediction.several_marks and sum(d.digit is not None for d in number.digits) > 1)
        # predict may find nothing where read_number finds a number: in a big noisy photo, one thin digit of several
        # holds too little of the image's pixels for predict's noise gate
        if prediction.probs is None and not whole:
            cards.append(message_card(f"{name}: {prediction.message}"))
            captions.append(f"{name}: {prediction.message}")
            continue
        if several and not whole and prediction.digit is None and sure_number(number):
            note += f". If these are digits that touch, they read as {number.text}."
        cards.append(number_view(image, number, width=CARD[0]) if whole
                     else probability_card(prediction.pixels, prediction.probs))
        if whole:
            captions.append(f"{name}: read as {number.text}, {len(number.digits)} digits"
                            + (f"; {number.message}" if number.message else ""))
        elif prediction.digit is None:  # read, but refused: the bars show why
            captions.append(f"{name}: {prediction.message}{note}")
        else:
            captions.append(f"{name}: {prediction.digit} ({prediction.probs.max():.1%})"
                            + (f", {prediction.message}" if prediction.message else "") + note)
        if prediction.digit is not None and not whole:  # a number's digits have their own bars on its card
            first = first or prediction.as_label()
    picture = sheet(cards, captions, columns=min(1 if narrow(screen) else 2, len(cards)))
    summary = "\n".join(f"- {c}" for c in captions)
    if len(files) > MAX_FILES:
        summary += (f"\n\nOnly the first {MAX_FILES} of {len(files)} files were read; the other "
                    f"{len(files) - MAX_FILES} were not. Upload them in another batch.")
    return picture, first, summary


def show_uploads(files, choice=None, screen=None):
    """read_uploads for the page: the bars' panel is hidden when no file reads as one digit (all numbers or none)."""
    picture, first, summary = read_uploads(files, choice, screen)
    return picture, gr.Label(first, visible=bool(first)), summary


def predict_image(path: str) -> dict:
    """Read the handwritten digit (0-9) in an image: a drawing, a photo or a scan of one digit.

    Runs a small CNN trained on MNIST, on the CPU, with the server's default model. Any size, colours and
    polarity; the digit is found, cropped and centred first.

    Args:
        path: the image file (PNG, JPEG, BMP, GIF or WebP) holding one handwritten digit.

    Returns:
        Always the same three keys: {"label": the digit read as a string, or null when there is nothing to
        read; "confidences": [{"label": digit, "confidence": probability}, ...] for all ten digits, most likely
        first, or [] when there is nothing to read; "message": "" or why (for example "nothing to read: the
        image is blank")}.
    """
    if path is None:
        raise gr.Error("no image given", print_exception=False)
    try:
        prediction = MODELS.predict(open_image(path))
    except (ImageError, CheckpointError) as e:
        raise gr.Error(plain(str(e)), print_exception=False) from None  # a refusal, not a bug: no traceback
    return {"label": None if prediction.digit is None else str(prediction.digit),
            "confidences": ranked(prediction), "message": prediction.message}


def ranked(prediction) -> list[dict]:
    """[{"label": digit, "confidence": probability}, ...] for all ten digits, most likely first ([] for none)."""
    return [{"label": d, "confidence": p} for d, p in sorted(prediction.as_label().items(), key=lambda kv: -kv[1])]


def read_number_image(path: str) -> dict:
    """Read every handwritten digit in an image, left to right: a number drawn, photographed or scanned.

    Runs the server's default digit network, and a line reader where digits touch, on the CPU. Digits drawn in
    several strokes are grouped; digits that touch are split.

    Args:
        path: the image file (PNG, JPEG, BMP, GIF or WebP) holding a number, or a single digit.

    Returns:
        {"text": the digits read as a string ("?" for a mark that is not a digit, "" when nothing is read);
        "digits": one entry per digit, left to right: {"label": the digit as a string or null when refused,
        "confidence": its probability, "confidences": [{"label", "confidence"}, ...] for all ten, most likely
        first, "box": [x0, y0, x1, y1] in the image's pixels, "message": "" or a remark}; "message": "" or why
        (for example "nothing to read: the image is blank")}.
    """
    if path is None:
        raise gr.Error("no image given", print_exception=False)
    try:
        number = read_number(MODELS.model(), path)
    except (ImageError, CheckpointError, LineReaderError) as e:
        raise gr.Error(plain(str(e)), print_exception=False) from None
    digits = []
    for prediction, box in zip(number.digits, number.boxes):
        confidences = ranked(prediction)
        digits.append({"label": None if prediction.digit is None else str(prediction.digit),
                       "confidence": confidences[0]["confidence"], "confidences": confidences,
                       "box": [int(v) for v in box], "message": prediction.message})
    return {"text": number.text, "digits": digits, "message": number.message}


# Train -------------------------------------------------------------------------------------------

def start_training(epochs, batch_size, lr, augment, seed, request: gr.Request = None):
    try:
        config = TrainConfig(epochs=as_int(epochs), batch_size=as_int(batch_size), lr=float(lr),
                             augment=bool(augment), seed=as_int(seed))
    except (TypeError, ValueError) as e:
        gr.Warning(f"Not started: {e}")
        return f"Not started: {e}"
    owner = getattr(request, "session_hash", "") or ""
    started, message = JOB.start(config, owner=owner)  # on ZeroGPU this returns when the run has ended
    if started is not Start.STARTED:
        gr.Warning(message)  # a toast: the status line is about to show the run in progress
        return f"Not started: {message}"
    return f"Training started: {JOB.run.state.value}…" if JOB.running() else training_status()


def as_int(value):
    """A whole number from a UI or API value; 2.0 is fine, 2.5 and "two" are not."""
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(number)


def stop_training():
    return JOB.stop()


HELD_OUT_ROWS = ("validation accuracy", "test accuracy")  # the first of these a run has is its held-out curve


def training_status(choice=None) -> str:
    """The run in one line that moves every second, and how it ended in words for this page."""
    run = JOB.run
    if not JOB.allow_training:
        return "Training is switched off on this server (MNIST_ALLOW_TRAINING=0). Draw and Upload still work."
    if run is None:
        return "No training run yet. Pick settings and press Start."
    now = time.monotonic()
    ev = run.last
    if ev is None:
        if run.state in FINISHED:
            return f"**{run.state.value.capitalize()}.**" + ending(run, choice)
        return f"**{STAGES.get(run.state, run.state.value)}…** {now - run.started_at:.0f} s · {run.device}"
    waited = now - run.last_at if run.state is State.TRAINING else 0.0
    per_step = ev.elapsed / max(ev.iteration, 1)  # evaluations included, so the estimate counts them
    left = max(per_step * (ev.total_iterations - ev.iteration) - waited, 0)
    evaluating = run.state is State.TRAINING and waited > 2 and next_is_evaluation(run, ev)
    head = {State.TRAINING: "Evaluating on held-out digits" if evaluating else "Training",
            State.DONE: "Done", State.STOPPED: "Stopped", State.FAILED: "Failed", State.SAVING: "Saving",
            State.LOADING: "Loading data", State.GENERATING: "Making training images", State.STARTING: "Starting"}[run.state]
    held = next((f"{'held-out' if m.startswith('validation') else 'test'} accuracy {100 * v:.2f}%" for m in HELD_OUT_ROWS
                 for _, name, v in reversed(run.history.rows) if name == m), None)
    parts = [f"**{head}**", f"epoch {ev.epoch:.2f} of {run.config.epochs}",
             f"step {ev.iteration:,} of {ev.total_iterations:,}", f"{ev.images_per_sec:,.0f} images/s"]
    if run.state is State.TRAINING:
        parts.append(f"about {left:.0f} s left")
    parts += [f"{ev.elapsed + waited:.0f} s elapsed"] + ([held] if held else []) + [f"{run.device}, {ev.precision}"]
    return " · ".join(parts) + ending(run, choice)


STAGES = {  # what a run does before its first event, in the order it does it
    State.LOADING: "1 of 3: loading the 70,000 MNIST digits",
    State.GENERATING: "2 of 3: making drawn, printed and photographed digits and non-digit drawings to train on (slow only the first time)",
    State.STARTING: "3 of 3: setting up the network and taking the first steps",
}


def next_is_evaluation(run, ev) -> bool:
    """Whether the engine is past the last event and into an evaluation (at eval_every steps and each epoch's end)."""
    steps_per_epoch = max(round(ev.total_iterations / run.config.epochs), 1)
    upcoming = range(ev.iteration + 1, ev.iteration + run.config.log_every + 1)
    return any(i % run.config.eval_every == 0 or i % steps_per_epoch == 0 for i in upcoming)


def ending(run, choice) -> str:
    """How a finished run's model relates to this page: the one it reads with, or one it can pick."""
    if run.state is not State.DONE or run.saved is None:
        return f"\n\n{run.message}" if run.message and run.state in FINISHED else ""
    test = run.last.test_acc if run.last and run.last.test_acc is not None else None
    scored = f" (test accuracy {100 * test:.2f}%)" if test is not None else ""
    default = (" It scored better on held-out digits than the previous default, so new visitors get it too."
               if run.made_default else " The server's default model stays as it was.")
    mine = page_model(choice).path.name == run.saved.name
    use = " This page reads with it now." if mine else " Pick it from the model list to read with it."
    return f"\n\nSaved **{run.saved.name}**{scored}.{use}{default}"


def curves():
    """The current run's rows as two frames (loss; train and held-out accuracy) against step, and the step count.

    None while there are no rows: a LinePlot first given an empty frame never draws its lines. The held-out
    accuracy is measured now and then; it is drawn as a step line, each value held until the next
    measurement and the last one up to the latest step, so the line shows from the first evaluation on."""
    run = JOB.run
    rows = list(run.history.rows) if run else []
    if not rows:
        return None, None, None
    latest = rows[-1][0]
    held_name = next((m for m in HELD_OUT_ROWS if any(name == m for _, name, _ in rows)), None)
    held = [(i, v) for i, name, v in rows if name == held_name]
    steps = []
    for k, (i, v) in enumerate(held):
        steps += [(i, "held-out accuracy", v), (held[k + 1][0] if k + 1 < len(held) else latest, "held-out accuracy", v)]
    train_rows = [r for r in rows if r[1] in ("train loss", "train accuracy")]
    # A plot fixes its legend on the first frame it draws, so both accuracy lines are there from the start
    # (NaN: no point drawn until the first evaluation).
    padding = [] if steps else [(0, "held-out accuracy", float("nan"))]
    frame = pd.DataFrame(train_rows + steps + padding, columns=list(CURVE_TYPES)).astype(CURVE_TYPES)
    total = run.last.total_iterations if run.last else None
    return frame[frame.metric == "train loss"], frame[frame.metric != "train loss"], total


BUSY_POLL, IDLE_POLL = 1.0, 5.0  # seconds between a page's polls while a run is going, and while none is


def poll(seen, choice, request: gr.Request = None):
    """Every page polls, whatever tab it shows: each second during a run, every 5 s otherwise. It always gets
    the status line; the plots only when the run changed; the model list only when the server's list or
    default changed; the header only when this page's model changed (so an open dropdown stays put). A page
    that started the run that just finished takes its model as its own."""
    run = JOB.run
    seen_run, seen_list, seen_model, adopted = seen or (None, None, None, 0)
    if (run is not None and run.saved is not None and run.owner and adopted != JOB.runs_started
            and run.owner == getattr(request, "session_hash", None)):
        choice, adopted = run.saved.name, JOB.runs_started
    run_key = (JOB.runs_started, len(run.history.rows) if run else 0, run.state if run else None)
    if run_key != seen_run:
        loss, accuracy, total = curves()
        x_lim = [0, total] if total else None
        top = float(loss.value.max()) * 1.05 if loss is not None and len(loss) else None  # the first, highest point shows
        loss = gr.LinePlot(loss, x_lim=x_lim, y_lim=[0, top] if top else [0, None])
        accuracy = gr.LinePlot(accuracy, x_lim=x_lim)
    else:
        loss, accuracy = gr.skip(), gr.skip()
    checkpoint = page_model_or_none(choice)
    model_key = (str(checkpoint.path), checkpoint.created) if checkpoint else None
    models = model_choices(choice) if (MODELS.version, model_key) != seen_list else gr.skip()
    changed = model_key != seen_model
    line, card = (gr.Accordion(label=model_line(choice)), model_details(choice)) if changed else (gr.skip(), gr.skip())
    timer = gr.Timer(BUSY_POLL if JOB.running() else IDLE_POLL)
    return (loss, accuracy, training_status(choice), models, line, card, timer,
            (run_key, (MODELS.version, model_key), model_key, adopted), choice)


def page_model_or_none(choice):
    try:
        return page_model(choice)
    except CheckpointError:
        return None


# Models and Explore ------------------------------------------------------------------------------

def accuracy_of(checkpoint_or_metrics) -> str:
    metrics = getattr(checkpoint_or_metrics, "metrics", checkpoint_or_metrics)
    acc = metrics.get("test_acc")
    return f"{100 * acc:.2f}%" if isinstance(acc, (int, float)) else "accuracy unknown"


def model_choices(choice=None):
    """The server's models, labelled with their test accuracy; this page's model selected."""
    labels = []
    default = MODELS.default.path.name if MODELS.default else None
    for path in MODELS.checkpoints():
        acc = accuracy_of(MODELS.describe(path))
        tags = ["shipped"] if path.name == "mnist_cnn.safetensors" and path.parent == SHIPPED.parent else []
        tags += ["server default"] if path.name == default else []
        labels.append((f"{path.name} · {acc}" + (f" ({', '.join(tags)})" if tags else ""), path.name))
    current = page_model_or_none(choice)
    return gr.Dropdown(choices=labels, value=current.path.name if current else None)


def choose_model(name, choice=None):
    """A page picks a model: only its own reading changes; the server's default and other pages stay."""
    try:
        checkpoint = MODELS.get(name) if name else None
    except CheckpointError as e:
        gr.Warning(str(e))
        return choice, gr.Accordion(label=model_line(choice)), model_details(choice)
    choice = checkpoint.path.name if checkpoint else None
    return choice, gr.Accordion(label=model_line(choice)), model_details(choice)


def model_line(choice=None) -> str:
    """The header's short line (plain text: an Accordion's label): this page's model and its test accuracy."""
    c = page_model_or_none(choice)
    if c is None:
        return "No model loaded: train one in the Train tab (details here)"
    return f"Model: {c.path.name} · test {accuracy_of(c)}"


def model_details(choice=None) -> str:
    c = page_model_or_none(choice)
    if c is None:
        return f"No model could be loaded: {MODELS.problem}."
    t = c.train_config
    trained_in = c.metrics.get("precision")  # of the training, and of the test figure it recorded
    precision = f", {trained_in}" if trained_in else ""
    measured = (f" (measured in {trained_in} as trained; Explore checks it in float32)"
                if trained_in not in (None, "float32") else "")
    val = c.metrics.get("val_acc")
    val = f" · accuracy {100 * val:.2f}% on the 5,000 held-out training digits" if isinstance(val, (int, float)) else ""
    warning = f"\n\nNote: {MODELS.problem}" if MODELS.problem else ""
    whose = ("the server's default" if MODELS.default is not None and c.path == MODELS.default.path
             else "this page's choice; other pages keep theirs")
    return (f"`{c.path.name}` ({whose}): test accuracy **{accuracy_of(c)}**{measured} on the 10,000 MNIST test "
            f"digits{val} · "
            f"{count_parameters(c.model):,} parameters · trained {c.created[:16].replace('T', ' ')} UTC on {c.device}"
            f"{precision} · {t.epochs} epoch{'s' * (t.epochs > 1)}, batch {t.batch_size}, lr {t.lr:g}, augmentation "
            f"{'on' if t.augment else 'off'}, {seeds(c)} · layers {c.model_config.channels} × "
            f"{c.model_config.convs_per_stage}{warning}")


def seeds(c) -> str:
    """"seed 0", or for an ensemble how many networks it averages and their seeds."""
    members = c.metrics.get("members") or []
    if not members:
        return f"seed {c.train_config.seed}"
    return f"{len(members)} networks averaged, seeds {', '.join(str(m.get('seed', '?')) for m in members)}"


def active_model_card(choice=None) -> str:
    """The header line and the details (as older callers read them)."""
    return model_line(choice) + "\n\n" + model_details(choice)

def mnist():
    """(train, test) splits, or a message on the page when the MNIST files cannot be had: a failed download's
    sentences whole, a broken file's error after "MNIST is not available". The toast renders its text as
    sanitized HTML, so these messages hold no angle brackets; 30 s to read them."""
    from mnist_core.data import MnistDownloadError

    try:
        return JOB.data()
    except MnistDataError as e:
        message = str(e) if isinstance(e, MnistDownloadError) else f"MNIST is not available: {e}"
        raise gr.Error(message, duration=30, print_exception=False) from None


def random_training_digits(screen=None):
    count, columns = (24, 4) if narrow(screen) else (48, 12)
    train_set, _ = mnist()
    idx = np.random.default_rng().choice(len(train_set), count, replace=False)
    images = to_uint8(train_set.images[idx])
    return sheet([enlarge(img, 3) for img in images], [f"label {train_set.labels[i].item()}" for i in idx], columns=columns)


EXAMINED = {}  # (checkpoint path, created) -> examine() result: computed once per checkpoint


def examined(checkpoint, test_set):
    key = (str(checkpoint.path), checkpoint.created)
    if key not in EXAMINED:
        EXAMINED[key] = examine(checkpoint.model, test_set)
    return EXAMINED[key]


def check_model(choice=None, screen=None):
    """Test digits with this page's model's predictions (mistakes marked), its mistakes, and the confusion matrix."""
    c = page_model_or_none(choice)
    if c is None:
        raise gr.Error("No model is loaded: train one first.", print_exception=False)
    _, test_set = mnist()
    result = examined(c, test_set)
    predicted, confidence, confusion = result.predicted, result.confidence, result.confusion
    labels = test_set.labels.numpy()
    rng = np.random.default_rng()
    sample = rng.choice(len(labels), 36, replace=False)
    wrong = np.flatnonzero(predicted != labels)
    shown_wrong = wrong[np.argsort(-confidence[wrong])][:36]  # the most confident mistakes first

    def shown(indices, columns):
        right = [predicted[i] == labels[i] for i in indices]
        captions = [f"{predicted[i]} ({confidence[i]:.0%})" if ok else f"read {predicted[i]}, is {labels[i]}"
                    for i, ok in zip(indices, right)]
        images = to_uint8(test_set.images[indices])  # only the digits shown, not all 10,000
        return sheet([framed(img, ok, 3) for img, ok in zip(images, right)], captions, columns,
                     caption_size=12, colours=[RIGHT if ok else WRONG for ok in right])

    per_class = pd.DataFrame({"digit": [str(d) for d in range(10)], "accuracy": result.per_class})
    summary = (f"`{c.path.name}`: **{result.accuracy:.2%}** of the 10,000 test digits read right; "
               f"**{len(wrong)} mistakes**, shown below from the most confident.")
    columns = 4 if narrow(screen) else 12
    return (shown(sample, columns), shown(shown_wrong, columns),
            confusion_figure(confusion, f"Confusion matrix: {len(wrong)} mistakes in 10,000"), per_class, summary)


# Layout ----------------------------------------------------------------------------------------

# Clicks the Brush whenever the Sketchpad shows no active tool (on load and after Clear), and after Clear puts the
# pad back at the zoom it opened with (Gradio's Clear resets it to 100%, smaller or larger than the box).
PAGE_JS = """() => {
  let refit = false;
  document.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('#sketch button[aria-label="Clear canvas"]')) refit = true;
  }, true);
  setInterval(() => {
    const pad = document.querySelector('#sketch'); if (!pad) return;
    const brush = pad.querySelector('button[aria-label="Brush"]');
    if (brush && pad.innerText.toLowerCase().includes('select the draw tool')) brush.click();
    if (!refit) return;
    const fit = [...pad.querySelectorAll('button')].find(b => b.innerText.trim() === 'Fit to screen');
    if (fit) { fit.click(); refit = false; return; }
    const zoom = [...pad.querySelectorAll('span[role="button"]')].find(s => /%$/.test(s.innerText.trim()));
    if (zoom) zoom.click();  // opens the zoom menu; the next tick picks "Fit to screen"
  }, 300);
}"""

# An event's inputs with the last one replaced by the page's width, so server pictures can fit a phone's screen.
WITH_SCREEN = "(...args) => [...args.slice(0, -1), window.innerWidth]"


def narrow(screen) -> bool:
    """Whether the page is phone-sized: pictures then use fewer, larger columns instead of shrinking."""
    return isinstance(screen, (int, float)) and 0 < screen < 700


# The pad is all paper. Gradio fits its white sheet PAD_BORDER px inside the drawing surface, with a border of page
# colour around it where a stroke begun is lost (on the light theme it looks like more paper). So the surface
# reaches PAD_BORDER px past the pad's box on every side, that band clipped, and the box keeps the sheet's shape:
# the sheet fills the box at any width (Gradio fits it again whenever the surface is resized). The box is at most
# PAD[0] px wide: the zoom-out button stops at the smaller of the fit and 100%, so a sheet fitted above 100% could
# be shrunk inside its box, and the border would come back. The pad's tools go in a strip above it, not on the paper.
# Written against gradio 6.31.0 (pinned): its zoom tool's border_padding and the editor's class names
# (.pixi-target, .toolbar-wrap, .half-container, .top-panel) in templates/frontend/assets/Index-*.js.
PAD_BORDER = 30
TOOL_STRIP = 36  # px above the pad for its tools
PAD_CSS = f"""
#sketch {{ height: auto !important; aspect-ratio: {PAD[0]} / {PAD[1]}; max-width: {PAD[0]}px;
  margin-top: {TOOL_STRIP}px; outline: 1px solid var(--border-color-primary); }}
#sketch .pixi-target, #sketch .pixi-target-crop {{ inset: -{PAD_BORDER}px !important; width: auto !important;
  height: auto !important; clip-path: inset({PAD_BORDER}px); }}
#sketch .toolbar-wrap {{ top: -{TOOL_STRIP}px !important; left: 0 !important; right: auto !important;
  flex-direction: row !important; width: auto !important; height: auto !important; }}
#sketch .toolbar-wrap .half-container {{ flex-direction: row !important; width: auto !important;
  height: auto !important; gap: 2px; padding: 0 2px; }}
#sketch .top-panel {{ top: -{TOOL_STRIP - 2}px !important; left: auto !important; right: 0 !important; }}
"""

# Phone first: a short header, the pad and the reading on the first screen.
CSS = PAD_CSS + """
#model-line .label-wrap { font-weight: 600; text-align: left; }
#sketch button[aria-label='Color'] { display: none; }  /* one colour: black */
#hint p { margin: 0; min-height: 1.5em; }
#probs h2 { margin-top: 0; margin-bottom: 4px; }
#probs.refused { filter: grayscale(1); opacity: 0.55; }  /* "not a digit": the bars stay, greyed */
.icon-button-wrapper:empty { display: none; }  /* an image with no buttons: no stray speck in its corner */
.inside-caption p { margin: 8px 0 2px 0; }
@media (max-width: 640px) {
  #title h1 { font-size: 1.25rem !important; margin: 0 !important; }
  #subtitle { display: none !important; }
  #model-line .label-wrap { font-size: 0.85rem; }
  #seen-row { order: 5; }  /* the 28x28 view one short scroll down, the bars first */
  #draw-notes { order: 6; }
  #probs h2 { display: none; }  /* the top answer is in the line above the bars */
  #probs { padding: 6px 10px !important; }
}
"""

with gr.Blocks(title="Handwritten digit recognizer", delete_cache=(1800, 3600)) as demo:
    # Uploads and pictures Gradio keeps on disk: every 30 minutes, those older than an hour are deleted.
    gr.Markdown("# Handwritten digit recognizer", elem_id="title")
    gr.Markdown("Draw or upload a digit (0-9), or a number of several: a small neural network trained on MNIST reads "
                "it and shows how sure it is of each digit.", elem_id="subtitle")
    with gr.Accordion(model_line(), open=False, elem_id="model-line") as model_box:  # its label: the short line
        models = gr.Dropdown(label="This page reads with", elem_id="models", interactive=True,
                             info="Your choice, for this page only: other visitors keep theirs.")
        model_card = gr.Markdown(model_details(), elem_id="model-card")
    choice = gr.State()  # this page's model (a file name), None: the server's default
    seen = gr.State()
    drawn = gr.State()  # the current drawing's 28x28 (Prediction.pixels), which the inside section reads
    screen = gr.Number(visible=False)  # the page's width in CSS pixels, filled in by WITH_SCREEN: pictures fit phones
    timer = gr.Timer(IDLE_POLL)  # outside the tabs: every open page follows the run and the models, on any tab
    with gr.Tabs():
        with gr.Tab("Draw"):
            with gr.Row(equal_height=False):
                with gr.Column(min_width=480):  # the wrapper keeps the canvas inside its box (see docs/gradio6 notes);
                    # under about 1000 px the reading goes below the pad, which keeps the page's width
                    sketch = gr.Sketchpad(
                        elem_id="sketch", label="Draw a digit", show_label=False, canvas_size=PAD,
                        image_mode="L", layers=False,  # its height: the CSS gives the box the pad's shape
                        brush=gr.Brush(default_size=10, colors=["#000000"], color_mode="fixed"),
                    )
                with gr.Column(min_width=300, elem_id="reading"):
                    hint = gr.Markdown(DRAW_HINT, elem_id="hint")
                    with gr.Row(equal_height=False, elem_id="seen-row"):  # below the bars on a phone (CSS)
                        network_view = gr.Image(elem_id="seen", height=112, width=112, interactive=False, buttons=[],
                                                show_label=False, scale=0, min_width=112, container=False)
                        gr.Markdown("<small>What the network sees: your drawing as a 28×28 MNIST-style input."
                                    "</small>", elem_id="seen-title", min_width=150)
                    number_picture_view = gr.Image(elem_id="number", type="pil", format="png", interactive=False,
                                                   buttons=[], show_label=False, container=False, visible=False)
                    probs = gr.Label(num_top_classes=10, show_label=False, elem_id="probs")
                    gr.Markdown("<small>A small digit? Brush Size, in the pad's tools, draws thinner strokes.</small>",
                                elem_id="draw-notes")
                    with gr.Accordion("Inside the network", open=False, elem_id="inside") as inside_box:
                        gr.Markdown("<small>How the network reads your drawing, layer by layer, why it chose that "
                                    "digit, and what would change its mind. The sliders change the drawing.</small>")
                        with gr.Row():
                            sliders = [gr.Slider(*LIMITS["rotate"], value=0, step=1, label="Turn (°)", min_width=120),
                                       gr.Slider(*LIMITS["scale"], value=1, step=0.05, label="Size", min_width=120),
                                       gr.Slider(*LIMITS["dx"], value=0, step=1, label="Shift →", min_width=120),
                                       gr.Slider(*LIMITS["dy"], value=0, step=1, label="Shift ↓", min_width=120),
                                       gr.Slider(*LIMITS["thickness"], value=0, step=1, label="Thickness",
                                                 min_width=120)]
                        neutral = gr.Button("Back to your drawing", size="sm", elem_id="inside-neutral")
                        inside_status = gr.Markdown(elem_id="inside-status")
                        inside_captions, inside_images = [], []
                        for n in PICTURE_NAMES:
                            shown = not n.startswith("stage") or n in ("stage1", "stage2", "stage3")
                            inside_captions.append(gr.Markdown(f"**{caption(n)}**", elem_id=f"inside-{n}-caption",
                                                               elem_classes="inside-caption", visible=shown))
                            inside_images.append(gr.Image(type="pil", format="png", interactive=False, buttons=[],
                                                          show_label=False, container=False, elem_id=f"inside-{n}",
                                                          visible=shown))
                    inside_open = gr.State(False)  # whether this page has the section open: only then it computes
                    inside_timer = gr.Timer(2.0, active=False)  # looks again while the neighbour index builds
        with gr.Tab("Upload"):
            with gr.Row(equal_height=False):
                with gr.Column(min_width=300):
                    files = gr.File(label="Images (one or many)", file_count="multiple", file_types=["image"],
                                    elem_id="upload")
                    example = gr.Image(type="filepath", visible=False)
                    if EXAMPLES:
                        gr.Examples(EXAMPLES, inputs=example, label="Or try a real MNIST test digit",
                                    examples_per_page=10, elem_id="upload-examples")
                    upload_summary = gr.Markdown(elem_id="upload-summary")
                with gr.Column(min_width=300):
                    upload_probs = gr.Label(num_top_classes=10, label="First file of one digit", elem_id="upload-probs")
            gr.Markdown("**Each file**: what the network saw, and its probabilities")
            upload_cards = gr.Image(type="pil", interactive=False, show_label=False, elem_id="upload-cards",
                                    buttons=[])  # a button there covers the first card's words
        with gr.Tab("Train"):
            with gr.Row():
                epochs = gr.Slider(1, 20, value=TrainConfig.epochs, step=1, label="Epochs")
                batch_size = gr.Dropdown([32, 64, 128, 256, 512], value=TrainConfig.batch_size, label="Batch size")
                lr = gr.Number(TrainConfig.lr, label="Peak learning rate")  # bounds: TrainConfig, named in its message
                augment = gr.Checkbox(TrainConfig.augment, label="Augmentation (rotate, zoom, shear, shift)")
                seed = gr.Number(TrainConfig.seed, label="Seed", precision=0)
            with gr.Row():
                start_btn = gr.Button("Start training", variant="primary", elem_id="start",
                                      interactive=JOB.allow_training)
                stop_btn = gr.Button("Stop", variant="stop", elem_id="stop")
            status = gr.Markdown(training_status(), elem_id="train-status")
            with gr.Row():
                loss_plot = gr.LinePlot(x="iteration", y="value", color="metric", title="Training loss", y_lim=[0, None],
                                        x_title="step", y_title="loss", elem_id="loss-plot", height=300)
                acc_plot = gr.LinePlot(x="iteration", y="value", color="metric", title="Accuracy", y_lim=[0.8, 1.0],
                                       x_title="step", y_title="accuracy", elem_id="acc-plot", height=300)
            gr.Markdown("<small>Training loss: cross-entropy on the digits (with label smoothing) plus the term that "
                        "keeps non-digits unsure, so with the defaults it cannot go below about 1.65 "
                        "while accuracy climbs. "
                        "Held-out accuracy: digits kept out of training, measured every "
                        f"{TrainConfig.eval_every} steps and at each epoch's end; each value holds until the next. "
                        "The finished model goes to the model list; it becomes the server's default only if it "
                        "scores better on held-out digits.</small>")
        with gr.Tab("Explore"):
            gr.Markdown("### The data\nRandom digits from the 60,000 training images, with their labels.")
            show_digits = gr.Button("Show random training digits")
            train_gallery = gr.Image(type="pil", interactive=False, show_label=False, elem_id="train-digits",
                                     buttons=["fullscreen"])
            gr.Markdown("### Checking the network\nThis page's model on the 10,000 test digits.")
            check_btn = gr.Button("Check this page's model", variant="primary")
            check_summary = gr.Markdown(elem_id="check-summary")
            gr.Markdown("**Random test digits** with the model's reading: green = right, red = mistake")
            test_gallery = gr.Image(type="pil", interactive=False, show_label=False, buttons=["fullscreen"],
                                    elem_id="test-digits")
            with gr.Row():
                confusion_plot = gr.Plot(show_label=False, elem_id="confusion")
                per_class_plot = gr.BarPlot(x="digit", y="accuracy", y_lim=[0.9, 1.0], title="Accuracy per digit",
                                            sort="x")
            gr.Markdown("**The mistakes**, most confident first: what the model read, and what the digit is")
            mistakes_gallery = gr.Image(type="pil", interactive=False, show_label=False, elem_id="mistakes",
                                        buttons=["fullscreen"])
    with gr.Row(visible=False):  # the public API: one image in, the digit (or the number) with its confidences out
        api_image = gr.File(type="filepath")  # opened by open_image(), which explains unreadable files
        api_answer = gr.JSON()
        api_button = gr.Button()
        number_button = gr.Button()

    draw_outputs = [probs, network_view, hint, drawn, number_picture_view]
    inside_inputs = [drawn, choice, inside_open, *sliders]
    inside_outputs = [*inside_images, *inside_captions, inside_status, inside_timer]
    inside_args = dict(concurrency_limit=4, show_progress="hidden", api_visibility="private",
                       trigger_mode="always_last")
    sketch.change(read_sketch, [sketch, choice], draw_outputs, concurrency_limit=4, show_progress="hidden",
                  api_visibility="private").then(inside_section, inside_inputs, inside_outputs, **inside_args)
    inside_box.expand(lambda: True, None, inside_open, queue=False, api_visibility="private").then(
        inside_section, inside_inputs, inside_outputs, **inside_args)
    inside_box.collapse(lambda: False, None, inside_open, queue=False, api_visibility="private")
    for slider in sliders:
        slider.release(inside_section, inside_inputs, inside_outputs, **inside_args)
    neutral.click(lambda: (0, 1, 0, 0, 0), None, sliders, queue=False, api_visibility="private").then(
        inside_section, inside_inputs, inside_outputs, **inside_args)
    inside_timer.tick(inside_section, inside_inputs, inside_outputs, **inside_args)
    upload_outputs = [upload_cards, upload_probs, upload_summary]
    files.change(show_uploads, [files, choice, screen], upload_outputs, concurrency_limit=4, js=WITH_SCREEN,
                 api_visibility="private")
    example.change(show_uploads, [example, choice, screen], upload_outputs, concurrency_limit=4, js=WITH_SCREEN,
                   api_visibility="private")
    api_button.click(predict_image, api_image, api_answer, api_name="predict", concurrency_limit=8)
    number_button.click(read_number_image, api_image, api_answer, api_name="read_number", concurrency_limit=8)

    poll_outputs = [loss_plot, acc_plot, status, models, model_box, model_card, timer, seen, choice]
    # /train and /stop stay callable by API clients but are left out of the API page and of the MCP tools
    start_btn.click(start_training, [epochs, batch_size, lr, augment, seed], status, api_name="train",
                    concurrency_limit=None, show_progress="hidden", api_visibility="undocumented")
    start_btn.click(lambda: gr.Timer(BUSY_POLL), None, timer, queue=False, api_visibility="private")  # poll fast now
    stop_btn.click(stop_training, None, status, api_name="stop", concurrency_limit=None, show_progress="hidden",
                   api_visibility="undocumented")
    timer.tick(poll, [seen, choice], poll_outputs, concurrency_limit=None, show_progress="hidden",
               api_visibility="private")
    demo.load(poll, [seen, choice], poll_outputs, api_visibility="private")
    models.input(choose_model, [models, choice], [choice, model_box, model_card], api_visibility="private").then(
        read_sketch, [sketch, choice], draw_outputs, api_visibility="private").then(  # read again by the new model
        inside_section, inside_inputs, inside_outputs, **inside_args)
    show_digits.click(random_training_digits, screen, train_gallery, js=WITH_SCREEN, api_visibility="private")
    check_btn.click(check_model, [choice, screen], [test_gallery, mistakes_gallery, confusion_plot, per_class_plot,
                                                    check_summary], js=WITH_SCREEN, api_visibility="private")

# show_error: a client sent text where a number goes, say, is told so instead of a generic failure.
# mcp_server: /predict and /read_number are also tools for AI assistants, at /gradio_api/mcp (training is not a tool).
# Gradio scopes `css` to the blocks, so the page's own margins (32 px a side, on a phone too) go in `head`.
HEAD = "<style>@media (max-width: 640px) { .gradio-container .main.app { padding: 10px 12px !important; } }</style>"

LAUNCH = dict(js=PAGE_JS, css=CSS, head=HEAD, max_file_size="10mb", show_error=True, footer_links=["api", "gradio"],
              theme=gr.themes.Soft(), mcp_server=True)

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4).launch(**LAUNCH)
