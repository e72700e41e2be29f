"""What every engine is, and the one fidelity measure they are judged by."""
from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

MIN_COSINE = 0.999  # an engine/precision is kept only while every descriptor stays this close to fp32 torch


class EngineUnavailable(Exception):
    """This engine cannot run this model here (not installed, export failed, precision unsupported)."""


class Engine(Protocol):
    name: str  # "torch" | "openvino"
    precision: str  # "fp32" | "bf16" | "fp16"
    device: str  # where it computes, e.g. "cpu", "cuda:0"

    def __call__(self, x: torch.Tensor) -> dict[int, np.ndarray]:
        """Normalised batch (N, 3, H, W) -> {block index: (N, channels) float32}."""
        ...


def worst_cosine(a: dict[int, np.ndarray], b: dict[int, np.ndarray]) -> float:
    """Smallest per-image cosine between two engines' descriptors over every block (NaN -> -1)."""
    worst = 1.0
    for i in a:
        num = (a[i] * b[i]).sum(1, dtype=np.float64)
        den = np.linalg.norm(a[i], axis=1) * np.linalg.norm(b[i], axis=1) + 1e-12
        c = float((num / den).min())
        worst = min(worst, c) if np.isfinite(c) else -1.0  # NaN must not pass for "close to fp32"
    return worst
