"""The one image loader: any readable file -> 8-bit RGB PIL image, or a LayerScopeError saying why."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from analysis.errors import LayerScopeError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
MAX_PIXELS = 178_956_970  # PIL's own bomb limit; above it we refuse instead of decoding gigabytes
# The pixel cap in force: LAYERSCOPE_MAX_PIXELS (the dashboard's decode cap) when set, else MAX_PIXELS.
# Checked on the size a file will be decoded at (JPEGs are decoded reduced), before decoding.
WORK_SIDE = 1024  # huge images are reduced while decoding: the model sees <= 224-ish px anyway


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def shown(path: str | Path) -> str:
    """A path as text safe to print or send to a browser: undecodable bytes of non-UTF-8 file
    names (kept as surrogates by Python) become U+FFFD instead of crashing the encoder."""
    import os

    return os.fsencode(str(path)).decode("utf-8", "replace")


def max_pixels() -> int:
    import os

    raw = os.environ.get("LAYERSCOPE_MAX_PIXELS", "").strip()
    try:
        return int(float(raw)) if raw and float(raw) > 0 else MAX_PIXELS
    except ValueError:
        return MAX_PIXELS


def _to_8bit_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit / float grayscale: stretch the actual range to 0..255 (a plain convert clips).
        a = np.asarray(img, dtype=np.float32)
        lo, hi = np.nanmin(a), np.nanmax(a)
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        img = Image.fromarray(a.astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels become mid-grey rather than whatever colour hides under alpha.
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        img = Image.alpha_composite(bg, rgba)
    return img.convert("RGB")


def load_image(path: str | Path, max_side: int | None = WORK_SIDE, min_side: int | None = None) -> Image.Image:
    """Open any image file as 8-bit RGB (CMYK, RGBA, 16-bit, grayscale, palette all handled).

    min_side: JPEGs are decoded at the smallest DCT scale whose both sides stay >= min_side
    (the extractor passes the model's resize side: it shrinks the image further anyway).

    Raises LayerScopeError naming the file when it is missing, not an image, truncated or too big.
    """
    path = Path(path)
    name = shown(path)
    if not path.is_file():
        raise LayerScopeError(f"{name}: file not found.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if (min_side or max_side) and img.format == "JPEG":  # decode big JPEGs at reduced scale
                    side = min(min_side or max_side, max_side or min_side)
                    img.draft("RGB", (side, side))
                cap = max_pixels()
                if img.width * img.height > cap:  # checked before decoding a single pixel
                    raise LayerScopeError(
                        f"{name}: {img.width}x{img.height} pixels is above the decode limit of {cap:,} pixels; "
                        "downscale it (e.g. to 2048 px on the long side)."
                    )
                img.load()
                img = ImageOps.exif_transpose(img)
                img = _to_8bit_rgb(img)  # before resizing: 16-bit/float modes cannot be resampled
                if max_side and max(img.size) > max_side:
                    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                return img
    except LayerScopeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LayerScopeError(f"{name}: image too large ({exc}). Downscale it.") from exc
    except (OSError, SyntaxError, ValueError, MemoryError, Image.UnidentifiedImageError) as exc:
        # PIL's errors for unknown/truncated data (and absurd headers that fail to allocate)
        kind = "not an image PIL can read" if "cannot identify" in str(exc) else f"unreadable ({exc})"
        raise LayerScopeError(f"{name}: {kind}. Remove or replace the file.") from exc


def image_from_bytes(data: bytes, name: str = "upload.png") -> Image.Image:
    """An uploaded file's bytes -> 8-bit RGB, through `load_image` (same formats, same checks).

    Raises LayerScopeError naming the upload (not a temporary file) when it is empty or unreadable.
    """
    import os
    import tempfile

    if not data:
        raise LayerScopeError(f"{name}: the file is empty.")
    suffix = Path(name).suffix.lower()
    fd, tmp = tempfile.mkstemp(suffix=suffix if suffix in IMAGE_EXTENSIONS else ".img")  # PIL reads by content
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return load_image(tmp)
        except LayerScopeError as exc:
            raise LayerScopeError(str(exc).replace(tmp, name)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
