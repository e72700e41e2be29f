"""Numeric drawing helpers shared by the garments generator: colour conversion, anti-aliased
coverage of signed distances, periodic bands, motif cells and smooth noise (all float32)."""
from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image

SS = 2  # supersampling of silhouette, seams and houndstooth (other patterns are anti-aliased analytically)
F = np.float32


def hsv(h_deg: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb((h_deg % 360.0) / 360.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return np.array([r, g, b], dtype=F)


def luma(c: np.ndarray) -> float:
    return float(c @ np.array([0.299, 0.587, 0.114], F))


def aa(d: np.ndarray, px: float) -> np.ndarray:
    """Anti-aliased coverage of a signed distance field (negative inside), edge ~1 pixel wide."""
    return np.clip(F(0.5) - d * F(1.0 / px), 0, 1)


def mix(rgb: np.ndarray, colour: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Paint ``colour`` over ``rgb`` with coverage ``m`` (in place)."""
    m3 = m[..., None]
    rgb += (colour - rgb) * m3
    return rgb


def band(t: np.ndarray, period: float, width: float, px: float) -> np.ndarray:
    """Periodic stripes of ``width`` centred on multiples of ``period`` (anti-aliased).

    Stripes thinner than a pixel are drawn one pixel wide at proportionally lower opacity, so
    their area (and the garment's mean colour) does not depend on the image size."""
    f = t * F(1.0 / period)
    dist = np.abs(f - np.round(f)) * F(period)
    return line_cover(dist, width, px)


def line_cover(dist: np.ndarray, width: float, px: float) -> np.ndarray:
    """Coverage of a line of ``width`` given the distance to its centre line, area-preserving."""
    m = aa(dist - F(max(width, px) / 2), px)
    return m * F(width / px) if width < px else m


def rotate(u: np.ndarray, v: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    a = math.radians(deg)
    c, s = F(math.cos(a)), F(math.sin(a))
    return u * c + v * s, -u * s + v * c


def motif_cells(u: np.ndarray, v: np.ndarray, cell: float, offset_rows: bool = True):
    """Brick/hex-like grid of motif cells: (row, col, du, dv) with du/dv relative to the cell centre."""
    fv = v * F(1.0 / cell)
    row = np.floor(fv).astype(np.int32)
    fu = u * F(1.0 / cell)
    if offset_rows:
        fu = fu + (row & 1).astype(F) * F(0.5)
    col = np.floor(fu).astype(np.int32)
    du = (fu - col - F(0.5)) * F(cell)
    dv = (fv - row - F(0.5)) * F(cell)
    return row, col, du, dv


def per_cell(rng: np.random.Generator, row: np.ndarray, col: np.ndarray, k: int,
              low: float = 0.0, high: float = 1.0) -> list[np.ndarray]:
    """k independent uniform values per cell, looked up per pixel (cell table from ``rng``)."""
    r0, c0 = int(row.min()), int(col.min())
    shape = (int(row.max()) - r0 + 1, int(col.max()) - c0 + 1)
    ri, ci = row - r0, col - c0
    return [rng.uniform(low, high, size=shape).astype(F)[ri, ci] for _ in range(k)]


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth value noise in ~[-1, 1]: a coarse random grid upsampled bicubically."""
    h, w = shape
    g = rng.standard_normal((cells + 1, cells + 1)).astype(F)
    z = np.asarray(Image.fromarray(g).resize((w, h), Image.Resampling.BICUBIC), dtype=F)
    return z / F(max(float(np.abs(z).max()), 1e-6))

