"""Embed one new image (e.g. an upload) the way the cache embeds the dataset: every block's GAP.

Same preprocessing (`Model.preprocess`) and the same pooling (the torch engine's hooks) as
`extract()`, in fp32, so the vector is directly comparable with the cached descriptors of
the same model (tested: cosine >= 0.999 with the cached row of a dataset image).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from analysis.descriptors.engines import TorchEngine
from analysis.errors import LayerScopeError
from analysis.models.model import Model


def embed_images(model: Model, images: list[Image.Image]) -> dict[int, np.ndarray]:
    """{block index (1-based): (len(images), channels) float32} for a few PIL images."""
    if not images:
        raise LayerScopeError("no image to embed; give at least one.")
    import torch

    x = torch.stack([model.preprocess(im) for im in images])
    out = TorchEngine(model, "fp32")(x)  # fp32: the uploaded vector must match the cached fp32 space
    return {i: a.astype(np.float32) for i, a in sorted(out.items())}


def embed_image(model: Model, image: Image.Image) -> dict[int, np.ndarray]:
    """{block index (1-based): (channels,) float32} GAP descriptor of one PIL image per block."""
    return {i: a[0] for i, a in embed_images(model, [image]).items()}
