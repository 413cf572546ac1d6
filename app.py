"""The web app: draw a digit, upload images, train with live plots, and look at the data and the model's mistakes.

A thin shell over mnist_core. Shared state lives in MODELS (the active model) and JOB (the one training run).
    python app.py          # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT honoured)
"""
import os
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import torch

from mnist_core.checkpoint import CheckpointError
from mnist_core.config import TrainConfig
from mnist_core.job import FINISHED, Start, State, TrainingJob
from mnist_core.data import MnistDataError, to_uint8
from mnist_core.evaluation import examine
from mnist_core.model import count_parameters
from mnist_core.pictures import RIGHT, WRONG, confusion_figure, enlarge, framed, message_card, probability_card, sheet
from mnist_core.reader import open_image
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
DRAW_HINT = "Draw a digit (0-9) in the box, large and centred. The bars update after every stroke."
UNSURE = 0.5  # below this top probability the hint says the reading is a guess
CURVE_TYPES = {"iteration": "int64", "metric": "str", "value": "float64"}  # History rows, typed even when empty


# Draw and Upload -------------------------------------------------------------------------------

def read_sketch(sketch):
    """Sketchpad value -> (probabilities for gr.Label, what the network saw, a hint)."""
    try:
        prediction = MODELS.predict(sketch)
    except (ImageError, CheckpointError) as e:
        return {}, None, f"⚠️ {e}"
    if prediction.probs is None:
        blank = "blank" in prediction.message or "empty" in prediction.message
        return {}, None, DRAW_HINT if blank else f"{prediction.message.capitalize()}. Draw the whole digit."
    note = f" ({prediction.message})" if prediction.message else ""
    top = float(prediction.probs.max())
    if top < UNSURE:
        note += f", but only {100 * top:.0f}% sure: is it a digit? Try it larger and clearer"
    return prediction.as_label(), enlarge(prediction.pixels), f"Read as **{prediction.digit}**{note}."


MAX_FILES = 64  # files read per upload request; the summary says how many more were left unread


def read_uploads(files):
    """Uploaded files -> one picture with a card per file (28x28 view and bars), the first readable
    file's probabilities, and a list in words. Files are opened, read and dropped one at a time (a
    request holds one decoded image, shrunk to at most 2048 px, never all of them); at most MAX_FILES."""
    if not files:
        return None, {}, "Upload one or more images: PNG, JPEG, BMP, GIF or WebP."
    cards, captions, first = [], [], {}
    for path in files[:MAX_FILES]:
        name = Path(path).name
        try:
            prediction = MODELS.predict(open_image(path))  # the image is dropped as soon as it is read
        except ImageError as e:
            cards.append(message_card(str(e)))
            captions.append(f"⚠️ {e}")
            continue
        except CheckpointError as e:
            return None, {}, f"⚠️ {e}"
        if prediction.probs is None:
            cards.append(message_card(f"{name}: {prediction.message}"))
            captions.append(f"{name}: {prediction.message}")
            continue
        cards.append(probability_card(prediction.pixels, prediction.probs))
        captions.append(f"{name}: {prediction.digit} ({prediction.probs.max():.1%})"
                        + (f", {prediction.message}" if prediction.message else ""))
        first = first or prediction.as_label()
    picture = sheet(cards, [c.removeprefix("⚠️ ") for c in captions], columns=min(2, len(cards)))
    summary = "\n".join(f"- {c}" for c in captions)
    if len(files) > MAX_FILES:
        summary += (f"\n\n⚠️ Only the first {MAX_FILES} of {len(files)} files were read; the other "
                    f"{len(files) - MAX_FILES} were not. Upload them in another batch.")
    return picture, first, summary


def predict_image(path: str) -> dict:
    """Read the handwritten digit (0-9) in an image: a drawing, a photo or a scan of one digit.

    Runs a small CNN trained on MNIST, on the CPU. Any size, colours and polarity; the digit is found,
    cropped and centred first.

    Args:
        path: the image file (PNG, JPEG, BMP, GIF or WebP) holding one handwritten digit.

    Returns:
        {"label": the digit read, "confidences": [{"label": digit, "confidence": probability}, ...] for all
        ten digits, most likely first}; an empty label when the image holds nothing to read (blank, a speck).
    """
    if path is None:
        raise gr.Error("no image given", print_exception=False)
    try:
        return MODELS.predict(open_image(path)).as_label()
    except (ImageError, CheckpointError) as e:
        raise gr.Error(str(e), print_exception=False) from None  # a refusal, not a bug: no traceback


# Train -------------------------------------------------------------------------------------------

def start_training(epochs, batch_size, lr, augment, seed):
    try:
        config = TrainConfig(epochs=as_int(epochs), batch_size=as_int(batch_size), lr=float(lr),
                             augment=bool(augment), seed=as_int(seed))
    except (TypeError, ValueError) as e:
        gr.Warning(f"Not started: {e}")
        return f"⚠️ Not started: {e}"
    started, message = JOB.start(config)  # on ZeroGPU this returns when the run has ended
    if started is not Start.STARTED:
        gr.Warning(message)  # a toast: the status line is about to show the run in progress
        return f"⚠️ {message}"
    return ("▶️ " + message) if JOB.running() else training_status()


def as_int(value):
    """A whole number from a UI or API value; 2.0 is fine, 2.5 and "two" are not."""
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"expected a whole number, got {value!r}")
    return int(number)


def stop_training():
    return JOB.stop()


def training_status() -> str:
    run = JOB.run
    if not JOB.allow_training:
        return "Training is switched off on this server (MNIST_ALLOW_TRAINING=0). Draw and Upload still work."
    if run is None:
        return "No training run yet. Pick settings and press Start."
    ev = run.last
    if ev is None:
        return f"⚠️ {run.message}" if run.state in FINISHED else f"{run.state.value} on {run.device}…"
    per_step = ev.elapsed / max(ev.iteration, 1)
    left = (f"about {per_step * (ev.total_iterations - ev.iteration):.0f} s left · "
            if run.state is State.TRAINING else "")
    last_test = next((v for _, m, v in reversed(run.history.rows) if m == "test accuracy"), None)
    test = f" · test accuracy {100 * last_test:.2f}%" if last_test is not None else ""
    head = {State.TRAINING: "⏳ training", State.DONE: "✅ done", State.STOPPED: "⏹️ stopped",
            State.FAILED: "⚠️ failed", State.SAVING: "💾 saving", State.LOADING: "loading data"}[run.state]
    body = (f"{head} · epoch {ev.epoch:.2f}/{run.config.epochs} · iteration {ev.iteration}/{ev.total_iterations} · "
            f"{ev.images_per_sec:,.0f} images/s · {left}{ev.elapsed:.0f} s elapsed{test} · {run.device}, {ev.precision}")
    return body + (f"\n\n{run.message}" if run.message else "")


def curves():
    """The current run's rows as two frames: loss, and train/test accuracy, against iteration.

    None while there are no rows: a LinePlot first given an empty frame never draws its lines.
    """
    run = JOB.run
    rows = list(run.history.rows) if run else []
    if not rows:
        return None, None
    # A plot fixes its legend on the first frame it draws, so every metric is there from the start
    # (NaN: no point drawn until the first evaluation).
    rows += [(0, metric, float("nan")) for metric in ("train accuracy", "test accuracy")]
    frame = pd.DataFrame(rows, columns=list(CURVE_TYPES)).astype(CURVE_TYPES)
    return frame[frame.metric == "train loss"], frame[frame.metric != "train loss"]


BUSY_POLL, IDLE_POLL = 1.0, 5.0  # seconds between a page's polls while a run is going, and while none is


def poll(seen):
    """Every page polls: each second during a run, every 5 s otherwise (to notice a run another visitor
    started, or a new model). It always gets the status line; the plots only when the run changed, and
    the model list and card only when the model did (so an open dropdown stays put)."""
    run = JOB.run
    run_key = (JOB.runs_started, len(run.history.rows) if run else 0, run.state if run else None)
    seen_run, seen_model = seen or (None, None)
    loss, accuracy = curves() if run_key != seen_run else (gr.skip(), gr.skip())
    changed = MODELS.version != seen_model
    models, card = (model_choices(), active_model_card()) if changed else (gr.skip(), gr.skip())
    timer = gr.Timer(BUSY_POLL if JOB.running() else IDLE_POLL)
    return loss, accuracy, training_status(), models, card, timer, (run_key, MODELS.version)


# Models and Explore ------------------------------------------------------------------------------

def model_choices():
    paths = MODELS.checkpoints()
    active = MODELS.active.path.name if MODELS.active else None
    return gr.Dropdown(choices=[p.name for p in paths], value=active)


def choose_model(name):
    by_name = {p.name: p for p in MODELS.checkpoints()}
    try:
        MODELS.select(by_name.get(name, name or ""))
    except CheckpointError as e:
        gr.Warning(str(e))
    return active_model_card()


def active_model_card() -> str:
    c = MODELS.active
    if c is None:
        return f"⚠️ **No model loaded.** {MODELS.problem}. Train one in the Train tab."
    t = c.train_config
    acc = c.metrics.get("test_acc")
    acc = f"{100 * acc:.2f}%" if isinstance(acc, (int, float)) else "unknown"
    warning = f"\n\n⚠️ {MODELS.problem}" if MODELS.problem else ""
    precision = f", {c.metrics['precision']}" if "precision" in c.metrics else ""
    return (f"**Active model:** `{c.path.name}` · test accuracy **{acc}** on the 10,000 MNIST test digits · "
            f"{count_parameters(c.model):,} parameters · trained {c.created[:16].replace('T', ' ')} UTC on {c.device}{precision} · "
            f"{t.epochs} epoch{'s' * (t.epochs > 1)}, batch {t.batch_size}, lr {t.lr:g}, augmentation {'on' if t.augment else 'off'}, "
            f"seed {t.seed} · layers {c.model_config.channels} × {c.model_config.convs_per_stage}{warning}")


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


def random_training_digits(count=48):
    train_set, _ = mnist()
    idx = np.random.default_rng().choice(len(train_set), count, replace=False)
    images = to_uint8(train_set.images[idx])
    return sheet([enlarge(img, 3) for img in images], [f"label {train_set.labels[i].item()}" for i in idx], columns=12)


EXAMINED = {}  # (checkpoint path, created) -> examine() result: computed once per checkpoint


def examined(checkpoint, test_set):
    key = (str(checkpoint.path), checkpoint.created)
    if key not in EXAMINED:
        EXAMINED[key] = examine(checkpoint.model, test_set)
    return EXAMINED[key]


def check_model():
    """Test digits with the active model's predictions (mistakes marked), its mistakes, and the confusion matrix."""
    c = MODELS.active
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
    summary = (f"**{result.accuracy:.2%}** of the 10,000 test digits read right; **{len(wrong)} mistakes**, "
               f"shown below from the most confident.")
    return (shown(sample, 12), shown(shown_wrong, 12),
            confusion_figure(confusion, f"Confusion matrix: {len(wrong)} mistakes in 10,000"), per_class, summary)


# Layout ----------------------------------------------------------------------------------------

# Clicks the Brush whenever the Sketchpad shows no active tool: on load and after Clear.
SELECT_BRUSH_JS = """() => { setInterval(() => {
  const pad = document.querySelector('#sketch'); if (!pad) return;
  const brush = pad.querySelector('button[aria-label="Brush"]');
  if (brush && pad.innerText.toLowerCase().includes('select the draw tool')) brush.click();
}, 300); }"""

# Uploads and pictures Gradio keeps on disk: every 30 minutes, those older than an hour are deleted.
with gr.Blocks(title="Handwritten digit recognizer", delete_cache=(1800, 3600)) as demo:
    gr.Markdown("# ✍️ Handwritten digit recognizer\nA small convolutional network trained on MNIST reads the digit "
                "you draw or upload, and shows how sure it is of each of the ten digits.")
    model_card = gr.Markdown(active_model_card())
    with gr.Tabs():
        with gr.Tab("Draw"):
            with gr.Row():
                with gr.Column():  # the wrapper keeps the canvas inside its box (see docs/gradio6 notes)
                    sketch = gr.Sketchpad(
                        elem_id="sketch", label="Draw a digit", canvas_size=(280, 280), image_mode="L", layers=False,
                        brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"), height=420,
                    )
                    smooth = TrainConfig.label_smoothing  # a sure answer's target: 1 - smooth + smooth / 10
                    gr.Markdown(f"<small>The models here learn with label smoothing ({smooth:g}): a sure answer "
                                f"shows about {100 * (1 - 0.9 * smooth):.0f}%, not 100%.</small>")
                with gr.Column():
                    probs = gr.Label(num_top_classes=10, label="Probabilities", elem_id="probs")
                    with gr.Row():
                        with gr.Column():
                            gr.Markdown("**What the network sees**: your drawing as a 28×28 MNIST-style input")
                            network_view = gr.Image(elem_id="seen", height=230, interactive=False, buttons=[],
                                                    show_label=False)
                        hint = gr.Markdown(DRAW_HINT, elem_id="hint")
        with gr.Tab("Upload"):
            with gr.Row():
                with gr.Column():
                    files = gr.File(label="Images (one or many)", file_count="multiple", file_types=["image"],
                                    elem_id="upload")
                    gr.Examples([[[p]] for p in EXAMPLES], inputs=files, label="Real MNIST test digits") if EXAMPLES else None
                    upload_summary = gr.Markdown(elem_id="upload-summary")
                with gr.Column():
                    upload_probs = gr.Label(num_top_classes=10, label="First readable image", elem_id="upload-probs")
            gr.Markdown("**Each file**: what the network saw, and its probabilities")
            upload_cards = gr.Image(type="pil", interactive=False, show_label=False, elem_id="upload-cards",
                                    buttons=["download", "fullscreen"])
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
                loss_plot = gr.LinePlot(x="iteration", y="value", color="metric", title="Training loss",
                                        y_title="cross-entropy", elem_id="loss-plot", height=300)
                acc_plot = gr.LinePlot(x="iteration", y="value", color="metric", title="Accuracy", y_lim=[0.8, 1.0],
                                       y_title="accuracy", elem_id="acc-plot", height=300)
            models = gr.Dropdown(label="Active model (the shipped one, or one trained here)", elem_id="models",
                                 interactive=True)
            timer = gr.Timer(IDLE_POLL)  # always on, so every open page follows the run and the active model
            seen = gr.State()
        with gr.Tab("Explore"):
            gr.Markdown("### The data\nRandom digits from the 60,000 training images, with their labels.")
            show_digits = gr.Button("Show random training digits")
            train_gallery = gr.Image(type="pil", interactive=False, show_label=False, elem_id="train-digits",
                                     buttons=["fullscreen"])
            gr.Markdown("### Checking the network\nThe active model on the 10,000 test digits.")
            check_btn = gr.Button("Check the active model", variant="primary")
            check_summary = gr.Markdown()
            gr.Markdown("**Random test digits** with the model's reading: green = right, red = mistake")
            test_gallery = gr.Image(type="pil", interactive=False, show_label=False, buttons=["fullscreen"])
            with gr.Row():
                confusion_plot = gr.Plot(show_label=False)
                per_class_plot = gr.BarPlot(x="digit", y="accuracy", y_lim=[0.9, 1.0], title="Accuracy per digit",
                                            sort="x")
            gr.Markdown("**The mistakes**, most confident first: what the model read, and what the digit is")
            mistakes_gallery = gr.Image(type="pil", interactive=False, show_label=False, elem_id="mistakes",
                                        buttons=["fullscreen"])
    with gr.Row(visible=False):  # the public API: one image in, the digit with its confidences out
        api_image = gr.File(type="filepath")  # opened by open_image(), which explains unreadable files
        api_label = gr.Label(num_top_classes=10)
        api_button = gr.Button()

    draw_outputs = [probs, network_view, hint]
    sketch.change(read_sketch, sketch, draw_outputs, concurrency_limit=4, show_progress="hidden",
                  api_visibility="private")
    files.change(read_uploads, files, [upload_cards, upload_probs, upload_summary], concurrency_limit=4,
                 api_visibility="private")
    api_button.click(predict_image, api_image, api_label, api_name="predict", concurrency_limit=8)

    poll_outputs = [loss_plot, acc_plot, status, models, model_card, timer, seen]
    # /train and /stop stay callable by API clients but are left out of the API page and of the MCP tools
    start_btn.click(start_training, [epochs, batch_size, lr, augment, seed], status, api_name="train",
                    concurrency_limit=None, show_progress="hidden", api_visibility="undocumented")
    start_btn.click(lambda: gr.Timer(BUSY_POLL), None, timer, queue=False, api_visibility="private")  # poll fast now
    stop_btn.click(stop_training, None, status, api_name="stop", concurrency_limit=None, show_progress="hidden",
                   api_visibility="undocumented")
    timer.tick(poll, seen, poll_outputs, concurrency_limit=None, show_progress="hidden", api_visibility="private")
    demo.load(poll, seen, poll_outputs, api_visibility="private")
    models.input(choose_model, models, model_card, api_visibility="private")
    show_digits.click(random_training_digits, None, train_gallery, api_visibility="private")
    check_btn.click(check_model, None, [test_gallery, mistakes_gallery, confusion_plot, per_class_plot, check_summary],
                    api_visibility="private")

# show_error: a client sent text where a number goes, say, is told so instead of a generic failure.
# mcp_server: /predict is also a tool for AI assistants, at /gradio_api/mcp (training is not a tool).
LAUNCH = dict(js=SELECT_BRUSH_JS, max_file_size="10mb", show_error=True, footer_links=["api", "gradio"],
              theme=gr.themes.Soft(), mcp_server=True)

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=4).launch(**LAUNCH)
