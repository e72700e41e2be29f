"""One composite picture of a GridLayout: a thumbnail per cell, a thin coloured border per label.

Geometry: every cell is a ``thumb`` x ``thumb`` pixel tile; its outer ``border`` pixels are the
image's border colour (or the background when no colours are given) and the thumbnail,
centre-cropped to a square and resized, fills the inside. Cell (r, c) starts at pixel
x = c * thumb, y = r * thumb. Empty cells are background.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.layouts.gridcut import GridLayout

# The one palette lives in analysis.layouts.palette (re-exported here for older imports).
from analysis.layouts.palette import PALETTE, RGB, label_colours  # noqa: E402,F401


def render_grid(
    layout: GridLayout,
    thumbs_loader: Callable[[int], Image.Image | np.ndarray],
    thumb: int = 48,
    border_colours: Sequence[RGB] | np.ndarray | None = None,
    border: int = 2,
    background: RGB = (255, 255, 255),
) -> np.ndarray:
    """Composite HxWx3 uint8 image of the grid (H = rows * thumb, W = cols * thumb).

    thumbs_loader(i) returns image i as a PIL image or an HxW / HxWx3 / HxWx4 uint8 array.
    border_colours: one RGB per image (e.g. :func:`label_colours`), or None for no border
    colour (the border pixels stay background, a thin gap between tiles).
    """
    if thumb < 1 or border < 0 or 2 * border >= thumb:
        raise LayerScopeError(f"Need thumb >= 1 and 0 <= border < thumb / 2, got thumb={thumb}, border={border}.")
    n = layout.n_images
    colours = None
    if border_colours is not None:
        colours = np.asarray(border_colours, dtype=np.int64)
        if colours.shape != (n, 3) or colours.min(initial=0) < 0 or colours.max(initial=0) > 255:
            raise LayerScopeError(f"border_colours must be one RGB triple (0-255) per image: shape ({n}, 3).")
    out = np.empty((layout.rows * thumb, layout.cols * thumb, 3), dtype=np.uint8)
    out[:] = np.asarray(background, dtype=np.uint8)
    inner = thumb - 2 * border
    for r in range(layout.rows):
        for c in range(layout.cols):
            i = int(layout.image_at[r * layout.cols + c])
            if i < 0:
                continue
            y, x = r * thumb, c * thumb
            if colours is not None and border > 0:
                out[y:y + thumb, x:x + thumb] = colours[i]
            out[y + border:y + border + inner, x + border:x + border + inner] = _tile(thumbs_loader(i), inner, i)
    return out


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
