"""Built-in synthetic dataset ``garments``: clothing silhouettes with a colour and a pattern label.

Everything is drawn by this module (numpy + PIL + scipy.ndimage), deterministic from a seed, so the
dashboard has a labelled dataset without any download. Two label axes that live at different
depths of a CNN (colour: shallow, pattern/texture: middle) make it a good probe for "which block
encodes what".

Public API::

    COLOURS, PATTERNS, GARMENTS, GENERATOR_VERSION
    render_garment(colour, pattern, garment, size=224, random_state=0) -> HxWx3 uint8
    render_garment_with_mask(...) -> (image, mask)     # mask: HxW float32 garment coverage 0..1
    garment_table(n=1000, random_state=0) -> DataFrame[file, colour, pattern, garment, seed]
    generate(out_dir, n=1000, size=224, random_state=0, progress=None) -> Path of labels.csv

An image depends only on its row (colour, pattern, garment, seed) and ``size``: rows can be
rendered in any order, in parallel or resumed, and the bytes are identical across runs.
"""
from __future__ import annotations

import colorsys
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw
from scipy import ndimage

from analysis.errors import LayerScopeError

COLOURS: tuple[str, ...] = (
    "yellow", "orange", "blue", "black", "brown", "red", "grey", "pink", "purple", "green",
)
PATTERNS: tuple[str, ...] = (
    "plain", "stripes", "polka_dot", "checks", "houndstooth",
    "argyle", "leopard", "floral", "paisley", "sequins",
)
GARMENTS: tuple[str, ...] = (
    "t_shirt", "shirt", "hoodie", "jacket", "dress", "skirt", "trousers", "shorts",
)
# Bump whenever the pixels produced for a given (row, size) change: it is part of the cache key.
GENERATOR_VERSION: int = 1

_SS = 2  # supersampling of silhouette, seams and houndstooth (other patterns are anti-aliased analytically)
_F = np.float32

# ----------------------------------------------------------------------------------------------
# colours
# ----------------------------------------------------------------------------------------------

# HSV jitter ranges per colour name (hue in degrees, may wrap; s, v in 0..1). Ranges are kept
# well inside the name so that shading and pattern accents do not push it into a neighbour.
_HSV_RANGES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "yellow": ((50.0, 58.0), (0.78, 1.0), (0.88, 1.0)),
    "orange": ((22.0, 31.0), (0.86, 1.0), (0.9, 1.0)),
    "blue": ((206.0, 230.0), (0.62, 0.92), (0.55, 0.9)),
    "black": ((0.0, 360.0), (0.0, 0.12), (0.05, 0.12)),
    "brown": ((19.0, 30.0), (0.5, 0.72), (0.3, 0.46)),
    "red": ((-5.0, 4.0), (0.8, 0.97), (0.68, 0.9)),
    "grey": ((0.0, 360.0), (0.0, 0.04), (0.5, 0.72)),
    "pink": ((332.0, 350.0), (0.3, 0.5), (0.9, 1.0)),
    "purple": ((268.0, 290.0), (0.48, 0.78), (0.4, 0.7)),
    "green": ((100.0, 140.0), (0.52, 0.85), (0.38, 0.72)),
}


def _hsv(h_deg: float, s: float, v: float) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb((h_deg % 360.0) / 360.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return np.array([r, g, b], dtype=_F)


class _Palette:
    """Base colour plus tones that keep the colour name (for large-coverage pattern parts) and
    neutral accents (for small-coverage parts: dots, thin lines, petals, highlights)."""

    def __init__(self, colour: str, rng: np.random.Generator) -> None:
        (h0, h1), (s0, s1), (v0, v1) = _HSV_RANGES[colour]
        h, s, v = rng.uniform(h0, h1), rng.uniform(s0, s1), rng.uniform(v0, v1)
        self.name = colour
        self.base = _hsv(h, s, v)
        white = np.array([0.96, 0.95, 0.92], _F) * _F(rng.uniform(0.94, 1.0))
        ink = np.array([0.07, 0.065, 0.06], _F)
        if colour == "black":
            # Black garments: pattern in charcoal / mid greys, never bright white at large area.
            self.dark = _hsv(h, s, rng.uniform(0.25, 0.3))      # charcoal: still reads "black"
            self.light = _hsv(h, s, rng.uniform(0.27, 0.32))
            self.accent_light = _hsv(h, 0.02, rng.uniform(0.45, 0.58))
            self.accent_dark = _hsv(h, s, rng.uniform(0.33, 0.42))
        elif colour == "grey":
            self.dark = _hsv(h, s, v * rng.uniform(0.7, 0.76))
            self.light = _hsv(h, s, min(v + rng.uniform(0.14, 0.2), 0.88))
            self.accent_light = white
            self.accent_dark = ink
        elif colour == "brown":
            self.dark = _hsv(h, s, v * 0.55)                     # dark chocolate
            self.light = _hsv(h + 3, s * 0.75, min(v * 1.5, 0.62))  # tan
            self.accent_light = _hsv(40, 0.25, 0.9)              # cream
            self.accent_dark = ink
        elif colour == "yellow":
            self.dark = _hsv(h, min(s + 0.05, 1), v * 0.78)      # mustard
            self.light = _hsv(h + 2, s * 0.55, 1.0)              # pale yellow
            self.accent_light = white
            self.accent_dark = _hsv(h - 8, 0.7, 0.28)            # dark olive-brown, not pure black
        elif colour == "orange":
            self.dark = _hsv(h - 6, 1.0, v * 0.78)               # burnt orange
            self.light = _hsv(h + 3, s * 0.78, 1.0)              # light orange
            self.accent_light = white
            self.accent_dark = _hsv(h - 8, 0.8, 0.3)
        elif colour == "red":
            self.dark = _hsv(h - 3, s, v * 0.6)                  # maroon
            self.light = _hsv(h + 6, min(s + 0.05, 1), min(v * 1.18, 1))  # brighter scarlet
            self.accent_light = white
            self.accent_dark = ink
        elif colour == "pink":
            self.dark = _hsv(h - 3, min(s + 0.1, 0.6), v * 0.8)     # rose
            self.light = _hsv(h, s * 0.55, 1.0)                     # pale pink
            self.accent_light = white
            self.accent_dark = _hsv(h, 0.7, 0.5)
        else:  # blue, purple, green: darker and lighter tones of the same hue
            self.dark = _hsv(h, min(s + 0.08, 1), v * 0.56)
            self.light = _hsv(h, s * 0.62, min(v * 1.3, 1.0))
            self.accent_light = white
            self.accent_dark = ink

    def contrast(self) -> np.ndarray:
        """The neutral accent that stands out most against the base (for outlines)."""
        return self.accent_light if _luma(self.base) < 0.42 else self.accent_dark

    def tone(self, rng: np.random.Generator) -> np.ndarray:
        """A same-name tone for parts covering a lot of the garment (visible against the base)."""
        if rng.random() < 0.6 or abs(_luma(self.light) - _luma(self.base)) < 0.12:
            return self.dark
        return self.light

    def accent(self, rng: np.random.Generator, min_contrast: float = 0.2) -> np.ndarray:
        """A small-coverage accent (same-name tone or neutral) that is visible on the base."""
        base = _luma(self.base)
        cands = [c for c in (self.dark, self.light, self.accent_light, self.accent_dark)
                 if abs(_luma(c) - base) >= min_contrast]
        return cands[int(rng.integers(len(cands)))] if cands else self.contrast()


def _luma(c: np.ndarray) -> float:
    return float(c @ np.array([0.299, 0.587, 0.114], _F))


# ----------------------------------------------------------------------------------------------
# small numeric helpers
# ----------------------------------------------------------------------------------------------


def _aa(d: np.ndarray, px: float) -> np.ndarray:
    """Anti-aliased coverage of a signed distance field (negative inside), edge ~1 pixel wide."""
    return np.clip(_F(0.5) - d * _F(1.0 / px), 0, 1)


def _mix(rgb: np.ndarray, colour: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Paint ``colour`` over ``rgb`` with coverage ``m`` (in place)."""
    m3 = m[..., None]
    rgb += (colour - rgb) * m3
    return rgb


def _band(t: np.ndarray, period: float, width: float, px: float) -> np.ndarray:
    """Periodic stripes of ``width`` centred on multiples of ``period`` (anti-aliased).

    Stripes thinner than a pixel are drawn one pixel wide at proportionally lower opacity, so
    their area (and the garment's mean colour) does not depend on the image size."""
    f = t * _F(1.0 / period)
    dist = np.abs(f - np.round(f)) * _F(period)
    return _line(dist, width, px)


def _line(dist: np.ndarray, width: float, px: float) -> np.ndarray:
    """Coverage of a line of ``width`` given the distance to its centre line, area-preserving."""
    m = _aa(dist - _F(max(width, px) / 2), px)
    return m * _F(width / px) if width < px else m


def _rot(u: np.ndarray, v: np.ndarray, deg: float) -> tuple[np.ndarray, np.ndarray]:
    a = math.radians(deg)
    c, s = _F(math.cos(a)), _F(math.sin(a))
    return u * c + v * s, -u * s + v * c


def _cells(u: np.ndarray, v: np.ndarray, cell: float, offset_rows: bool = True):
    """Brick/hex-like grid of motif cells: (row, col, du, dv) with du/dv relative to the cell centre."""
    fv = v * _F(1.0 / cell)
    row = np.floor(fv).astype(np.int32)
    fu = u * _F(1.0 / cell)
    if offset_rows:
        fu = fu + (row & 1).astype(_F) * _F(0.5)
    col = np.floor(fu).astype(np.int32)
    du = (fu - col - _F(0.5)) * _F(cell)
    dv = (fv - row - _F(0.5)) * _F(cell)
    return row, col, du, dv


def _per_cell(rng: np.random.Generator, row: np.ndarray, col: np.ndarray, k: int,
              low: float = 0.0, high: float = 1.0) -> list[np.ndarray]:
    """k independent uniform values per cell, looked up per pixel (cell table from ``rng``)."""
    r0, c0 = int(row.min()), int(col.min())
    shape = (int(row.max()) - r0 + 1, int(col.max()) - c0 + 1)
    ri, ci = row - r0, col - c0
    return [rng.uniform(low, high, size=shape).astype(_F)[ri, ci] for _ in range(k)]


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Smooth value noise in ~[-1, 1]: a coarse random grid upsampled bicubically."""
    h, w = shape
    g = rng.standard_normal((cells + 1, cells + 1)).astype(_F)
    z = np.asarray(Image.fromarray(g).resize((w, h), Image.Resampling.BICUBIC), dtype=_F)
    return z / _F(max(float(np.abs(z).max()), 1e-6))


# ----------------------------------------------------------------------------------------------
# patterns: each takes garment-local coordinates u, v (units of the image side, so the look is
# independent of ``size``), the pixel size px in the same units, a palette, an rng and ``sub``
# (a callable giving 2x2 sub-pixel copies of u, v for patterns that have no analytic edge).
# Edges are anti-aliased analytically through signed distances (see _aa). Returns HxWx3 float32.
# ----------------------------------------------------------------------------------------------


def _p_plain(u, v, px, pal, rng, sub):
    rgb = np.empty(u.shape + (3,), _F)
    rgb[:] = pal.base
    return rgb


def _p_stripes(u, v, px, pal, rng, sub):
    rgb = _p_plain(u, v, px, pal, rng, sub)
    ang = float(rng.choice([0.0, 90.0, 45.0, -45.0, 0.0, 90.0])) + rng.uniform(-6, 6)
    t, _ = _rot(u, v, ang)
    period = rng.uniform(0.035, 0.075)
    if rng.random() < 0.55:   # same-name tone: may cover more
        col, duty = pal.tone(rng), rng.uniform(0.25, 0.4)
    else:                     # any accent (white/black too): keep coverage modest
        col, duty = pal.accent(rng), rng.uniform(0.12, 0.25)
    _mix(rgb, col, _band(t, period, duty * period, px))
    if rng.random() < 0.45:  # a thin pinstripe between the main stripes
        _mix(rgb, pal.accent(rng), _band(t - _F(period / 2), period, 0.06 * period, px))
    return rgb


def _p_polka_dot(u, v, px, pal, rng, sub):
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = _rot(u, v, rng.uniform(-8, 8))
    cell = rng.uniform(0.04, 0.075)
    r = cell * rng.uniform(0.18, 0.27)   # coverage <= ~23%: the garment colour stays dominant
    _, _, du, dv = _cells(u, v, cell, offset_rows=rng.random() < 0.7)
    d = np.sqrt(du * du + dv * dv) - _F(r)
    col = pal.accent(rng)
    _mix(rgb, col, _aa(d, px))
    return rgb


def _p_checks(u, v, px, pal, rng, sub):
    """Tartan/plaid: dark bands both ways (crossings darkest), a narrow band, thin over-check lines."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = _rot(u, v, rng.choice([0.0, 0.0, 45.0]) + rng.uniform(-5, 5))
    period = rng.uniform(0.07, 0.13)
    wide = period * rng.uniform(0.3, 0.42)
    cover = (_band(v, period, wide, px) + _band(u, period, wide, px)) * _F(0.5)
    _mix(rgb, pal.dark, cover)
    if rng.random() < 0.6:  # a narrower band pair in the middle of the base squares (tartan sett)
        nar = period * rng.uniform(0.06, 0.1)
        c2 = (_band(v - _F(period / 2), period, nar, px) + _band(u - _F(period / 2), period, nar, px)) * _F(0.5)
        _mix(rgb, pal.dark, c2 * _F(0.8))
    thin = period * rng.uniform(0.03, 0.05)
    off = period * rng.uniform(0.25, 0.32)
    lines = np.maximum(_band(v - _F(off), period, thin, px), _band(u - _F(off), period, thin, px))
    _mix(rgb, pal.accent(rng, 0.15), lines * _F(0.85))
    return rgb


def _p_houndstooth(u, v, px, pal, rng, sub):
    """Exact textile definition: 2/2 twill with 4 dark / 4 light threads in warp and weft.

    The pattern is a bitmap over threads, so it is anti-aliased by 2x2 supersampling."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    ang = rng.uniform(-6, 6)
    inv_thread = _F(8.0 / rng.uniform(0.05, 0.085))
    cover = np.zeros(u.shape, _F)
    for us, vs in sub():
        us, vs = _rot(us, vs, ang)
        j = np.floor(us * inv_thread).astype(np.int32)
        i = np.floor(vs * inv_thread).astype(np.int32)
        dark = np.where(((i + j) & 3) < 2, (j & 7) < 4, (i & 7) < 4)  # warp on top ? warp : weft
        cover += dark
    _mix(rgb, pal.dark, cover * _F(0.25))
    return rgb


def _p_argyle(u, v, px, pal, rng, sub):
    """Diamonds in a checkerboard of two tones, thin diagonal over-check lines through them."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = _rot(u, v, rng.uniform(-4, 4))
    w = rng.uniform(0.1, 0.16)
    h = w * rng.uniform(1.35, 1.7)
    a = u * _F(1 / w) + v * _F(1 / h)
    b = u * _F(1 / w) - v * _F(1 / h)
    ra, rb = np.round(a), np.round(b)
    inv_g = _F(1 / math.sqrt(1 / w ** 2 + 1 / h ** 2))  # a/b units -> distance
    edge = (np.maximum(np.abs(a - ra), np.abs(b - rb)) - _F(0.5)) * inv_g
    odd = ((ra + rb).astype(np.int32) & 1).astype(_F)
    inside = _aa(edge, px)
    _mix(rgb, pal.tone(rng), odd * inside + (1 - odd) * (1 - inside))
    lw = rng.uniform(0.005, 0.007)
    lines = _line(np.minimum(np.abs(a - ra), np.abs(b - rb)) * inv_g, lw, px)
    _mix(rgb, pal.accent(rng, 0.25), lines)
    return rgb


def _p_leopard(u, v, px, pal, rng, sub):
    """Rosettes (3-5 dark C-shaped blotches around a darker tawny centre) plus small spots."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = _rot(u, v, rng.uniform(0, 360))
    cell = rng.uniform(0.085, 0.12)
    ring_col = pal.accent_dark
    centre_col = (pal.base * _F(0.3) + pal.dark * _F(0.7)).astype(_F)
    # a smooth domain warp breaks up the lattice so rosettes look scattered, not gridded
    k1, k2, p1, p2 = rng.uniform(0.6, 1.2) / cell, rng.uniform(0.6, 1.2) / cell, rng.uniform(0, 6.28), rng.uniform(0, 6.28)
    uq = u + _F(0.22 * cell) * np.sin(v * _F(k1) + _F(p1))
    vq = v + _F(0.22 * cell) * np.sin(u * _F(k2) + _F(p2))
    row, col, du, dv = _cells(uq, vq, cell)
    jx, jy, rad, ang, ph1, ph2, kind, ecc, nseg = _per_cell(rng, row, col, 9)
    du = du - (jx - _F(0.5)) * _F(0.14 * cell)
    dv = dv - (jy - _F(0.5)) * _F(0.14 * cell)
    ca, sa = np.cos(ang * _F(2 * math.pi)), np.sin(ang * _F(2 * math.pi))
    x = du * ca + dv * sa
    y = (-du * sa + dv * ca) * (_F(1.0) + ecc * _F(0.3))
    r = np.sqrt(x * x + y * y)
    th = np.arctan2(y, x)
    wob = _F(1.0) + _F(0.1) * np.sin(_F(3) * th + ph1 * _F(6.28)) + _F(0.05) * np.sin(_F(5) * th + ph2 * _F(6.28))
    R = (_F(0.28) + rad * _F(0.08)) * _F(cell) * wob
    rosette = kind < _F(0.82)
    nb = np.floor(_F(4) + nseg * _F(2.99))                       # blotches per rosette: 4..6
    seg = np.cos(th * nb + ph2 * _F(6.28))
    inner_r = R * (_F(0.6) - _F(0.06) * seg)                        # blotches thicker in the middle
    gate = _aa(-(seg + _F(0.6)) * R * _F(0.5), px)                 # narrow gaps between blotches
    ring = np.minimum(_aa(r - R, px), _aa(inner_r - r, px)) * gate
    centre = _aa(r - inner_r - _F(0.5 * px), px)
    solid = _aa(r - _F(0.42) * R, px)
    _mix(rgb, centre_col, np.where(rosette, centre, 0).astype(_F))
    _mix(rgb, ring_col, np.where(rosette, ring, solid).astype(_F))
    # small scattered spots on a second, offset lattice
    row2, col2, du2, dv2 = _cells(uq + _F(cell * 0.5), vq + _F(cell * 0.5), cell)
    (keep,) = _per_cell(rng, row2, col2, 1)
    d2 = np.sqrt(du2 * du2 + dv2 * dv2 * _F(1.6)) - _F(0.07 * cell)
    _mix(rgb, ring_col, _aa(d2, px) * (keep > _F(0.35)))
    return rgb


def _p_floral(u, v, px, pal, rng, sub):
    """Small 4-6 petal flowers with a contrasting centre and two tiny leaves."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = _rot(u, v, rng.uniform(-10, 10))
    cell = rng.uniform(0.065, 0.1)
    petal = pal.accent(rng)
    lighter = _luma(petal) > _luma(pal.base)
    centre = (pal.dark if _luma(pal.dark) < _luma(petal) - 0.2 else pal.accent_dark) if lighter else pal.accent_light
    leaf = pal.dark if pal.name != "black" else pal.accent_dark
    npet = int(rng.choice([5, 5, 6, 4]))
    row, col, du, dv = _cells(u, v, cell)
    jx, jy, rot, sz, skip = _per_cell(rng, row, col, 5)
    du = du - (jx - _F(0.5)) * _F(0.2 * cell)
    dv = dv - (jy - _F(0.5)) * _F(0.2 * cell)
    R = (_F(0.24) + sz * _F(0.08)) * _F(cell)
    r = np.sqrt(du * du + dv * dv)
    th = np.arctan2(dv, du) + rot * _F(6.28)
    shape = R * (_F(0.42) + _F(0.58) * np.abs(np.cos(th * _F(npet / 2))) ** _F(0.7))
    keep = (skip > _F(0.08)).astype(_F)
    for la in (0.6, 3.8):  # leaves: small ellipses pointing out, under the petals
        lx = du * _F(math.cos(la)) + dv * _F(math.sin(la)) - R * _F(1.05)
        ly = -du * _F(math.sin(la)) + dv * _F(math.cos(la))
        dl = np.sqrt(lx * lx + (ly * _F(2.2)) ** 2) - R * _F(0.42)
        _mix(rgb, leaf, _aa(dl, px) * keep)
    _mix(rgb, petal, _aa(r - shape, px) * keep)
    _mix(rgb, centre, _aa(r - R * _F(0.24), px) * keep)
    return rgb


def _p_paisley(u, v, px, pal, rng, sub):
    """Teardrop motifs with a curled tip (yin-yang construction), outlined, with an eye."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = _rot(u, v, rng.uniform(-10, 10))
    cell = rng.uniform(0.11, 0.16)
    outline = pal.contrast()
    fill = pal.light if pal.name != "black" else pal.accent_dark
    if float(np.abs(fill - pal.base).sum()) < 0.25:   # light tone too close to the base: go dark
        fill = pal.dark
    eye = pal.accent_light if rng.random() < 0.5 else outline
    row, col, du, dv = _cells(u, v, cell)
    jx, jy, rot, sz = _per_cell(rng, row, col, 4)
    flip = ((row & 1) * 2 - 1).astype(_F)
    R = (_F(0.34) + sz * _F(0.06)) * _F(cell)
    a = (rot - _F(0.5)) * _F(0.8) + flip * _F(0.9)
    ca, sa = np.cos(a), np.sin(a)
    du = du - (jx - _F(0.5)) * _F(0.12 * cell)
    dv = dv - (jy - _F(0.5)) * _F(0.12 * cell)
    x = (du * ca + dv * sa) / R
    y = (-du * sa + dv * ca) / R * _F(1.25)  # a bit elongated
    d_big = np.sqrt(x * x + y * y) - _F(1.0)
    d_c2 = np.sqrt((x - _F(0.5)) ** 2 + y * y) - _F(0.5)
    d_c3 = np.sqrt((x + _F(0.5)) ** 2 + y * y) - _F(0.5)
    # half of the big disc, minus one small disc, plus the other: the yin "tadpole"
    d = np.minimum(np.maximum(np.maximum(d_big, y), -d_c2), d_c3) * R  # back to u units
    _mix(rgb, outline, _aa(d, px))
    t = _F(0.1) * R
    _mix(rgb, fill, _aa(d + t, px))
    _mix(rgb, outline, np.clip(_aa(d + t * _F(2.3), px) - _aa(d + t * _F(3.0), px), 0, 1))
    de = (np.sqrt((x + _F(0.5)) ** 2 + y * y) - _F(0.2)) * R
    _mix(rgb, eye, _aa(de, px))
    _, _, fu, fv = _cells(u + _F(cell / 2), v + _F(cell / 2), cell)  # filler dots between motifs
    _mix(rgb, outline, _aa(np.sqrt(fu * fu + fv * fv) - _F(0.05 * cell), px))
    return rgb


def _p_sequins(u, v, px, pal, rng, sub):
    """Hexagonally packed small discs: each with its own tilt (brightness), a sheen across it,
    a specular glint on some, a centre hole, and dark gaps between discs."""
    u, v = _rot(u, v, rng.uniform(-10, 10))
    s = rng.uniform(0.024, 0.034)
    rh = s * math.sqrt(3) / 2
    fv = v * _F(1 / rh)
    r0 = np.floor(fv).astype(np.int32)
    best = None
    for dr in (0, 1):  # the nearest hex-lattice centre is in row r0 or r0 + 1
        row = r0 + dr
        fu = u * _F(1 / s) - (row & 1).astype(_F) * _F(0.5)
        col = np.round(fu).astype(np.int32)
        dx = (fu - col) * _F(s)
        dy = (fv - row) * _F(rh)
        d2 = dx * dx + dy * dy
        if best is None:
            best = [d2, dx, dy, row, col]
        else:
            take = d2 < best[0]
            for k, val in enumerate((d2, dx, dy, row, col)):
                best[k] = np.where(take, val, best[k])
    d2, dx, dy, row, col = best
    tilt, glint, lx = _per_cell(rng, row, col, 3)
    d = np.sqrt(d2)
    disc = _aa(d - _F(0.47 * s), px)
    gap = (pal.dark * _F(0.6)) if pal.name != "black" else pal.base * _F(0.5)
    rgb = np.empty(u.shape + (3,), _F)
    rgb[:] = gap
    # light catches patches of sequins: a smooth field over the garment plus per-disc tilt
    k = rng.uniform(8, 14)
    patch = np.sin(u * _F(k * 6.28 * 0.7) + _F(rng.uniform(0, 6.28))) * np.sin(v * _F(k * 6.28) + _F(rng.uniform(0, 6.28)))
    bright = _F(0.72) + tilt * _F(0.36) + patch * _F(0.12) + (dx * (lx - _F(0.5)) * _F(1.2) - dy * _F(0.6)) * _F(1.0 / s)
    disc_col = pal.base[None, None, :] * bright[..., None]
    if pal.name == "black":
        disc_col = disc_col + (_F(0.06) + _F(0.12) * tilt)[..., None]
    rgb += (disc_col - rgb) * disc[..., None]
    # specular glint: a soft near-white spot on the upper left of about a third of the discs
    hx, hy = dx + _F(0.15 * s), dy + _F(0.15 * s)
    spec = np.exp(-(hx * hx + hy * hy) * _F(1.0 / (0.12 * s) ** 2)) * np.clip(glint * _F(2.5) - _F(1.5), 0, 1)
    rgb += (_F(1.0) - rgb) * (spec * disc * _F(0.95))[..., None]
    _mix(rgb, gap, _aa(d - _F(0.07 * s), px) * _F(0.7))  # centre hole
    return np.clip(rgb, 0, 1)


_PATTERN_FUNCS: dict[str, Callable] = {
    "plain": _p_plain, "stripes": _p_stripes, "polka_dot": _p_polka_dot, "checks": _p_checks,
    "houndstooth": _p_houndstooth, "argyle": _p_argyle, "leopard": _p_leopard,
    "floral": _p_floral, "paisley": _p_paisley, "sequins": _p_sequins,
}

# ----------------------------------------------------------------------------------------------
# garment silhouettes: polygons in a unit box (y down), plus seam lines and buttons
# ----------------------------------------------------------------------------------------------


def _arc(cx, cy, rx, ry, a0, a1, n=12):
    t = np.linspace(math.radians(a0), math.radians(a1), n)
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in t]


def _mirror(points):
    return [(1.0 - x, y) for x, y in reversed(points)]


class _Shape:
    def __init__(self) -> None:
        self.polys: list[list[tuple[float, float]]] = []
        self.ellipses: list[tuple[float, float, float, float]] = []  # cx, cy, rx, ry
        self.lines: list[list[tuple[float, float]]] = []
        self.buttons: list[tuple[float, float, float]] = []
        self.inner: list[list[tuple[float, float]]] = []  # visible inside of the garment (shaded)


def _top(rng, sleeve: str) -> tuple[_Shape, float, float, float, float]:
    """Upper-body garment outline (sleeve: 'short' or 'long').

    Returns the shape and (half neck width, neck depth, hem y, left hem x) for the details."""
    sh = _Shape()
    bw = rng.uniform(0.24, 0.3)                  # half body width
    nw = rng.uniform(0.085, 0.11)                # half neck width
    shy = rng.uniform(0.06, 0.09)                # shoulder height
    hem = rng.uniform(0.88, 1.0)
    flare = rng.uniform(-0.02, 0.04)
    if sleeve == "short":
        ang = math.radians(rng.uniform(28, 42))
        sl, sw = rng.uniform(0.17, 0.24), rng.uniform(0.13, 0.16)
        arm_y = shy + sw * 1.25
    else:
        ang = math.radians(rng.uniform(62, 74))
        sl, sw = rng.uniform(0.72, 0.82), rng.uniform(0.09, 0.11)
        arm_y = shy + 0.2
    shoulder = (0.5 - bw - 0.03, shy)
    out = (shoulder[0] - sl * math.cos(ang), shoulder[1] + sl * math.sin(ang))
    inn = (out[0] + sw * math.sin(ang), out[1] + sw * math.cos(ang) * 0.9)
    arm = (0.5 - bw, arm_y)
    hem_l = (0.5 - bw - flare, hem)
    left = [(0.5 - nw, 0.02), shoulder, out, inn, arm, hem_l]
    neck_depth = rng.uniform(0.05, 0.11)
    neck = _arc(0.5, 0.02, nw, neck_depth, 0, 180, 10)  # right -> left along the bottom
    poly = left + _mirror(left) + neck
    sh.polys.append(poly)
    # seams: sleeve opening hems, body hem, neck band
    for (a, b) in ((out, inn),):
        ox, oy = (shoulder[0] - out[0], shoulder[1] - out[1])
        nrm = math.hypot(ox, oy)
        k = 0.05 / nrm
        a2 = (a[0] + ox * k, a[1] + oy * k)
        b2 = (b[0] + ox * k, b[1] + oy * k)
        sh.lines.append([a2, b2])
        sh.lines.append([(1 - a2[0], a2[1]), (1 - b2[0], b2[1])])
    sh.lines.append([(hem_l[0] + 0.01, hem - 0.04), (1 - hem_l[0] - 0.01, hem - 0.04)])
    sh.lines.append(_arc(0.5, 0.02, nw + 0.015, neck_depth + 0.025, 5, 175, 10))
    sh.lines.append([shoulder, (0.5 - nw, 0.02)])
    sh.lines.append([(1 - shoulder[0], shoulder[1]), (0.5 + nw, 0.02)])
    sh.lines.append([(arm[0] + 0.005, arm[1]), (shoulder[0] + 0.02, shoulder[1] + 0.005)])
    sh.lines.append([(1 - arm[0] - 0.005, arm[1]), (1 - shoulder[0] - 0.02, shoulder[1] + 0.005)])
    return sh, nw, neck_depth, hem, hem_l[0]


def _drop_neck_band(sh: _Shape) -> None:
    del sh.lines[3]


def _neck_fill(nw: float, nd: float) -> list[tuple[float, float]]:
    """The neck opening as a polygon: filled and shaded it shows the inside back of the garment."""
    return [(0.5 - nw, 0.02), (0.5 - nw * 0.9, 0.0), (0.5 + nw * 0.9, 0.0), (0.5 + nw, 0.02)] + _arc(
        0.5, 0.02, nw, nd, 0, 180, 10)


def _g_t_shirt(rng):
    sh = _top(rng, "short")[0]
    return sh


def _g_shirt(rng):
    sh, nw, nd, hem, _ = _top(rng, "long")
    _drop_neck_band(sh)  # a collar instead
    sh.inner.append(_neck_fill(nw, nd))
    # collar: two pointed wings meeting below the neck, outlined; placket with buttons
    tip = 0.02 + nd + rng.uniform(0.06, 0.09)
    for s in (-1, 1):
        wing = [(0.5 + s * (nw + 0.01), 0.0), (0.5 + s * (nw + 0.035), tip - 0.02),
                (0.5 + s * 0.015, tip), (0.5 + s * 0.005, 0.02 + nd)]
        sh.polys.append(wing)
        sh.lines.append(wing + [wing[0]])
    sh.lines.append([(0.5, tip), (0.5, hem)])
    for y in np.linspace(0.02 + nd + 0.12, hem - 0.08, 5):
        sh.buttons.append((0.52, float(y), 0.011))
    if rng.random() < 0.6:  # breast pocket
        sh.lines.append([(0.3, 0.28), (0.3, 0.38), (0.4, 0.38), (0.4, 0.28), (0.3, 0.28)])
    return sh


def _g_hoodie(rng):
    sh, nw, _, hem, hem_x = _top(rng, "long")
    _drop_neck_band(sh)
    hood_rx, hood_ry = nw + rng.uniform(0.06, 0.09), rng.uniform(0.13, 0.17)
    sh.ellipses.append((0.5, 0.04, hood_rx, hood_ry))
    sh.lines.append(_arc(0.5, 0.05, hood_rx * 0.62, hood_ry * 0.7, 0, 360, 24))
    sh.lines.append([(0.46, 0.1), (0.45, 0.28)])  # drawstrings
    sh.lines.append([(0.54, 0.1), (0.55, 0.28)])
    y0, y1 = hem - 0.32, hem - 0.1                # kangaroo pocket
    sh.lines.append([(0.32, y1), (0.36, y0), (0.64, y0), (0.68, y1)])
    sh.lines.append([(hem_x, hem - 0.07), (1 - hem_x, hem - 0.07)])  # rib band
    return sh


def _g_jacket(rng):
    sh, nw, nd, hem, hem_x = _top(rng, "long")
    _drop_neck_band(sh)
    # stand-up collar (part of the silhouette, inside visible above the zip) and zip
    sh.polys.append([(0.5 - nw - 0.01, 0.04), (0.5 - nw + 0.01, -0.04), (0.5 + nw - 0.01, -0.04),
                     (0.5 + nw + 0.01, 0.04)])
    sh.polys.append(_neck_fill(nw, nd))
    sh.inner.append([(0.5 - nw + 0.015, -0.035), (0.5 + nw - 0.015, -0.035), (0.5 + nw - 0.005, 0.03),
                     (0.5 - nw + 0.005, 0.03)])
    sh.lines.append([(0.5, -0.04), (0.5, hem)])
    sh.lines.append([(0.503, -0.04), (0.503, hem)])
    sh.lines.append([(0.5 - nw - 0.01, 0.04), (0.5 + nw + 0.01, 0.04)])
    py = hem - rng.uniform(0.25, 0.3)
    sh.lines.append([(0.3, py), (0.37, py + 0.14)])   # slanted pockets
    sh.lines.append([(0.7, py), (0.63, py + 0.14)])
    sh.lines.append([(hem_x, hem - 0.06), (1 - hem_x, hem - 0.06)])
    return sh


def _g_dress(rng):
    sh = _Shape()
    sw_ = rng.uniform(0.05, 0.07)
    strap_x = rng.uniform(0.34, 0.38)
    waist_y = rng.uniform(0.34, 0.42)
    waist_w = rng.uniform(0.14, 0.17)
    bust_w = waist_w + rng.uniform(0.03, 0.06)
    hem_w = rng.uniform(0.32, 0.44)
    hem_y = 1.0
    neck_d = rng.uniform(0.12, 0.2)
    left = [(strap_x + sw_, 0.0), (strap_x, 0.0)]
    left += [(0.5 - bust_w, 0.17), (0.5 - waist_w, waist_y), (0.5 - hem_w, hem_y - 0.03)]
    hem_pts = []
    waves = int(rng.integers(3, 6))
    for k in range(25):  # gently scalloped hem
        t = k / 24
        x = (0.5 - hem_w) + t * 2 * hem_w
        hem_pts.append((x, hem_y - 0.03 * math.cos(math.pi * (2 * t - 1)) ** 2 + 0.012 * math.sin(waves * 2 * math.pi * t)))
    right = _mirror(left)
    neck = _arc(0.5, 0.0, 0.5 - strap_x - sw_, neck_d, 0, 180, 12)
    sh.polys.append(left + hem_pts[1:-1] + right + neck)
    sh.lines.append([(0.5 - waist_w, waist_y), (0.5 + waist_w, waist_y)])
    for k in range(4):  # skirt drape lines from the waist
        x0 = 0.5 - waist_w * 0.6 + k * waist_w * 0.4
        x1 = 0.5 - hem_w * 0.7 + k * hem_w * 0.47
        sh.lines.append([(x0, waist_y + 0.05), (x1, hem_y - 0.12)])
    return sh


def _g_skirt(rng):
    sh = _Shape()
    ww = rng.uniform(0.19, 0.24)
    hw = rng.uniform(0.34, 0.46)
    L = rng.uniform(0.6, 0.8)
    band = 0.07
    hem = [(0.5 - hw + 2 * hw * k / 20, L + 0.06 * math.sin(math.pi * k / 20)) for k in range(21)]
    sh.polys.append([(0.5 - ww, 0.0), (0.5 + ww, 0.0), (0.5 + ww + 0.01, band)] + list(reversed(hem))[:1]
                    + list(reversed(hem)) + [(0.5 - ww - 0.01, band)])
    sh.lines.append([(0.5 - ww - 0.01, band), (0.5 + ww + 0.01, band)])
    n = int(rng.integers(4, 8))
    for k in range(1, n):  # pleats
        t = k / n
        sh.lines.append([(0.5 - ww + 2 * ww * t, band + 0.02), (0.5 - hw + 2 * hw * t, L + 0.04 * math.sin(math.pi * t))])
    if rng.random() < 0.5:
        sh.buttons.append((0.5 + ww * 0.6, band / 2, 0.012))
    return sh


def _g_trousers(rng):
    sh = _Shape()
    ww = rng.uniform(0.19, 0.23)
    hip = ww + rng.uniform(0.02, 0.04)
    crotch = rng.uniform(0.3, 0.36)
    leg_w = rng.uniform(0.15, 0.2)
    out_x = 0.5 - hip - rng.uniform(-0.02, 0.05)
    left = [(0.5 - ww, 0.0), (0.5 - hip, crotch * 0.6), (out_x, 1.0), (out_x + leg_w, 1.0), (0.5, crotch)]
    sh.polys.append(left[:4] + [(0.5, crotch)] + _mirror(left[:4]))
    sh.lines.append([(0.5 - ww, 0.06), (0.5 + ww, 0.06)])
    sh.lines.append([(0.5, 0.06), (0.5, crotch - 0.06), (0.47, crotch - 0.02)])  # fly
    sh.lines.append([(0.5 - ww + 0.02, 0.07), (0.5 - ww + 0.1, 0.2)])
    sh.lines.append([(0.5 + ww - 0.02, 0.07), (0.5 + ww - 0.1, 0.2)])
    cx = out_x + leg_w / 2  # crease lines
    sh.lines.append([(0.5 - hip * 0.55, crotch * 0.9), (cx, 0.97)])
    sh.lines.append([(0.5 + hip * 0.55, crotch * 0.9), (1 - cx, 0.97)])
    for x in (0.5 - ww + 0.05, 0.5 + ww - 0.05, 0.5 - 0.06):  # belt loops
        sh.lines.append([(x, 0.0), (x, 0.06)])
    sh.buttons.append((0.5, 0.03, 0.012))
    return sh


def _g_shorts(rng):
    sh = _Shape()
    ww = rng.uniform(0.24, 0.28)
    hip = ww + rng.uniform(0.02, 0.05)
    L = rng.uniform(0.48, 0.6)
    crotch = rng.uniform(0.3, 0.36)
    inner = rng.uniform(0.02, 0.05)
    left = [(0.5 - ww, 0.0), (0.5 - hip, crotch * 0.7), (0.5 - hip - 0.05, L), (0.5 - inner, L + 0.03)]
    sh.polys.append(left + [(0.5, crotch)] + _mirror(left))
    sh.lines.append([(0.5 - ww, 0.07), (0.5 + ww, 0.07)])
    sh.lines.append([(0.5, 0.07), (0.5, crotch - 0.05)])
    sh.lines.append([(0.5 - hip - 0.045, L - 0.05), (0.5 - inner, L - 0.02)])
    sh.lines.append([(0.5 + hip + 0.045, L - 0.05), (0.5 + inner, L - 0.02)])
    sh.lines.append([(0.5 - ww + 0.02, 0.08), (0.5 - ww + 0.1, 0.2)])
    sh.lines.append([(0.5 + ww - 0.02, 0.08), (0.5 + ww - 0.1, 0.2)])
    return sh


_GARMENT_FUNCS: dict[str, Callable[[np.random.Generator], _Shape]] = {
    "t_shirt": _g_t_shirt, "shirt": _g_shirt, "hoodie": _g_hoodie, "jacket": _g_jacket,
    "dress": _g_dress, "skirt": _g_skirt, "trousers": _g_trousers, "shorts": _g_shorts,
}

# ----------------------------------------------------------------------------------------------
# backgrounds (independent of every label: drawn from their own random stream)
# ----------------------------------------------------------------------------------------------


def _bg_colour(rng: np.random.Generator) -> np.ndarray:
    s = rng.uniform(0.0, 0.4) if rng.random() < 0.75 else rng.uniform(0.4, 0.75)
    return _hsv(rng.uniform(0, 360), s, rng.uniform(0.25, 0.95))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = int(rng.integers(7))
    c1, c2 = _bg_colour(rng), _bg_colour(rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(_F) * _F(1.0 / size)
    if kind == 0:  # plain tone with a soft vignette
        rgb = np.broadcast_to(c1, (size, size, 3)).astype(_F)
        lum = np.ones((size, size), _F)
    elif kind == 1:  # linear gradient
        a = rng.uniform(0, 2 * math.pi)
        t = np.clip((xx - 0.5) * _F(math.cos(a)) + (yy - 0.5) * _F(math.sin(a)) + _F(0.5), 0, 1)
        rgb = c1 + (c2 - c1) * t[..., None]
        lum = np.ones((size, size), _F)
    elif kind == 2:  # radial gradient / spotlight
        cx, cy = rng.uniform(0.2, 0.8, 2)
        t = np.clip(np.sqrt((xx - _F(cx)) ** 2 + (yy - _F(cy)) ** 2) * _F(rng.uniform(1.0, 1.8)), 0, 1)
        rgb = c1 + (c2 - c1) * t[..., None]
        lum = np.ones((size, size), _F)
    elif kind == 3:  # smooth blotchy noise between two tones
        t = _smooth_noise(rng, (size, size), int(rng.integers(3, 9))) * _F(0.5) + _F(0.5)
        rgb = c1 + (c2 - c1) * t[..., None]
        lum = _F(1.0) + _F(0.05) * rng.standard_normal((size, size)).astype(_F)
    elif kind == 4:  # wood floor: planks with grain, staggered joints and dark gaps
        wood = _hsv(rng.uniform(18, 40), rng.uniform(0.25, 0.6), rng.uniform(0.35, 0.8))
        rgb = np.broadcast_to(wood, (size, size, 3)).astype(_F)
        xr, yr = _rot(xx, yy, float(rng.choice([0.0, 90.0])) + rng.uniform(-8, 8))
        pw = rng.uniform(0.08, 0.16)
        k = np.floor(yr * _F(1 / pw)).astype(np.int32)
        k0 = int(k.min())
        n = int(k.max()) - k0 + 1
        tone = rng.uniform(0.8, 1.15, n).astype(_F)[k - k0]
        off = rng.uniform(0, 1, n).astype(_F)[k - k0]
        ph = rng.uniform(0, 6.28, n).astype(_F)[k - k0]
        plank_len = rng.uniform(0.5, 0.9)
        fy = yr * _F(1 / pw) - k
        grain = np.sin((fy * _F(rng.uniform(8, 16)) + _F(0.6) * np.sin(xr * _F(rng.uniform(4, 9)) + ph)) * _F(6.28))
        joint = _F(1.0) - _F(0.5) * (np.minimum(fy, 1 - fy) < _F(0.6 / (size * pw)) + 0.02)
        fx = (xr * _F(1 / plank_len) + off) % _F(1.0)
        joint = joint * (_F(1.0) - _F(0.4) * (fx < _F(1.2 / (size * plank_len))))
        lum = tone * (_F(1.0) + _F(0.09) * grain) * joint
    elif kind == 5:  # fabric / linen: fine weave plus slubs
        f = size / rng.uniform(2.5, 4.0)
        weave = np.sin(xx * _F(6.28 * f)) * np.sin(yy * _F(6.28 * f))
        slub = _smooth_noise(rng, (size, size), 24)
        rgb = np.broadcast_to(c1, (size, size, 3)).astype(_F)
        lum = _F(1.0) + _F(0.07) * weave + _F(0.05) * slub
    else:  # tiles with grout lines and per-tile tone
        ts = rng.uniform(0.1, 0.25)
        xr, yr = _rot(xx, yy, rng.uniform(-5, 5))
        i = np.floor(xr * _F(1 / ts)).astype(np.int32)
        j = np.floor(yr * _F(1 / ts)).astype(np.int32)
        checker = ((i + j) & 1).astype(_F)[..., None] if rng.random() < 0.4 else _F(0.0)
        rgb = c1 + (c2 - c1) * checker * _F(1.0)
        rgb = np.broadcast_to(rgb, (size, size, 3)).astype(_F)
        ti = rng.uniform(0.92, 1.08, (int(i.max() - i.min()) + 1, int(j.max() - j.min()) + 1)).astype(_F)
        tone = ti[i - i.min(), j - j.min()]
        gw = _F(rng.uniform(0.006, 0.012))
        gi = np.minimum((xr / _F(ts)) % _F(1.0), _F(1.0) - (xr / _F(ts)) % _F(1.0)) * _F(ts)
        gj = np.minimum((yr / _F(ts)) % _F(1.0), _F(1.0) - (yr / _F(ts)) % _F(1.0)) * _F(ts)
        grout = np.clip((np.minimum(gi, gj) - gw / 2) * _F(size) + _F(0.5), 0, 1)
        lum = tone * (_F(0.72) + _F(0.28) * grout)
    vig = _F(1.0) - _F(rng.uniform(0.0, 0.25)) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * _F(2.0)
    return np.clip(rgb * (lum * vig)[..., None], 0, 1).astype(_F)


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------


def _check_labels(colour: str, pattern: str, garment: str) -> None:
    for value, allowed, what in ((colour, COLOURS, "colour"), (pattern, PATTERNS, "pattern"),
                                 (garment, GARMENTS, "garment")):
        if value not in allowed:
            raise LayerScopeError(
                f"Unknown garments {what} {value!r}: use one of {', '.join(allowed)}."
            )


def _as_rng(random_state: int | np.random.Generator) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise LayerScopeError(f"random_state must be a non-negative int, got {random_state}.")
        return np.random.default_rng(int(random_state))
    raise LayerScopeError(
        f"random_state must be an int or numpy Generator, got {type(random_state).__name__}."
    )


def _check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 32:
        raise LayerScopeError(f"size must be an int >= 32 pixels, got {size!r}.")
    return int(size)


def _folds_and_light(u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth luminance field over the garment: a light gradient, gentle waves, soft fold lines."""
    g = rng.uniform(-0.5, 0.5, 2)
    lum = _F(1.0) + _F(g[0] * 0.3) * u + _F(g[1] * 0.3) * v
    for _ in range(2):
        k = rng.uniform(4, 10)
        a = rng.uniform(0, math.pi)
        lum = lum + _F(rng.uniform(0.015, 0.04)) * np.sin(
            (u * _F(math.cos(a)) + v * _F(math.sin(a))) * _F(k * 6.28) + _F(rng.uniform(0, 6.28)))
    for _ in range(int(rng.integers(2, 5))):
        # a fold: a line through a random point, mostly vertical; dark crease with a lit side
        px_, py_ = rng.uniform(-0.25, 0.25, 2)
        a = math.radians(rng.uniform(-35, 35) + 90)
        nx, ny = -math.sin(a), math.cos(a)
        d = (u - _F(px_)) * _F(nx) + (v - _F(py_)) * _F(ny)
        along = (u - _F(px_)) * _F(math.cos(a)) + (v - _F(py_)) * _F(math.sin(a))
        w = rng.uniform(0.008, 0.02)
        length = rng.uniform(0.1, 0.3)
        win = np.exp(-(along / _F(length)) ** 2)
        amp = rng.uniform(0.12, 0.22)
        lum = lum + win * _F(amp) * (_F(0.5) * np.exp(-((d + _F(w)) / _F(w)) ** 2)
                                     - np.exp(-((d - _F(w * 0.4)) / _F(w * 0.8)) ** 2))
    return lum.astype(_F)


def render_garment_with_mask(
    colour: str, pattern: str, garment: str, size: int = 224,
    random_state: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render one garment; returns (HxWx3 uint8 image, HxW float32 garment coverage in 0..1).

    Same as render_garment, plus the silhouette coverage (useful for tests and for masking).
    """
    _check_labels(colour, pattern, garment)
    size = _check_size(size)
    rng = _as_rng(random_state)
    # independent sub-streams: changing one part (e.g. the pattern) never shifts the others
    r_geo, r_col, r_pat, r_bg, r_shade, r_noise = (
        np.random.default_rng(s) for s in rng.integers(0, 2 ** 63 - 1, 6))

    # --- silhouette: unit-box shape -> frame (scale, rotation, position), drawn supersampled
    shape = _GARMENT_FUNCS[garment](r_geo)
    pts = [p for poly in shape.polys for p in poly]
    pts += [(ex + sx * rx, ey + sy * ry) for ex, ey, rx, ry in shape.ellipses for sx in (-1, 1) for sy in (-1, 1)]
    pa = np.array(pts)
    lo, hi = pa.min(0), pa.max(0)
    centre_unit = (lo + hi) / 2
    extent = float(max(hi[0] - lo[0], hi[1] - lo[1]))
    frac = r_geo.uniform(0.62, 0.84)                 # garment size: fraction of the frame
    scale = frac * size / extent                     # unit-box units -> output pixels
    rot = math.radians(r_geo.uniform(-10, 10))
    margin = size * (1 - frac) / 2
    cx = size / 2 + r_geo.uniform(-margin, margin) * 0.6     # position: stays (nearly) in frame
    cy = size / 2 + r_geo.uniform(-margin, margin) * 0.6
    cr, sr = math.cos(rot), math.sin(rot)

    def to_hi(p, ox=0.0, oy=0.0):
        x, y = (p[0] - centre_unit[0]) * scale, (p[1] - centre_unit[1]) * scale
        return ((cx + x * cr - y * sr) * _SS - ox, (cy + x * sr + y * cr) * _SS - oy)

    def ellipse_poly(e):
        ex, ey, rx, ry = e
        return [(ex + rx * math.cos(t), ey + ry * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 32, endpoint=False)]

    S = size * _SS
    mimg = Image.new("L", (S, S), 0)
    md = ImageDraw.Draw(mimg)
    for poly in shape.polys + shape.inner + [ellipse_poly(e) for e in shape.ellipses]:
        md.polygon([to_hi(p) for p in poly], fill=255)
    l, t_, r, b = mimg.getbbox()
    # bounding box in output pixels: all garment work is done only there
    x0, x1 = max(l // _SS - 1, 0), min(-(-r // _SS) + 1, size)
    y0, y1 = max(t_ // _SS - 1, 0), min(-(-b // _SS) + 1, size)
    bh, bw = y1 - y0, x1 - x0
    ox, oy = x0 * _SS, y0 * _SS

    def down(img: Image.Image) -> np.ndarray:  # box filter hi-res -> output grid, 0..1
        a = np.asarray(img, dtype=_F)
        acc = sum(a[i::_SS, j::_SS] for i in range(_SS) for j in range(_SS))
        return acc * _F(1 / (255 * _SS * _SS))

    alpha = down(mimg.crop((ox, oy, x1 * _SS, y1 * _SS)))

    # --- garment-local coordinates (units of the image side) at output pixel centres
    gx = (np.arange(bw, dtype=_F) + _F(x0 + 0.5 - cx))[None, :]
    gy = (np.arange(bh, dtype=_F) + _F(y0 + 0.5 - cy))[:, None]
    u = (gx * _F(cr) + gy * _F(sr)) * _F(1 / size)
    v = (-gx * _F(sr) + gy * _F(cr)) * _F(1 / size)
    # fabric drape: a gentle low-frequency warp of the pattern coordinates
    wa, wk, wp = r_shade.uniform(0.001, 0.004, 2), r_shade.uniform(2, 5, 2), r_shade.uniform(0, 6.28, 2)
    uw = u + _F(wa[0]) * np.sin(v * _F(wk[0] * 6.28) + _F(wp[0]))
    vw = v + _F(wa[1]) * np.sin(u * _F(wk[1] * 6.28) + _F(wp[1]))

    def sub() -> list[tuple[np.ndarray, np.ndarray]]:  # 2x2 sub-pixel copies of (uw, vw)
        out_ = []
        for dx in (-0.25, 0.25):
            for dy in (-0.25, 0.25):
                du_, dv_ = (dx * cr + dy * sr) / size, (-dx * sr + dy * cr) / size
                out_.append((uw + _F(du_), vw + _F(dv_)))
        return out_

    pal = _Palette(colour, r_col)
    rgb = _PATTERN_FUNCS[pattern](uw, vw, 1.0 / size, pal, r_pat, sub)

    # --- details drawn supersampled in one RGB image: R = seams, G = visible inside, B = buttons
    dimg = Image.new("RGB", (bw * _SS, bh * _SS), (0, 0, 0))
    dd = ImageDraw.Draw(dimg)
    for poly in shape.inner:
        dd.polygon([to_hi(p, ox, oy) for p in poly], fill=(0, 255, 0))
    lw = max(1, int(round(S * 0.005)))
    for line in shape.lines:
        dd.line([to_hi(p, ox, oy) for p in line], fill=(255, 0, 0), width=lw, joint="curve")
    for bx, by, br in shape.buttons:
        px_, py_ = to_hi((bx, by), ox, oy)
        rr = br * scale * _SS
        dd.ellipse([px_ - rr, py_ - rr, px_ + rr, py_ + rr], fill=(0, 0, 255))
    det = down(dimg)
    rgb *= ((_F(1.0) - _F(0.35) * det[..., 0]) * (_F(1.0) - _F(0.4) * det[..., 1]))[..., None]
    if shape.buttons:
        bcol = np.array([0.92, 0.9, 0.86], _F) if r_col.random() < 0.5 else pal.dark
        _mix(rgb, bcol, det[..., 2])

    # --- shading: light gradient, folds, darker towards the silhouette edge
    lum = _folds_and_light(u, v, r_shade)
    soft = ndimage.gaussian_filter(alpha, sigma=max(size * 0.012, 0.8), mode="constant", truncate=2.5)
    lum *= _F(0.8) + _F(0.2) * np.clip((soft - _F(0.3)) * _F(5.0), 0, 1)
    lum = np.clip(lum, 0.6, 1.15)
    premul = rgb * (lum * alpha)[..., None]

    # --- background with a soft drop shadow, then composite
    out = _background(r_bg, size)
    full_alpha = np.zeros((size, size), _F)
    full_alpha[y0:y1, x0:x1] = alpha
    sdx, sdy = (int(round(d)) for d in r_bg.uniform(-0.02, 0.03, 2) * size)
    shadow = np.zeros_like(full_alpha)
    shadow[max(sdy, 0):size + min(sdy, 0), max(sdx, 0):size + min(sdx, 0)] = \
        full_alpha[max(-sdy, 0):size - max(sdy, 0), max(-sdx, 0):size - max(sdx, 0)]
    shadow = ndimage.gaussian_filter(shadow, sigma=size * r_bg.uniform(0.01, 0.03), truncate=2.5)
    out *= (_F(1.0) - _F(r_bg.uniform(0.2, 0.45)) * shadow)[..., None]
    out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (_F(1.0) - alpha)[..., None] + premul

    # --- camera: slight blur sometimes, sensor noise
    if r_noise.random() < 0.3:
        sig = r_noise.uniform(0.3, 0.7) * size / 224
        out = ndimage.gaussian_filter(out, sigma=(sig, sig, 0))
    out += r_noise.standard_normal(out.shape, dtype=np.float32) * _F(r_noise.uniform(0.004, 0.02))
    img = np.clip(out * _F(255.0) + _F(0.5), 0, 255).astype(np.uint8)
    return img, full_alpha


def render_garment(
    colour: str, pattern: str, garment: str, size: int = 224,
    random_state: int | np.random.Generator = 0,
) -> np.ndarray:
    """Render one garment image (HxWx3 uint8). Same arguments (int seed) -> identical array."""
    return render_garment_with_mask(colour, pattern, garment, size, random_state)[0]


# ----------------------------------------------------------------------------------------------
# dataset table and generation
# ----------------------------------------------------------------------------------------------


def garment_table(n: int = 1000, random_state: int = 0) -> pd.DataFrame:
    """Rows (file, colour, pattern, garment, seed) of a balanced dataset of ``n`` images.

    Colour x pattern cells get n // 100 rows each, the remainder goes to distinct random cells
    (counts differ by at most one). Garment types cycle within each cell from a balanced random
    start (remainder rows take the rarest garment), so they are spread evenly and carry no
    information about colour or pattern. Row order is shuffled. Each row has its own unique
    seed: the image is ``render_garment(colour, pattern, garment, size, seed)``. Deterministic
    in ``random_state``.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise LayerScopeError(f"n must be a positive int, got {n!r}.")
    rng = _as_rng(random_state)
    n = int(n)
    n_cells = len(COLOURS) * len(PATTERNS)
    n_g = len(GARMENTS)
    reps, extra = divmod(n, n_cells)
    # every cell `reps` times; garments cycle within a cell from a per-cell start, and the starts
    # are balanced over garments: counts are even overall and within each colour / pattern
    cells = np.repeat(np.arange(n_cells), reps)
    start = rng.permutation(np.resize(np.arange(n_g), n_cells))
    garment_idx = (start[cells] + np.tile(np.arange(reps), n_cells)) % n_g
    # the remainder: `extra` distinct random cells once more, each given the garment that is
    # currently rarest (random tie-break), so overall garment counts stay within about +-1
    extra_cells = rng.permutation(n_cells)[:extra]
    counts = np.bincount(garment_idx, minlength=n_g).astype(float)
    extra_g = np.empty(extra, dtype=np.int64)
    for k in range(extra):
        g = int(np.argmin(counts + rng.random(n_g) * 0.5))
        extra_g[k] = g
        counts[g] += 1
    cells = np.concatenate([cells, extra_cells])
    garment_idx = np.concatenate([garment_idx, extra_g])
    order = rng.permutation(n)
    cells, garment_idx = cells[order], garment_idx[order]
    seeds = rng.integers(0, 2 ** 31 - 1, size=n * 2)
    seeds = pd.unique(seeds)[:n]
    while len(seeds) < n:  # astronomically unlikely: top up with fresh draws
        seeds = pd.unique(np.concatenate([seeds, rng.integers(0, 2 ** 31 - 1, size=n)]))[:n]
    width = max(5, len(str(n - 1)))
    return pd.DataFrame({
        "file": [f"images/{i:0{width}d}.png" for i in range(n)],
        "colour": [COLOURS[c // len(PATTERNS)] for c in cells],
        "pattern": [PATTERNS[c % len(PATTERNS)] for c in cells],
        "garment": [GARMENTS[g] for g in garment_idx],
        "seed": np.asarray(seeds, dtype=np.int64),
    })


def generate(
    out_dir: str | Path, n: int = 1000, size: int = 224, random_state: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``n`` PNG images to ``out_dir/images/`` and ``out_dir/labels.csv``; return the CSV path.

    labels.csv columns: path (relative to out_dir), colour, pattern, garment.
    """
    out = Path(out_dir)
    table = garment_table(n, random_state)
    size = _check_size(size)
    try:
        (out / "images").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LayerScopeError(f"Cannot create dataset folder {out}: {e}. Choose a writable folder.") from e
    total = len(table)
    every = max(1, total // 100)
    for i, row in enumerate(table.itertuples(index=False)):
        img = render_garment(row.colour, row.pattern, row.garment, size, int(row.seed))
        target = out / row.file
        tmp = target.with_name(target.name + ".tmp")
        # compress_level=1: fast; atomic rename so an interrupted run never leaves half a file
        Image.fromarray(img).save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, target)
        if progress is not None and ((i + 1) % every == 0 or i + 1 == total):
            progress(i + 1, total)
    labels = pd.DataFrame({"path": table["file"], "colour": table["colour"],
                           "pattern": table["pattern"], "garment": table["garment"]})
    csv_path = out / "labels.csv"
    labels.to_csv(csv_path, index=False)
    return csv_path
