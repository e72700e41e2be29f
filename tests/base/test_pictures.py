"""Composite pictures for the PNG downloads: side by side, legend strip, PNG bytes."""
import io

import numpy as np
import pytest
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.layouts.palette import PALETTE
from analysis.pictures import display_uri, hstack_images, legend_strip, png_bytes, stack_with_legend


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
