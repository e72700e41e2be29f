"""Composite pictures for the PNG downloads: side by side, legend strip, PNG bytes."""
import io

import numpy as np
import pytest
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.layouts.palette import PALETTE
from analysis.pictures import hstack_images, legend_strip, png_bytes, stack_with_legend


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
