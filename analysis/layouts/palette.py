"""The one palette: label value -> colour, for every chart, grid border and legend.

Sorted unique labels take the qualitative palette in turn; a label set made only of colour
names ("red", "navy", "grey", ...) is drawn in those colours (a "red" class drawn grey, or a
"black" class drawn blue, would mislead); HDBSCAN's "noise" is light grey and never takes a
palette colour. Pure numpy / PIL.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import ImageColor

from analysis.errors import LayerScopeError

RGB = tuple[int, int, int]
# Plotly's qualitative "Plotly" + "D3" palettes.
PALETTE: tuple[RGB, ...] = (
    (99, 110, 250), (239, 85, 59), (0, 204, 150), (171, 99, 250), (255, 161, 90),
    (25, 211, 243), (255, 102, 146), (182, 232, 134), (255, 151, 255), (254, 203, 82),
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
NOISE = "noise"
NOISE_COLOUR: RGB = (190, 190, 190)  # HDBSCAN noise: light grey, never a palette colour


def named_colour(name: str) -> RGB | None:
    """RGB of a colour name ("Red", "navy blue" -> "navyblue"), None when it is not one.
    Only names count, never "#hex" or "rgb(...)" labels."""
    key = str(name).strip().lower().replace(" ", "").replace("_", "")
    if key not in ImageColor.colormap:
        return None
    return tuple(int(v) for v in ImageColor.getrgb(key)[:3])  # type: ignore[return-value]


def colour_map(labels: Sequence | np.ndarray, palette: Sequence[RGB] = PALETTE, named: bool = True) -> dict[str, RGB]:
    """label (as text) -> RGB, in sorted label order, cycling the palette; "noise" is grey.

    With ``named`` (default), a label set made only of colour names is drawn in those colours."""
    names = sorted({str(v) for v in np.asarray(labels, dtype=object).ravel()})
    real = [nm for nm in names if nm != NOISE]
    if named and real and all(named_colour(nm) is not None for nm in real):
        return {nm: NOISE_COLOUR if nm == NOISE else named_colour(nm) for nm in names}  # type: ignore[misc]
    out: dict[str, RGB] = {}
    i = 0
    for name in names:
        if name == NOISE:
            out[name] = NOISE_COLOUR
            continue
        out[name] = tuple(int(v) for v in palette[i % len(palette)])  # type: ignore[assignment]
        i += 1
    return out


def label_colours(labels: Sequence | np.ndarray, palette: Sequence[RGB] = PALETTE) -> list[RGB]:
    """One RGB colour per image from its label (the same colours as :func:`colour_map`)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise LayerScopeError(f"labels must be 1-D (one per image), got shape {labels.shape}.")
    cmap = colour_map(labels, palette)
    return [cmap[str(v)] for v in labels]


def rgb_css(c: RGB) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def css_map(labels: Sequence | np.ndarray) -> dict[str, str]:
    """label -> CSS colour, for plotly express's ``color_discrete_map``."""
    return {k: rgb_css(v) for k, v in colour_map(labels).items()}
