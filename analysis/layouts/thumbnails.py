"""Thumbnails of dataset images for the layout pages (UMAP scatter, GridCut grid). Pure numpy / PIL.

Label colours are in `analysis.layouts.palette`, composite pictures and PNG bytes in
`analysis.pictures`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from analysis.data.images import load_image
from analysis.errors import LayerScopeError
from analysis.progress import Progress, report


def thumbnails(paths: Sequence[str], size: int = 64, progress: Progress | None = None) -> np.ndarray:
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
        if i % 64 == 63 or i == n - 1:
            report(progress, i + 1, n, "thumbnails")
    return out
