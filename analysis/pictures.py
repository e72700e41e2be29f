"""Composite pictures: images side by side, a legend strip under a picture, a captioned row of
thumbnails, and the bytes to send them (PNG for downloads; a data URI or JPEG to show them on a
page). Pure numpy / PIL, shared by the layout, channel and label-noise pages.
"""
from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from analysis.errors import LayerScopeError

RGB = tuple[int, int, int]


def _checked(image: np.ndarray, who: str) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise LayerScopeError(f"{who} needs an HxWx3 or HxW uint8 array, got {a.shape} {a.dtype}.")
    return np.ascontiguousarray(a)


def png_bytes(image: np.ndarray) -> bytes:
    """HxWx3 (or HxW grey) uint8 array -> PNG file contents."""
    buf = io.BytesIO()
    Image.fromarray(_checked(image, "png_bytes")).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def display_uri(image: np.ndarray, lossless_up_to: int = 768, quality: int = 85) -> str:
    """A data URI for showing `image` in the browser: exact PNG up to `lossless_up_to` px on the long
    side; above it a JPEG (`quality`, no chroma subsampling, so thin coloured borders keep their hue).
    Measured on the GridCut of the 1000 built-in images: at 1024 px (32-px cells) the URI is 2.1 MB as
    PNG and 0.86 MB as this JPEG (1.2 MB at quality 92); at 1536 px (48-px cells) 2.3 MB as a quality-92
    JPEG. The browser receives and decodes it on every first visit, so bytes here are page time; the
    small demo grids (720 px) stay exact. Downloads stay PNG."""
    import base64

    a = _checked(image, "display_uri")
    if max(a.shape[:2]) <= lossless_up_to:
        return "data:image/png;base64," + base64.b64encode(png_bytes(a)).decode()
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=quality, subsampling=0)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def hstack_images(images: Sequence[np.ndarray], height: int | None = None, gap: int = 4,
                  background: int = 255) -> np.ndarray:
    """Side-by-side composite of HxWx3 uint8 images, each resized to `height` (default: the
    tallest), separated by `gap` px of `background`."""
    imgs = [np.asarray(i) for i in images]
    if not imgs:
        raise LayerScopeError("No images to put side by side.")
    for i in imgs:
        if i.ndim != 3 or i.shape[2] != 3:
            raise LayerScopeError(f"Expected HxWx3 images, got shape {i.shape}.")
    h = int(height or max(i.shape[0] for i in imgs))
    tiles = []
    for i in imgs:
        w = max(1, round(i.shape[1] * h / i.shape[0]))
        pil = Image.fromarray(i.astype(np.uint8))
        tiles.append(np.asarray(pil if pil.size == (w, h) else pil.resize((w, h), Image.Resampling.BILINEAR)))
    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    out = np.full((h, width, 3), background, dtype=np.uint8)
    x = 0
    for t in tiles:
        out[:, x:x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out


def legend_strip(
    names: Sequence[str],
    colours: Sequence[RGB],
    width: int,
    swatch: int = 18,
    background: RGB = (255, 255, 255),
    title: str | None = None,
) -> np.ndarray:
    """(h, width, 3) uint8 strip with a coloured square and the text of every label, wrapped
    into as many lines as needed (for an exported PNG, which has no plotly legend)."""
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


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    """HxWx3 (or HxW grey) uint8 array -> JPEG file contents (photos shown on a page, not downloads)."""
    buf = io.BytesIO()
    Image.fromarray(_checked(image, "jpeg_bytes")).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def captioned_row(
    tiles: Sequence[np.ndarray],
    captions: Sequence[str],
    swatches: Sequence[RGB | None] | None = None,
    gap: int = 4,
    font_size: int = 12,
    lines: int = 2,
    background: RGB = (255, 255, 255),
    text: RGB = (70, 72, 82),
) -> np.ndarray:
    """One picture of a row of thumbnails, each with its caption drawn below it.

    tiles: HxWx3 uint8 images of one size, side by side with `gap` px between them. Each caption is
    word-wrapped to the tile's width, at most `lines` lines (a longer one ends with "…"), after a
    small square of `swatches[i]` when given (e.g. the colour of the image's label). A page that
    shows rows of thumbnails sends one picture per row this way instead of one element per tile:
    one file for the browser to fetch and lay out."""
    imgs = [np.asarray(t) for t in tiles]
    if not imgs:
        raise LayerScopeError("No tiles to put in a row.")
    if len(captions) != len(imgs) or (swatches is not None and len(swatches) != len(imgs)):
        raise LayerScopeError("captioned_row needs one caption (and one swatch, when given) per tile.")
    h, w = imgs[0].shape[:2]
    for t in imgs:
        if t.dtype != np.uint8 or t.shape != (h, w, 3):
            raise LayerScopeError(f"captioned_row needs {h}x{w}x3 uint8 tiles, got {t.shape} {t.dtype}.")
    font = _font(font_size)
    line_h = font_size + 3
    box = max(6, font_size - 3)  # the swatch square, on the first line
    out = Image.new("RGB", (len(imgs) * w + gap * (len(imgs) - 1), h + 4 + lines * line_h), tuple(background))
    draw = ImageDraw.Draw(out)
    for k, tile in enumerate(imgs):
        x = k * (w + gap)
        out.paste(Image.fromarray(np.ascontiguousarray(tile)), (x, 0))
        colour = None if swatches is None else swatches[k]
        indent = box + 4 if colour is not None else 0
        if colour is not None:
            top = h + 4 + (line_h - box) // 2
            draw.rectangle([x, top, x + box - 1, top + box - 1], fill=tuple(colour), outline=(90, 90, 90))
        for j, line in enumerate(_wrap(str(captions[k]), w - indent, w, lines, font, draw)):
            draw.text((x + (indent if j == 0 else 0), h + 4 + j * line_h), line, fill=tuple(text), font=font)
    return np.asarray(out, dtype=np.uint8)


def _wrap(text: str, first: int, width: int, lines: int, font, draw) -> list[str]:
    """Greedy word wrap into at most `lines` lines (the first `first` px wide, the others `width`);
    the last line takes what is left, and a line that does not fit is cut with an ellipsis."""
    words, out = text.split(), []
    for i in range(lines):
        if not words:
            break
        limit = first if i == 0 else width
        fits = lambda s: draw.textlength(s, font=font) <= limit  # noqa: E731
        line = words.pop(0)
        while words and fits(f"{line} {words[0]}"):
            line = f"{line} {words.pop(0)}"
        if i == lines - 1 and words:
            line, words = " ".join([line, *words]), []
        if not fits(line):
            while line and not fits(line + "…"):
                line = line[:-1]
            line = line.rstrip() + "…"
        out.append(line)
    return out


def stack_with_legend(image: np.ndarray, legend: np.ndarray) -> np.ndarray:
    """The picture with the legend strip below it (the narrower one padded white)."""
    image, legend = np.asarray(image, np.uint8), np.asarray(legend, np.uint8)
    w = max(image.shape[1], legend.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, w - a.shape[1]), (0, 0)), constant_values=255)  # noqa: E731
    return np.concatenate([pad(image), pad(legend)], axis=0)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # scalable when Pillow has FreeType
    except TypeError:  # very old Pillow: fixed bitmap font
        return ImageFont.load_default()
