"""Random transforms applied to the image before every forward pass (Lucent's `transform`).

`pad`, `jitter`, `random_scale`, `random_rotate`; `standard_transforms()` is Lucent's list. The
result must excite the unit robustly under them, which removes most adversarial high-frequency
noise. A transform is (B,3,H,W) image, torch.Generator -> image.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from analysis.errors import LayerScopeError


@dataclass
class Transform:
    fn: Callable[[torch.Tensor, torch.Generator], torch.Tensor] = field(repr=False)
    spec: dict[str, Any]

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.fn(x, gen)


def _choice(options: Sequence[float], gen: torch.Generator) -> float:
    return float(options[int(torch.randint(len(options), (1,), generator=gen))])


def pad(width: int, mode: str = "constant", value: float = 0.5) -> Transform:
    """Pad every side by `width` px (constant grey by default, or "reflect"/"replicate")."""
    if mode not in ("constant", "reflect", "replicate"):
        raise LayerScopeError(f"pad mode must be constant, reflect or replicate, not '{mode}'.")
    return Transform(lambda x, g: F.pad(x, [width] * 4, mode=mode, value=value if mode == "constant" else None),
                     {"kind": "pad", "width": width, "mode": mode, "value": value})


def jitter(d: int) -> Transform:
    """Random crop that removes d px in each direction in total (Lucid's jitter): shifts by 0..d."""
    if d < 1:
        raise LayerScopeError(f"jitter needs d >= 1, got {d}.")

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        dy, dx = (int(v) for v in torch.randint(d + 1, (2,), generator=g))
        h, w = x.shape[-2:]
        return x[..., dy:h - d + dy, dx:w - d + dx]

    return Transform(fn, {"kind": "jitter", "d": d})


def random_scale(scales: Sequence[float]) -> Transform:
    """Resize by a factor drawn from `scales` (bilinear)."""
    opts = [float(s) for s in scales]

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        s = _choice(opts, g)
        h, w = x.shape[-2:]
        return F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear",
                             align_corners=False)

    return Transform(fn, {"kind": "random_scale", "scales": opts})


def random_rotate(angles: Sequence[float]) -> Transform:
    """Rotate about the centre by an angle (degrees) drawn from `angles`; borders replicate."""
    opts = [float(a) for a in angles]

    def fn(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        a = np.deg2rad(_choice(opts, g))
        if a == 0:
            return x
        theta = torch.tensor([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0]],
                             dtype=x.dtype, device=x.device)
        grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    return Transform(fn, {"kind": "random_rotate", "angles": opts})


def standard_transforms() -> list[Transform]:
    """Lucent's `standard_transforms`: pad 12 (grey), jitter 8, scale 0.9..1.1, rotate -10..10, jitter 4."""
    return [
        pad(12, mode="constant", value=0.5),
        jitter(8),
        random_scale([1 + (i - 5) / 50.0 for i in range(11)]),
        random_rotate(list(range(-10, 11)) + 5 * [0]),
        jitter(4),
    ]
