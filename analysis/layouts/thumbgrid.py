"""One composite picture of a GridLayout: a thumbnail per cell, a thin coloured border per label.

Geometry (shared by :func:`render_grid` and :func:`pixel_to_index`): every cell is a
``thumb`` x ``thumb`` pixel tile; its outer ``border`` pixels are the image's border colour
(or the background when no colours are given) and the thumbnail, centre-cropped to a square
and resized, fills the inside. Cell (r, c) of the rendered window starts at pixel
x = (c - col0) * thumb, y = (r - row0) * thumb. Empty cells are background.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.layouts.gridcut import GridLayout

RGB = tuple[int, int, int]
# Plotly's qualitative "Plotly" + "D3" palettes: the colours the scatter plots use too.
PALETTE: tuple[RGB, ...] = (
    (99, 110, 250), (239, 85, 59), (0, 204, 150), (171, 99, 250), (255, 161, 90),
    (25, 211, 243), (255, 102, 146), (182, 232, 134), (255, 151, 255), (254, 203, 82),
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)


def label_colours(labels: Sequence | np.ndarray, palette: Sequence[RGB] = PALETTE) -> list[RGB]:
    """One RGB colour per image from its label (sorted unique labels -> palette, cycling)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise LayerScopeError(f"labels must be 1-D (one per image), got shape {labels.shape}.")
    _, inv = np.unique(labels, return_inverse=True)
    return [tuple(int(v) for v in palette[i % len(palette)]) for i in inv]


def render_grid(
    layout: GridLayout,
    thumbs_loader: Callable[[int], Image.Image | np.ndarray],
    thumb: int = 48,
    border_colours: Sequence[RGB] | np.ndarray | None = None,
    border: int = 2,
    background: RGB = (255, 255, 255),
    window: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Composite HxWx3 uint8 image of the grid (H = rows * thumb, W = cols * thumb).

    thumbs_loader(i) returns image i as a PIL image or an HxW / HxWx3 / HxWx4 uint8 array.
    border_colours: one RGB per image (e.g. :func:`label_colours`), or None for no border
    colour (the border pixels stay background, a thin gap between tiles).
    window: (row0, col0, n_rows, n_cols) to render only part of a large grid; the loader is
    called only for the images inside it.
    """
    if thumb < 1 or border < 0 or 2 * border >= thumb:
        raise LayerScopeError(f"Need thumb >= 1 and 0 <= border < thumb / 2, got thumb={thumb}, border={border}.")
    n = layout.n_images
    colours = None
    if border_colours is not None:
        colours = np.asarray(border_colours, dtype=np.int64)
        if colours.shape != (n, 3) or colours.min(initial=0) < 0 or colours.max(initial=0) > 255:
            raise LayerScopeError(f"border_colours must be one RGB triple (0-255) per image: shape ({n}, 3).")
    row0, col0, nr, nc = _window(layout, window)
    out = np.empty((nr * thumb, nc * thumb, 3), dtype=np.uint8)
    out[:] = np.asarray(background, dtype=np.uint8)
    inner = thumb - 2 * border
    for r in range(row0, row0 + nr):
        for c in range(col0, col0 + nc):
            i = int(layout.image_at[r * layout.cols + c])
            if i < 0:
                continue
            y, x = (r - row0) * thumb, (c - col0) * thumb
            if colours is not None and border > 0:
                out[y:y + thumb, x:x + thumb] = colours[i]
            out[y + border:y + border + inner, x + border:x + border + inner] = _tile(thumbs_loader(i), inner, i)
    return out


def pixel_to_index(
    layout: GridLayout,
    x: float,
    y: float,
    thumb: int = 48,
    window: tuple[int, int, int, int] | None = None,
) -> int | None:
    """Image index under pixel (x, y) of a composite from :func:`render_grid` with the same
    thumb / window; None for an empty cell or a point outside the picture."""
    if thumb < 1:
        raise LayerScopeError("thumb must be >= 1.")
    row0, col0, nr, nc = _window(layout, window)
    if not (0 <= x < nc * thumb and 0 <= y < nr * thumb):
        return None
    r, c = row0 + int(y // thumb), col0 + int(x // thumb)
    i = int(layout.image_at[r * layout.cols + c])
    return None if i < 0 else i


def _window(layout: GridLayout, window) -> tuple[int, int, int, int]:
    if window is None:
        return 0, 0, layout.rows, layout.cols
    row0, col0, nr, nc = (int(v) for v in window)
    if row0 < 0 or col0 < 0 or nr < 1 or nc < 1 or row0 + nr > layout.rows or col0 + nc > layout.cols:
        raise LayerScopeError(
            f"window {window} is outside the {layout.rows} x {layout.cols} grid (row0, col0, n_rows, n_cols)."
        )
    return row0, col0, nr, nc


def _tile(img, size: int, i: int) -> np.ndarray:
    """Centre-crop to a square and resize to size x size RGB."""
    if isinstance(img, np.ndarray):
        a = img
        if a.dtype != np.uint8:
            raise LayerScopeError(f"Thumbnail {i}: arrays must be uint8, got {a.dtype}.")
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise LayerScopeError(f"Thumbnail {i}: expected HxW, HxWx3 or HxWx4, got {a.shape}.")
        img = Image.fromarray(np.ascontiguousarray(a[:, :, :3]))
    elif not isinstance(img, Image.Image):
        raise LayerScopeError(f"Thumbnail {i}: loader must return a PIL image or uint8 array, got {type(img).__name__}.")
    img = img.convert("RGB")
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    img = img.crop((left, top, left + s, top + s)).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)
