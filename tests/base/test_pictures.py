"""Composite pictures: side by side, legend strip, captioned row of thumbnails, PNG / JPEG bytes."""
import io

import numpy as np
import pytest
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.layouts.palette import PALETTE
from analysis.pictures import (
    captioned_row,
    display_uri,
    hstack_images,
    jpeg_bytes,
    legend_strip,
    png_bytes,
    stack_with_legend,
)


def test_legend_strip_wraps_and_draws_each_colour():
    names = [f"label {i}" for i in range(12)]
    colours = [PALETTE[i] for i in range(12)]
    one_line = legend_strip(names[:2], colours[:2], width=600)
    wrapped = legend_strip(names, colours, width=200)
    assert wrapped.shape[1] == 200 and wrapped.shape[0] > one_line.shape[0]
    flat = {tuple(p) for p in wrapped.reshape(-1, 3)}
    assert all(tuple(c) in flat for c in colours)
    with pytest.raises(LayerScopeError):
        legend_strip(names, colours[:3], width=400)


def test_png_bytes_round_trip_with_legend_below():
    img = np.zeros((30, 50, 3), np.uint8)
    img[..., 1] = 200
    leg = legend_strip(["a"], [(255, 0, 0)], width=80)
    both = stack_with_legend(img, leg)
    assert both.shape == (30 + leg.shape[0], 80, 3)
    back = np.asarray(Image.open(io.BytesIO(png_bytes(both))))
    assert np.array_equal(back, both)
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_bytes(grey)))), grey)
    with pytest.raises(LayerScopeError):
        png_bytes(np.zeros((4, 4), np.float32))  # floats in [0, 1] would silently turn black


def test_hstack_images_resizes_to_one_height_with_gaps():
    a = np.full((10, 20, 3), 10, np.uint8)
    b = np.full((20, 20, 3), 200, np.uint8)
    out = hstack_images([a, b], gap=2)
    assert out.shape == (20, 40 + 2 + 20, 3)
    assert (out[:, 40:42] == 255).all() and (out[:, 42:] == 200).all()
    with pytest.raises(LayerScopeError):
        hstack_images([])


def test_display_uri_is_exact_png_when_small_and_a_faithful_jpeg_when_large():
    import base64

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    uri = display_uri(small, lossless_up_to=80)
    assert uri.startswith("data:image/png;base64,")
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))
    assert np.array_equal(back, small)
    # A large picture of flat coloured cells with thin borders (what GridCut draws): JPEG, same size,
    # colours within a few levels (no chroma subsampling), and much smaller than the PNG.
    big = np.full((1200, 1200, 3), 230, np.uint8)
    for k, colour in enumerate([(220, 20, 60), (30, 144, 255), (50, 205, 50)]):
        big[k * 400 + 10:k * 400 + 14, :] = colour
    big[:, 600:] = rng.integers(0, 256, (1200, 600, 3), dtype=np.uint8) // 4 + 100  # photo-like noise
    uri = display_uri(big)
    assert uri.startswith("data:image/jpeg;base64,")
    raw = base64.b64decode(uri.split(",", 1)[1])
    back = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")).astype(int)
    assert back.shape == big.shape
    assert np.abs(back[:, :590] - big[:, :590]).max() <= 40  # the flat half and its 4-px borders
    assert np.abs(back[411:413, :590] - np.array([30, 144, 255])).mean() < 12
    assert len(raw) < len(png_bytes(big))


def test_captioned_row_places_tiles_with_swatches_and_wrapped_captions():
    tiles = [np.full((40, 40, 3), v, np.uint8) for v in (10, 120, 200)]
    red, blue = (255, 0, 0), (0, 0, 255)
    out = captioned_row(tiles, ["#1 red (flagged)", "#2 blue", "#3 " + "x" * 60], swatches=[red, blue, None], gap=4,
                        font_size=12, lines=2)
    assert out.dtype == np.uint8 and out.shape[1] == 3 * 40 + 2 * 4 and out.shape[0] > 40 + 2 * 12
    for k, v in enumerate((10, 120, 200)):  # each tile at its place, the gaps background
        assert (out[:40, k * 44:k * 44 + 40] == v).all()
    assert (out[:40, 40:44] == 255).all()
    below = out[40:]

    def has(colour, x0, x1):
        return bool((below[:, x0:x1] == colour).all(axis=2).any())

    assert has(red, 0, 40) and has(blue, 44, 84) and not has(red, 44, 128) and not has(blue, 88, 128)
    assert (below[:, :40] < 128).all(axis=2).sum() > 20  # caption text drawn (dark pixels), not only the swatch
    assert (below[:, 88:] < 128).all(axis=2).sum() > 20  # the long caption, cut to two lines
    with pytest.raises(LayerScopeError):
        captioned_row(tiles, ["a", "b"])
    with pytest.raises(LayerScopeError):
        captioned_row([tiles[0], np.zeros((30, 40, 3), np.uint8)], ["a", "b"])


def test_captioned_row_wraps_words_and_cuts_what_does_not_fit():
    from PIL import ImageDraw

    from analysis.pictures import _font, _wrap

    font = _font(12)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = int(draw.textlength("#545 black", font=font)) + 2
    assert _wrap("#545 black (flagged)", width, width, 2, font, draw) == ["#545 black", "(flagged)"]
    assert _wrap("#3 red", width, width, 2, font, draw) == ["#3 red"]
    cut = _wrap("one two three four five six seven", width, width, 2, font, draw)
    assert len(cut) == 2 and cut[-1].endswith("…")
    assert all(draw.textlength(line, font=font) <= width for line in cut)
    (word,) = _wrap("supercalifragilisticexpialidocious", width, width, 1, font, draw)
    assert word.endswith("…") and draw.textlength(word, font=font) <= width


def test_jpeg_bytes_round_trip():
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, 15:] = (200, 40, 40)
    back = np.asarray(Image.open(io.BytesIO(jpeg_bytes(img, quality=95))).convert("RGB")).astype(int)
    assert back.shape == img.shape and np.abs(back - img).mean() < 6
