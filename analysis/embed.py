"""Embed one new image (e.g. an upload) the way the cache embeds the dataset: every block's GAP.

Same preprocessing (`Model.preprocess`) and the same pooling hooks (`extract.Pooler`) as
`extract()`, in fp32, so the vector is directly comparable with the cached descriptors of
the same model (tested: cosine >= 0.999 with the cached row of a dataset image).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import LayerScopeError
from .extract import Pooler
from .images import IMAGE_EXTENSIONS, load_image
from .models import Model


def embed_images(model: Model, images: list[Image.Image]) -> dict[int, np.ndarray]:
    """{block index (1-based): (len(images), channels) float32} for a few PIL images."""
    if not images:
        raise LayerScopeError("no image to embed; give at least one.")
    import torch

    x = torch.stack([model.preprocess(im) for im in images])
    with Pooler(model) as pooler:
        out = pooler(x, None)  # fp32: the uploaded vector must match the cached fp32 space
    return {i: a.astype(np.float32) for i, a in sorted(out.items())}


def embed_image(model: Model, image: Image.Image) -> dict[int, np.ndarray]:
    """{block index (1-based): (channels,) float32} GAP descriptor of one PIL image per block."""
    return {i: a[0] for i, a in embed_images(model, [image]).items()}


def image_from_bytes(data: bytes, name: str = "upload.png") -> Image.Image:
    """Decode uploaded bytes with the one image loader (CMYK, RGBA, 16-bit… -> 8-bit RGB).

    Raises LayerScopeError naming the upload when it is not a readable image.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        suffix = ".img"  # PIL reads by content, not by extension
    fd, tmp = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return load_image(tmp)
        except LayerScopeError as exc:
            raise LayerScopeError(str(exc).replace(tmp, name)) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
