"""The torch engine: one forward per batch, each block pooled by the one hook helper."""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch

from analysis.models.hooks import capture, run_until
from analysis.models.model import Model

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def gap(o: torch.Tensor) -> torch.Tensor:
    """Global average pool of a block output: NCHW maps -> mean over H, W; tokens (N, L, C) -> mean over L."""
    o = o.float()
    if o.ndim == 4:
        return o.mean(dim=(2, 3))
    if o.ndim == 3:
        return o.mean(dim=1)
    return o.flatten(1)


class TorchEngine:
    """fp32, or bf16/fp16 autocast, on the model's own device; channels_last on CPU and CUDA.

    The forward stops right after the last block (the classifier head is never run). On CUDA
    the batch goes through pinned memory with a non-blocking copy, so the next batch decodes
    while the GPU works (not yet measured on a GPU).
    """

    name = "torch"

    def __init__(self, model: Model, precision: str = "fp32"):
        if precision not in DTYPES:
            raise ValueError(f"torch precision must be one of {list(DTYPES)}, got {precision!r}")
        self.model, self.precision, self.dtype = model, precision, DTYPES[precision]
        self.device = str(model.device)
        self.modules = {b.index: model.module(b) for b in model.blocks}
        self.last = model.blocks[-1].index
        self.channels_last = model.device.type in ("cpu", "cuda")
        if self.channels_last:
            model.net.to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> dict[int, np.ndarray]:
        dev = self.model.device
        if dev.type == "cuda" and not x.is_pinned():
            x = x.pin_memory()
        x = x.to(dev, non_blocking=True)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        ctx = torch.autocast(dev.type, dtype=self.dtype) if self.dtype is not None else nullcontext()
        with self.model.lock, ctx, capture(self.modules, gap, stop_after=self.last) as out:
            run_until(self.model.net, x)
            return {i: out[i].float().cpu().numpy() for i in sorted(out)}
