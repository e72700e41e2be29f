"""Files a page shows or receives, handled so a bad file is a grey tile or a message, never a crash.

`st.image(path)` hands the raw file to Streamlit, which crashes on truncated files, 16-bit PNGs and
decompression bombs (and would serve any file it is given). Pages show dataset images through
:func:`show_images` (decoded by the one image loader, reduced, capped) and read uploads through
:func:`read_upload` (size cap before decoding).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import streamlit as st

from analysis.errors import LayerScopeError
from analysis.layouts.thumbnails import thumbnails
from analysis.limits import Limits, check_upload
from analysis.pictures import jpeg_bytes


@st.cache_data(max_entries=64, show_spinner=False)
def _thumbs(paths: tuple[bytes, ...], side: int) -> np.ndarray:
    # Small uint8 tiles only (n x side x side x 3): cheap to keep, no file is read twice per rerun.
    # Keyed by the paths' bytes: non-UTF-8 file names cannot be hashed as text.
    return thumbnails([os.fsdecode(p) for p in paths], size=side)


@st.cache_data(max_entries=64, show_spinner=False)
def _jpegs(tiles: np.ndarray) -> list[bytes]:
    # Streamlit encodes arrays as JPEG at quality 100: 35 KB per 192-px photo tile of the built-in set,
    # 1.7 MB for the Clustering page's gallery of 48, fetched by the browser on every visit. At quality
    # 90: 12 KB (0.6 MB), no visible difference at 96 px; Streamlit passes JPEG bytes through as they are.
    return [jpeg_bytes(t, quality=90) for t in tiles]


def show_images(paths: Sequence[str], width: int = 96, caption: Sequence[str] | str | None = None) -> None:
    """Thumbnails of dataset files (unreadable ones as mid-grey tiles), at most 2x `width` px decoded."""
    if not len(paths):
        return
    side = int(min(448, max(32, 2 * width)))
    tiles = _thumbs(tuple(os.fsencode(str(p)) for p in paths), side)
    st.image(_jpegs(tiles), caption=list(caption) if isinstance(caption, (list, tuple)) else caption, width=width)


def read_upload(upload, limits: Limits | None = None) -> bytes:
    """An st.file_uploader file's bytes, refused (LayerScopeError) above the upload cap before decoding."""
    limits = limits or Limits.from_env()
    size = getattr(upload, "size", None)
    check_upload(int(size) if size is not None else 0, upload.name, limits)
    data = upload.getvalue()
    check_upload(len(data), upload.name, limits)
    if not data:
        raise LayerScopeError(f"{upload.name}: the file is empty.")
    return data


def tile(path: str, side: int = 224) -> np.ndarray:
    """One dataset image as a square uint8 tile (mid-grey when unreadable), for pages mixing dataset
    images with uploads in one st.image call."""
    return _thumbs((os.fsencode(str(path)),), side)[0]
