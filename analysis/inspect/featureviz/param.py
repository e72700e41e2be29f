"""Image parameterizations (Lucent's `param`): free parameters -> a (B, 3, H, W) image in [0, 1].

`pixel_image` (raw pixels through a sigmoid) or `fft_image` (Lucid/Lucent's scaled Fourier
spectrum, 1/f so low frequencies dominate, with decorrelated colour: the optimiser works in a
whitened colour basis mapped back with Lucid's ImageNet colour-correlation square root).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from analysis.errors import LayerScopeError

# Lucid's square root of the ImageNet colour correlation matrix (rows: R, G, B), normalised.
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32)
COLOR_CORRELATION = COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))


@dataclass
class ImageParam:
    """Free parameters + the function that maps them to a (B, 3, H, W) image in [0, 1]."""

    params: list[torch.Tensor]
    image_fn: Callable[[], torch.Tensor] = field(repr=False)
    spec: dict[str, Any]

    def image(self) -> torch.Tensor:
        return self.image_fn()

    @property
    def batch(self) -> int:
        return int(self.spec["batch"])


def _to_rgb(t: torch.Tensor, decorrelate: bool) -> torch.Tensor:
    if decorrelate:
        m = torch.as_tensor(COLOR_CORRELATION, device=t.device)
        t = torch.einsum("ij,bjhw->bihw", m, t)
    return torch.sigmoid(t)


def _from_rgb(rgb: torch.Tensor, decorrelate: bool) -> torch.Tensor:
    t = torch.logit(rgb.clamp(1e-3, 1 - 1e-3))
    if decorrelate:
        inv = torch.as_tensor(np.linalg.inv(COLOR_CORRELATION), device=t.device)
        t = torch.einsum("ij,bjhw->bihw", inv, t)
    return t


def _as_init(init: np.ndarray | torch.Tensor, batch: int, size: tuple[int, int]) -> torch.Tensor:
    """(B,H,W,3) uint8 or float [0,1] images -> (B,3,H,W) float in [0,1]."""
    a = torch.as_tensor(np.asarray(init))
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise LayerScopeError(f"init must be (B,H,W,3) images, got shape {tuple(a.shape)}.")
    a = a.float() / 255 if a.dtype == torch.uint8 else a.float()
    if tuple(a.shape[1:3]) != size or a.shape[0] != batch:
        raise LayerScopeError(f"init is {tuple(a.shape)}, expected ({batch}, {size[0]}, {size[1]}, 3).")
    return a.permute(0, 3, 1, 2)


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 8 or w < 8:
        raise LayerScopeError(f"Image size {h}x{w} is too small (min 8 px).")
    return h, w


def pixel_image(batch: int, size: int | tuple[int, int] = 128, sd: float = 0.01, decorrelate: bool = False,
                random_state: int = 0, device: str | torch.device = "cpu",
                init: np.ndarray | None = None) -> ImageParam:
    """Raw pixels (pre-sigmoid), Lucent's `pixel_image`."""
    h, w = _size(size)
    g = torch.Generator().manual_seed(int(random_state))
    t = torch.randn(batch, 3, h, w, generator=g) * sd
    if init is not None:
        t = _from_rgb(_as_init(init, batch, (h, w)), decorrelate)
    t = t.to(device).requires_grad_(True)
    return ImageParam([t], lambda: _to_rgb(t, decorrelate),
                      {"kind": "pixels", "batch": batch, "size": [h, w], "sd": sd, "decorrelate": decorrelate,
                       "random_state": int(random_state), "init": init is not None})


def rfft2d_freqs(h: int, w: int) -> np.ndarray:
    """|frequency| of every rfft2 coefficient of an h x w image, shape (h, w // 2 + 1)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx * fx + fy * fy)


def fft_image(batch: int, size: int | tuple[int, int] = 128, sd: float = 0.01, decay_power: float = 1.0,
              decorrelate: bool = True, random_state: int = 0, device: str | torch.device = "cpu",
              init: np.ndarray | None = None) -> ImageParam:
    """Lucid/Lucent's Fourier parameterization: spectrum coefficients scaled by 1/|f|^decay_power,
    inverse real FFT (orthonormal), / 4 (Lucid's constant), decorrelated colour, sigmoid.

    `init` (B,H,W,3) starts from given images instead of noise (exact inverse of the mapping,
    up to clipping at 0/1)."""
    h, w = _size(size)
    freqs = rfft2d_freqs(h, w)
    scale = torch.as_tensor(1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay_power, dtype=torch.float32)
    scale = scale[None, None, :, :, None].to(device)
    g = torch.Generator().manual_seed(int(random_state))
    spec = torch.randn(batch, 3, *freqs.shape, 2, generator=g) * sd
    if init is not None:
        t = _from_rgb(_as_init(init, batch, (h, w)), decorrelate) * 4.0
        coeffs = torch.view_as_real(torch.fft.rfft2(t, norm="ortho"))
        spec = coeffs / scale.cpu()
    spec = spec.to(device).requires_grad_(True)

    def image() -> torch.Tensor:
        t = torch.fft.irfft2(torch.view_as_complex(scale * spec), s=(h, w), norm="ortho") / 4.0
        return _to_rgb(t, decorrelate)

    return ImageParam([spec], image,
                      {"kind": "fft", "batch": batch, "size": [h, w], "sd": sd, "decay_power": decay_power,
                       "decorrelate": decorrelate, "random_state": int(random_state), "init": init is not None})
