"""The one palette: colour-name labels in their own colours everywhere, noise grey."""
import numpy as np

from analysis.layouts.palette import NOISE_COLOUR, PALETTE, colour_map, css_map, label_colours, named_colour


def test_garment_colour_names_are_their_own_colours_red_is_never_grey():
    names = ["black", "blue", "brown", "green", "grey", "orange", "pink", "purple", "red", "yellow"]
    cmap = colour_map(np.array(names * 2))
    assert cmap["red"] == (255, 0, 0) and cmap["grey"] == (128, 128, 128)
    assert len(set(cmap.values())) == len(names)
    assert css_map(names)["red"] == "rgb(255,0,0)"


def test_grid_borders_and_charts_get_the_same_colour_per_label():
    labels = np.array(["red", "blue", "red", "green"])
    assert label_colours(labels) == [colour_map(labels)[v] for v in labels]
    other = np.array(["plain", "stripes", "plain"])
    assert label_colours(other) == [PALETTE[0], PALETTE[1], PALETTE[0]]


def test_noise_stays_grey_next_to_colour_names_and_underscored_names_resolve():
    cmap = colour_map(np.array(["red", "noise", "blue"]))
    assert cmap == {"blue": (0, 0, 255), "noise": NOISE_COLOUR, "red": (255, 0, 0)}
    assert named_colour("Navy Blue") is None and named_colour("navy") == (0, 0, 128)
    assert named_colour("light_grey") == named_colour("lightgrey")
    assert named_colour("#ff0000") is None
