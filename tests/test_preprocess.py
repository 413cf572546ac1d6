"""Preprocessing properties on synthetic strokes: placement, size, polarity and specks must not matter."""
import numpy as np
import pytest
from PIL import Image

from drawing import STROKES, draw, sketchpad_value
from mnist_core.preprocess import ImageError, preprocess


def pixels(image):
    digit = preprocess(image)
    assert digit.pixels is not None, digit.message
    assert digit.pixels.shape == (28, 28)
    return digit.pixels


def close(a, b, tol=0.06):
    """Mean absolute difference of two 28x28 inputs, as a fraction of full ink."""
    return float(np.abs(a - b).mean()) < tol


def test_result_looks_like_mnist():
    x = pixels(draw(7))
    rows, cols = np.flatnonzero(x.max(1) > 0.1), np.flatnonzero(x.max(0) > 0.1)
    assert rows[-1] - rows[0] + 1 <= 21 and cols[-1] - cols[0] + 1 <= 21  # fits the 20x20 box
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 >= 19  # and fills it
    ys, xs = np.mgrid[:28, :28]
    cy, cx = (ys * x).sum() / x.sum(), (xs * x).sum() / x.sum()
    assert abs(cy - 13.5) < 1 and abs(cx - 13.5) < 1  # centre of mass in the middle
    assert x.max() == pytest.approx(1.0) and x[0].max() == 0  # white ink on black


def test_tiny_digit_in_corner_of_large_canvas_matches_centred_digit():
    centred = pixels(draw(4, size=(280, 280), box=(70, 50, 210, 230), width=18))
    tiny = pixels(draw(4, size=(1200, 900), box=(20, 25, 48, 61), width=4))
    assert close(centred, tiny)


def test_polarity_and_transparency_do_not_matter():
    dark_on_light = draw(2)
    light_on_dark = draw(2, ink=255, paper=0)
    ink = np.asarray(draw(2, ink=255, paper=0))  # alpha = where the ink is, colour irrelevant
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 0] = 200  # a red-ish colour that the background's transparency must hide
    rgba[..., 3] = ink
    coloured = draw(2, ink=(30, 60, 200), paper=(250, 245, 230), mode="RGB")  # blue ink on cream paper
    base = pixels(dark_on_light)
    for other in (light_on_dark, Image.fromarray(rgba, "RGBA"), rgba, coloured, sketchpad_value(dark_on_light)):
        assert close(base, pixels(other))


def test_far_speck_neither_moves_nor_shrinks_the_digit():
    clean = pixels(draw(7, size=(400, 400), box=(150, 120, 270, 280)))
    specked = pixels(draw(7, size=(400, 400), box=(150, 120, 270, 280), specks=[(20, 380, 4), (390, 10, 3)]))
    assert close(clean, specked, tol=0.01)


def test_thin_and_thick_strokes_give_similar_inputs():
    normal = pixels(draw(3, width=18))
    for width in (2, 45):
        assert close(normal, pixels(draw(3, width=width)), tol=0.12)


@pytest.mark.parametrize("thin_width, thick_width", [(2, 45), (1, 60)])
def test_a_thick_digit_is_nearest_its_own_thin_version(thin_width, thick_width):
    """Similar is not enough: a misread would still be 'similar'. Each thick-brush digit's 28x28 must be
    nearer (L2) to the same digit drawn with a thin brush than to any other digit's thin version."""
    digits = sorted(STROKES)
    thin = {d: pixels(draw(d, width=thin_width)) for d in digits}
    for d in digits:
        thick = pixels(draw(d, width=thick_width))
        distance = {other: float(np.linalg.norm(thick - thin[other])) for other in digits}
        assert min(distance, key=distance.get) == d, (d, distance)


def test_blank_inputs_have_nothing_to_read():
    blanks = [
        {"background": None, "layers": [], "composite": None},  # untouched Sketchpad
        Image.new("L", (280, 280), 255),
        Image.new("L", (280, 280), 0),
        np.full((50, 60, 3), 128, np.uint8),
        Image.new("RGBA", (100, 100), (0, 0, 0, 0)),
        draw(7, box=(140, 140, 141, 141), width=12),  # a single dot
    ]
    for image in blanks:
        digit = preprocess(image)
        assert digit.pixels is None and digit.message.startswith("nothing to read"), digit.message


def test_several_digits_read_the_largest_and_say_so():
    img = draw(1, size=(560, 280), box=(40, 60, 120, 200), width=14)
    seven = draw(7, size=(560, 280), box=(300, 30, 500, 260), width=18)
    both = Image.fromarray(np.minimum(np.asarray(img), np.asarray(seven)))
    digit = preprocess(both)
    assert "several" in digit.message
    assert close(digit.pixels, pixels(draw(7, size=(560, 280), box=(300, 30, 500, 260), width=18)), tol=0.02)


def test_unreadable_inputs_raise_clear_errors():
    with pytest.raises(ImageError, match="shape"):
        preprocess(np.zeros((5, 5, 5)))
    with pytest.raises(ImageError, match="expected an image"):
        preprocess("not an image")


def test_a_pixel_blocky_enlargement_reads_like_a_smooth_one():
    """A low-resolution scan enlarged by repeating pixels (nearest neighbour) is read from its own pixels,
    enlarged smoothly: its input matches the bicubic enlargement's, not the staircase's."""
    from mnist_core.preprocess import enlarge, native_pixels, to_array
    small = draw(2, size=(28, 32), box=(4, 4, 24, 28), width=3)
    blocky, smooth = (small.resize((140, 160), method) for method in (Image.NEAREST, Image.BICUBIC))
    colour, alpha, k = native_pixels(*to_array(blocky))
    assert k == 5 and colour.shape == (32, 28, 1)
    assert np.abs(enlarge(colour, alpha, k)[0] - to_array(smooth)[0]).mean() < 0.01  # (the blocks: 0.07 off)
    assert close(pixels(blocky), pixels(smooth), tol=0.03)
    colour, alpha = to_array(draw(2))  # a drawing at full resolution is left as it is
    assert native_pixels(colour, alpha)[0] is colour and enlarge(colour, alpha, 1)[0] is colour


@pytest.mark.parametrize("side", [4, 6, 12, 16, 23])
def test_a_dot_on_a_tiny_image_is_still_only_a_speck(side):
    """A tiny image is enlarged smoothly before it is read; one dark pixel on it must not become a blob big
    enough to read (it was read as a 0), nor one light pixel on black."""
    dark_dot, light_dot = np.full((side, side), 255, np.uint8), np.zeros((side, side), np.uint8)
    dark_dot[side // 2, side // 2], light_dot[side // 2, side // 2] = 0, 255
    for image in (dark_dot, light_dot):
        assert preprocess(image).message == "nothing to read: only a speck"


def test_a_bold_digit_cropped_tight_on_white_paper_is_read_against_the_paper():
    """A tight crop of a drawing or a clean scan: the strokes cross every edge, so the border is not all paper.
    The paper is still the one colour that is most of the border and a good part of the image."""
    from mnist_core.preprocess import flat_paper, border, ink_and_noise, to_array
    colour, alpha = to_array(draw(4, size=(60, 70), box=(2, 2, 58, 68), width=9).crop((4, 4, 56, 66)))
    assert flat_paper(colour, border(colour)) == pytest.approx([1.0])
    ink, noise, _ = ink_and_noise(colour, alpha)
    assert noise == 0 and np.array_equal(ink, 1 - colour[:, :, 0])
    photo = np.clip(colour + np.random.default_rng(0).normal(0, 0.02, colour.shape), 0, 1).astype(np.float32)
    assert flat_paper(photo, border(photo)) is None  # a camera's grain leaves no one colour that common
