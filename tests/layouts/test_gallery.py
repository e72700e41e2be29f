"""Helpers behind the layout pages: thumbnails, colours, plotly selections, legend, PNG."""
import io

import numpy as np
import pytest
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.layouts.gallery import (
    NOISE_COLOUR,
    cluster_names,
    colour_map,
    legend_strip,
    png_bytes,
    selected_indices,
    stack_with_legend,
    thumbnails,
)
from analysis.layouts.thumbgrid import PALETTE, label_colours


def test_colour_map_agrees_with_the_grid_border_colours():
    labels = np.array(["shirt", "dress", "shirt", "coat", "dress"])
    cmap = colour_map(labels)
    assert list(cmap) == ["coat", "dress", "shirt"]
    assert [cmap[v] for v in labels] == label_colours(labels)
    assert len(set(cmap.values())) == 3


def test_colour_name_labels_are_drawn_in_their_own_colour():
    cmap = colour_map(np.array(["red", "Black", "grey", "blue", "red"]))
    assert cmap == {"Black": (0, 0, 0), "blue": (0, 0, 255), "grey": (128, 128, 128), "red": (255, 0, 0)}
    mixed = colour_map(np.array(["red", "paisley"]))  # not all colour names: the palette
    assert mixed == {"paisley": PALETTE[0], "red": PALETTE[1]}
    assert colour_map(np.array(["red", "blue"]), named=False) == {"blue": PALETTE[0], "red": PALETTE[1]}


def test_noise_is_grey_and_does_not_take_a_palette_colour():
    names = cluster_names(np.array([1, -1, 0, 12, 0]))
    assert list(names) == ["cluster 01", "noise", "cluster 00", "cluster 12", "cluster 00"]
    cmap = colour_map(names)
    assert cmap["noise"] == NOISE_COLOUR
    assert cmap["cluster 00"] == PALETTE[0] and cmap["cluster 12"] == PALETTE[2]


def test_thumbnails_are_square_crops_and_unreadable_files_are_grey(tmp_path):
    a = np.zeros((40, 80, 3), np.uint8)
    a[:, 20:60] = (255, 0, 0)  # the centre square is red, the sides black
    Image.fromarray(a).save(tmp_path / "wide.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    calls = []
    t = thumbnails([str(tmp_path / "wide.png"), str(tmp_path / "broken.png")], size=16,
                   progress=lambda d, n: calls.append((d, n)))
    assert t.shape == (2, 16, 16, 3) and t.dtype == np.uint8
    assert (t[0, :, :, 0] > 200).all() and (t[0, :, :, 1] < 50).all()  # only the red centre kept
    assert (t[1] == 128).all()
    assert calls == [(2, 2)]
    with pytest.raises(LayerScopeError):
        thumbnails([], size=2)


def test_selected_indices_read_customdata_and_ignore_the_rest():
    points = [
        {"customdata": [5, "red"], "point_index": 0, "curve_number": 1},
        {"customdata": [2, "blue"], "point_index": 0, "curve_number": 0},
        {"customdata": [5, "red"], "point_index": 0, "curve_number": 3},  # same image, overlay trace
        {"customdata": 7},  # scalar customdata
        {"point_index": 3},  # a trace without customdata
        {"customdata": [99]},  # out of range
        {"customdata": ["x"]},
    ]
    assert selected_indices(points, n=10) == [2, 5, 7]
    assert selected_indices(None, n=10) == [] and selected_indices([], n=10) == []


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
    with pytest.raises(LayerScopeError):
        png_bytes(np.zeros((4, 4), np.float32))
