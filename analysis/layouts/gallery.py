"""Small helpers behind the layout pages (UMAP scatter, GridCut grid): thumbnails, label colours,
selections coming back from a plotly chart, a legend strip and PNG bytes for the export.

Pure numpy / PIL; no streamlit. The colours are the ones `analysis.layouts.thumbgrid` uses for the grid
borders (sorted unique labels -> palette), so a label has the same colour in the scatter, the
grid and the legend.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from analysis.data.images import load_image
from analysis.errors import LayerScopeError
from analysis.layouts.thumbgrid import PALETTE, RGB

NOISE = "noise"
NOISE_COLOUR: RGB = (190, 190, 190)  # HDBSCAN noise: light grey, never a palette colour


def colour_map(labels: Sequence | np.ndarray, palette: Sequence[RGB] = PALETTE,
               named: bool = True) -> dict[str, RGB]:
    """label (as text) -> RGB, in sorted label order, cycling the palette; "noise" is grey.

    Same order and palette as :func:`analysis.layouts.thumbgrid.label_colours`, so the grid borders,
    the scatter and the legend agree. With ``named`` (default), a label set made only of
    colour names ("red", "navy", "grey", ...) is drawn in those colours: a "black" class
    drawn in blue would mislead."""
    names = sorted({str(v) for v in np.asarray(labels, dtype=object).ravel()})
    if named and names and all(_named_colour(nm) is not None for nm in names if nm != NOISE):
        return {nm: NOISE_COLOUR if nm == NOISE else _named_colour(nm) for nm in names}  # type: ignore[misc]
    out: dict[str, RGB] = {}
    i = 0
    for name in names:
        if name == NOISE:
            out[name] = NOISE_COLOUR
            continue
        out[name] = tuple(int(v) for v in palette[i % len(palette)])  # type: ignore[assignment]
        i += 1
    return out


def _named_colour(name: str) -> RGB | None:
    from PIL import ImageColor

    key = name.strip().lower().replace(" ", "")
    if key not in ImageColor.colormap:  # only names, never "#hex" or "rgb(...)" labels
        return None
    return tuple(int(v) for v in ImageColor.getrgb(key)[:3])  # type: ignore[return-value]


def rgb_css(c: RGB) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def cluster_names(clusters: np.ndarray) -> np.ndarray:
    """HDBSCAN cluster ids -> sortable text ("cluster 01", ..., "noise" for -1)."""
    clusters = np.asarray(clusters)
    width = max(2, len(str(int(clusters.max(initial=0)))))
    return np.array([NOISE if c < 0 else f"cluster {int(c):0{width}d}" for c in clusters], dtype=object)


def thumbnails(
    paths: Sequence[str],
    size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """(n, size, size, 3) uint8: each image centre-cropped to a square and resized.

    An unreadable file gives a mid-grey tile (the descriptors already list such files as
    failures; a picture must not crash over one). progress(done, total) every 64 images."""
    if size < 4:
        raise LayerScopeError(f"Thumbnail size must be at least 4 pixels, got {size}.")
    n = len(paths)
    out = np.full((n, size, size, 3), 128, dtype=np.uint8)
    for i, p in enumerate(paths):
        try:
            img = load_image(p, max_side=4 * size)  # decode big JPEGs at reduced scale
        except LayerScopeError:
            img = None
        if img is not None:
            w, h = img.size
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            img = img.crop((left, top, left + s, top + s)).resize((size, size), Image.Resampling.LANCZOS)
            out[i] = np.asarray(img, dtype=np.uint8)
        if progress is not None and (i % 64 == 63 or i == n - 1):
            progress(i + 1, n)
    return out


def selected_indices(points: Iterable[Mapping[str, Any]] | None, n: int) -> list[int]:
    """Image indices from the points of a Streamlit plotly selection.

    Every selectable trace carries the image index as ``customdata[0]`` (point_index is per
    trace, so it cannot be used when there is one trace per label). Points without it (e.g. a
    legend-only trace) and out-of-range indices are ignored; duplicates are dropped; the
    order is ascending."""
    out: set[int] = set()
    for p in points or []:
        cd = p.get("customdata") if isinstance(p, Mapping) else None
        if isinstance(cd, (list, tuple)) and cd:
            cd = cd[0]
        try:
            i = int(cd)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if 0 <= i < n:
            out.add(i)
    return sorted(out)


def legend_strip(
    names: Sequence[str],
    colours: Sequence[RGB],
    width: int,
    swatch: int = 18,
    background: RGB = (255, 255, 255),
    title: str | None = None,
) -> np.ndarray:
    """(h, width, 3) uint8 strip with a coloured square and the text of every label, wrapped
    into as many lines as needed (for the exported PNG, which has no plotly legend)."""
    if len(names) != len(colours):
        raise LayerScopeError("legend_strip needs one colour per name.")
    if width < 4 * swatch:
        raise LayerScopeError(f"legend_strip width {width} is too small for swatches of {swatch} px.")
    font = _font(max(10, swatch - 4))
    pad, gap = swatch // 2, swatch
    items = ([(title, None)] if title else []) + list(zip(names, colours))
    # Lay out first (to know the height), then draw.
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    x, y, placed = pad, pad, []
    for text, colour in items:
        tw = int(probe.textlength(str(text), font=font))
        w = tw + (swatch + 6 if colour is not None else 0)
        if x > pad and x + w > width - pad:
            x, y = pad, y + swatch + pad
        placed.append((x, y, str(text), colour))
        x += w + gap
    h = y + swatch + pad
    img = Image.new("RGB", (width, h), tuple(background))
    draw = ImageDraw.Draw(img)
    for x, y, text, colour in placed:
        if colour is not None:
            draw.rectangle([x, y, x + swatch - 1, y + swatch - 1], fill=tuple(colour), outline=(60, 60, 60))
            x += swatch + 6
        draw.text((x, y + swatch // 2), text, fill=(20, 20, 20), font=font, anchor="lm")
    return np.asarray(img, dtype=np.uint8)


def stack_with_legend(image: np.ndarray, legend: np.ndarray) -> np.ndarray:
    """The picture with the legend strip below it (the narrower one padded white)."""
    image, legend = np.asarray(image, np.uint8), np.asarray(legend, np.uint8)
    w = max(image.shape[1], legend.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, w - a.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    return np.concatenate([pad(image), pad(legend)], axis=0)


def png_bytes(image: np.ndarray) -> bytes:
    """HxWx3 uint8 -> PNG file contents."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise LayerScopeError(f"png_bytes needs an HxWx3 uint8 array, got {a.shape} {a.dtype}.")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except TypeError:  # very old Pillow: fixed bitmap font
        return ImageFont.load_default()
