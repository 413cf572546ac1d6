"""Read digits: load a model, open image files safely, preprocess, and run the network in one batch.

The command line is mnist_core/predict.py (`python -m mnist_core.predict`)."""
import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .calibration import calibrated
from .checkpoint import load_checkpoint
from .data import normalize
from .preprocess import (MAX_SIDE, SEVERAL_MARKS, Digit, ImageError, fit_bands, fit_image, preprocess, reduction,
                         target_mode)

MAX_PIXELS = 40_000_000  # larger images are refused: a decompression bomb guard
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own guard, which errors at twice this


@dataclass
class Prediction:
    """The ten calibrated probabilities (None when there is nothing to read), the digit (None also when the
    reading is refused as "not a digit"), and the 28x28 the network saw."""

    probs: np.ndarray | None
    pixels: np.ndarray | None  # (28, 28) float 0..1, white ink on black
    message: str = ""  # why nothing was read, why it is not a digit, or a remark
    refused: bool = False  # read, but the top probability is under the model's "not a digit" threshold

    @property
    def digit(self) -> int | None:
        return None if self.probs is None or self.refused else int(self.probs.argmax())

    @property
    def several_marks(self) -> bool:
        """Whether other marks stand beside the one read (the largest): the image may hold a number."""
        return self.probs is not None and SEVERAL_MARKS in self.message

    def as_label(self) -> dict[str, float]:
        """{"0": p0, ..., "9": p9}, the value gr.Label shows; empty when there is nothing to read."""
        return {} if self.probs is None else {str(d): float(p) for d, p in enumerate(self.probs)}


def load_model(path=None, device=None) -> torch.nn.Module:
    """The model from a checkpoint, the shipped one when path is None, ready for predict()."""
    return load_checkpoint(path, device).model


def open_image(path) -> Image.Image:
    """Open an image file (its first frame), or raise ImageError saying why it cannot be read.

    The image comes back in its working mode and at most MAX_SIDE pixels on its longer side: a JPEG is
    decoded straight at 1/2, 1/4 or 1/8 scale when that is enough (Image.draft), an 8-bit PNG is
    decoded and reduced a band of rows at a time (png_in_bands), other formats are decoded whole and
    reduced, and the full-size decode is dropped before returning.
    """
    path = Path(path)
    too_large = ImageError(f"{path.name}: image too large (over {MAX_PIXELS:,} pixels)")
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path.name}: empty file (0 bytes)")
        with Image.open(path) as im:  # reads the header only
            if im.width * im.height > MAX_PIXELS:  # a decompression bomb, or just too big: refuse before decoding
                raise too_large
            im.seek(0)  # animated GIF/WebP: the first frame
            if max(im.size) > MAX_SIDE and im.format == "JPEG":
                factor = max(im.size) / MAX_SIDE
                im.draft(None, (int(im.width / factor), int(im.height / factor)))  # scale >= the size asked for
            small = png_in_bands(path, im) if max(im.size) > MAX_SIDE and im.format == "PNG" else None
            if small is None:
                im.load()
                small = fit_image(im)
            return small.copy() if small is im else small
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path.name}: file not found") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path.name}: not an image Pillow can read (PNG, JPEG, BMP, GIF, WebP, ...)") from None
    except Image.DecompressionBombError:  # Pillow's own check, at twice the limit
        raise too_large from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{path.name}: damaged or truncated image ({e})") from None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
BAND_BYTES = 2 << 20  # raw bytes decoded at a time


def png_in_bands(path: Path, im: Image.Image) -> Image.Image | None:
    """A big PNG read like open_image reads any image (working mode, at most MAX_SIDE), holding only a
    band of rows of the full-size image at a time instead of all of it (159 MB for a 6300x6300 RGB).

    Each band's filtered rows are inflated from the file's IDAT stream and given to Pillow as a small
    PNG of their own, led by the previous band's last row unfiltered (the row the first one's filter
    refers to). None, for the whole-image path, when the PNG is not 8 bits per sample, is interlaced
    or animated. A damaged stream raises OSError.
    """
    data = path.read_bytes()  # compressed: a few MB at most for what the app accepts
    if not data.startswith(PNG_SIGNATURE):
        return None
    header, kept, idat, pos, info = None, [], [], len(PNG_SIGNATURE), dict(im.info)
    try:
        while pos + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[pos : pos + 8])
            body = data[pos + 8 : pos + 8 + length]
            if len(body) < length:
                raise OSError(f"PNG chunk {kind!r} cut short")
            pos += 12 + length
            if kind == b"IHDR":
                header = body
            elif kind in (b"PLTE", b"tRNS"):
                kept.append((kind, body))
            elif kind == b"IDAT":
                idat.append(body)
            elif kind == b"eXIf":  # Pillow reads one after the image data only on load(): the orientation
                info["exif"] = b"Exif\x00\x00" + body
            elif kind == b"acTL":  # animated: Pillow picks the first frame
                return None
            elif kind == b"IEND":
                break
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    except struct.error as e:
        raise OSError(f"PNG header: {e}") from None
    channels = PNG_CHANNELS.get(colour)
    if depth != 8 or channels is None or interlace or not idat or (width, height) != im.size:
        return None
    stride = width * channels
    fx, fy = reduction(im.size)
    rows = fy * max(1, BAND_BYTES // (stride + 1) // fy)
    before = b"".join(png_chunk(kind, body) for kind, body in kept)
    stream = inflated(b"".join(idat))

    def bands():
        previous = b""  # the last row of the band before, unfiltered
        for top in range(0, height, rows):
            n = min(rows, height - top)
            raw = stream(n * (stride + 1))
            lead = 1 if previous else 0
            png = (PNG_SIGNATURE + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, n + lead, 8, colour, 0, 0, 0))
                   + before + png_chunk(b"IDAT", zlib.compress(b"".join((b"\0", previous, raw)) if lead else raw, 0))
                   + png_chunk(b"IEND", b""))
            with Image.open(io.BytesIO(png)) as band:
                band.load()
                band = band.crop((0, lead, width, n + lead)) if lead else band.copy()
            previous = band.crop((0, n - 1, width, n)).tobytes()
            yield band

    return fit_bands(bands(), im.size, info, target_mode(im), (fx, fy))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def inflated(compressed: bytes):
    """A function that returns exactly the next `size` bytes of the zlib stream, or raises OSError."""
    inflate, view, fed = zlib.decompressobj(), memoryview(compressed), [0, b""]

    def take(size: int) -> bytes:
        out = bytearray()
        try:
            while len(out) < size:
                if not fed[1] and fed[0] < len(view):
                    fed[1], fed[0] = view[fed[0] : fed[0] + 65536], fed[0] + 65536
                piece = inflate.decompress(fed[1], size - len(out))  # empty input: what zlib still holds
                fed[1] = inflate.unconsumed_tail
                if not piece and (inflate.eof or not fed[1] and fed[0] >= len(view)):
                    raise OSError("image data ends early (truncated)")
                out += piece
        except zlib.error as e:
            raise OSError(f"damaged image data ({e})") from None
        return out

    return take


@torch.inference_mode()
def predict(model: torch.nn.Module, images):
    """Predictions for one image (returns one Prediction) or a list (returns a list).

    Images may be PIL images, numpy arrays (gray, RGB or RGBA, any size and polarity), file paths,
    or Gradio Sketchpad dicts. All readable digits go through the network in one batch.

    A single image that cannot be read raises ImageError; in a list, it gets a Prediction with probs
    None and the reason as its message, and the others are read. Files are opened one at a time and
    each dropped once read, so a long list of big files costs the memory of one.

    A reading whose top probability is under the model's "not a digit" threshold is refused: its digit is
    None, its probabilities are kept, and its message begins with "not a digit".
    """
    single = not isinstance(images, (list, tuple))
    if single:
        digits = [read(images)]
    else:
        digits = []
        for image in images:
            try:
                digits.append(read(image))
            except ImageError as e:
                digits.append(Digit(None, str(e)))
    readable = [i for i, d in enumerate(digits) if d.pixels is not None]
    probs = {}
    if readable:
        device = next(model.parameters()).device
        x = torch.from_numpy(np.stack([digits[i].pixels for i in readable])).unsqueeze(1)
        x = normalize(x).to(device, memory_format=torch.channels_last)
        probs = dict(zip(readable, probabilities(model, x).cpu().numpy()))
    out = [judged(Prediction(probs.get(i), d.pixels, d.message), getattr(model, "threshold", None))
           for i, d in enumerate(digits)]
    return out[0] if single else out


def judged(prediction: Prediction, threshold: float | None) -> Prediction:
    """The prediction refused as "not a digit" when its top probability is under the model's threshold (set on
    held-out digits, see mnist_core.calibration); the probabilities stay, so they can still be shown."""
    if prediction.probs is None or threshold is None or prediction.probs.max() >= threshold:
        return prediction
    top = float(prediction.probs.max())
    prediction.refused = True
    prediction.message = (f"not a digit: this does not look like any digit the network knows (at most "
                          f"{100 * top:.0f}% sure)" + (f"; {prediction.message}" if prediction.message else ""))
    return prediction


def probabilities(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The calibrated probabilities (N, 10) for normalized inputs (N, 1, 28, 28): softmax of the logits divided
    by the model's temperature (fitted after training and kept in its checkpoint; 1 when it has none)."""
    return calibrated(model(x), model)


def read(image) -> Digit:
    return preprocess(open_image(image) if isinstance(image, (str, Path)) else image)
