"""The ten fabric patterns of the garments set, drawn analytically in garment-local coordinates."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from analysis.data.garments.draw import F, aa, band, line_cover, luma, mix, motif_cells, per_cell, rotate

PATTERNS: tuple[str, ...] = (
    "plain", "stripes", "polka_dot", "checks", "houndstooth",
    "argyle", "leopard", "floral", "paisley", "sequins",
)

# ----------------------------------------------------------------------------------------------
# patterns: each takes garment-local coordinates u, v (units of the image side, so the look is
# independent of ``size``), the pixel size px in the same units, a palette, an rng and ``sub``
# (a callable giving 2x2 sub-pixel copies of u, v for patterns that have no analytic edge).
# Edges are anti-aliased analytically through signed distances (see aa). Returns HxWx3 float32.
# ----------------------------------------------------------------------------------------------


def _p_plain(u, v, px, pal, rng, sub):
    rgb = np.empty(u.shape + (3,), F)
    rgb[:] = pal.base
    return rgb


def _p_stripes(u, v, px, pal, rng, sub):
    rgb = _p_plain(u, v, px, pal, rng, sub)
    ang = float(rng.choice([0.0, 90.0, 45.0, -45.0, 0.0, 90.0])) + rng.uniform(-6, 6)
    t, _ = rotate(u, v, ang)
    period = rng.uniform(0.035, 0.075)
    if rng.random() < 0.55:   # same-name tone: may cover more
        col, duty = pal.tone(rng), rng.uniform(0.25, 0.4)
    else:                     # any accent (white/black too): keep coverage modest
        col, duty = pal.accent(rng), rng.uniform(0.12, 0.25)
    mix(rgb, col, band(t, period, duty * period, px))
    if rng.random() < 0.45:  # a thin pinstripe between the main stripes
        mix(rgb, pal.accent(rng), band(t - F(period / 2), period, 0.06 * period, px))
    return rgb


def _p_polka_dot(u, v, px, pal, rng, sub):
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = rotate(u, v, rng.uniform(-8, 8))
    cell = rng.uniform(0.04, 0.075)
    r = cell * rng.uniform(0.18, 0.27)   # coverage <= ~23%: the garment colour stays dominant
    _, _, du, dv = motif_cells(u, v, cell, offset_rows=rng.random() < 0.7)
    d = np.sqrt(du * du + dv * dv) - F(r)
    col = pal.accent(rng)
    mix(rgb, col, aa(d, px))
    return rgb


def _p_checks(u, v, px, pal, rng, sub):
    """Tartan/plaid: dark bands both ways (crossings darkest), a narrow band, thin over-check lines."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = rotate(u, v, rng.choice([0.0, 0.0, 45.0]) + rng.uniform(-5, 5))
    period = rng.uniform(0.07, 0.13)
    wide = period * rng.uniform(0.3, 0.42)
    cover = (band(v, period, wide, px) + band(u, period, wide, px)) * F(0.5)
    mix(rgb, pal.dark, cover)
    if rng.random() < 0.6:  # a narrower band pair in the middle of the base squares (tartan sett)
        nar = period * rng.uniform(0.06, 0.1)
        c2 = (band(v - F(period / 2), period, nar, px) + band(u - F(period / 2), period, nar, px)) * F(0.5)
        mix(rgb, pal.dark, c2 * F(0.8))
    thin = period * rng.uniform(0.03, 0.05)
    off = period * rng.uniform(0.25, 0.32)
    lines = np.maximum(band(v - F(off), period, thin, px), band(u - F(off), period, thin, px))
    mix(rgb, pal.accent(rng, 0.15), lines * F(0.85))
    return rgb


def _p_houndstooth(u, v, px, pal, rng, sub):
    """Exact textile definition: 2/2 twill with 4 dark / 4 light threads in warp and weft.

    The pattern is a bitmap over threads, so it is anti-aliased by 2x2 supersampling."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    ang = rng.uniform(-6, 6)
    inv_thread = F(8.0 / rng.uniform(0.05, 0.085))
    cover = np.zeros(u.shape, F)
    for us, vs in sub():
        us, vs = rotate(us, vs, ang)
        j = np.floor(us * inv_thread).astype(np.int32)
        i = np.floor(vs * inv_thread).astype(np.int32)
        dark = np.where(((i + j) & 3) < 2, (j & 7) < 4, (i & 7) < 4)  # warp on top ? warp : weft
        cover += dark
    mix(rgb, pal.dark, cover * F(0.25))
    return rgb


def _p_argyle(u, v, px, pal, rng, sub):
    """Diamonds in a checkerboard of two tones, thin diagonal over-check lines through them."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = rotate(u, v, rng.uniform(-4, 4))
    w = rng.uniform(0.1, 0.16)
    h = w * rng.uniform(1.35, 1.7)
    a = u * F(1 / w) + v * F(1 / h)
    b = u * F(1 / w) - v * F(1 / h)
    ra, rb = np.round(a), np.round(b)
    inv_g = F(1 / math.sqrt(1 / w ** 2 + 1 / h ** 2))  # a/b units -> distance
    edge = (np.maximum(np.abs(a - ra), np.abs(b - rb)) - F(0.5)) * inv_g
    odd = ((ra + rb).astype(np.int32) & 1).astype(F)
    inside = aa(edge, px)
    mix(rgb, pal.tone(rng), odd * inside + (1 - odd) * (1 - inside))
    lw = rng.uniform(0.005, 0.007)
    lines = line_cover(np.minimum(np.abs(a - ra), np.abs(b - rb)) * inv_g, lw, px)
    mix(rgb, pal.accent(rng, 0.25), lines)
    return rgb


def _p_leopard(u, v, px, pal, rng, sub):
    """Rosettes (3-5 dark C-shaped blotches around a darker tawny centre) plus small spots."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = rotate(u, v, rng.uniform(0, 360))
    cell = rng.uniform(0.085, 0.12)
    ring_col = pal.accent_dark
    centre_col = (pal.base * F(0.3) + pal.dark * F(0.7)).astype(F)
    # a smooth domain warp breaks up the lattice so rosettes look scattered, not gridded
    k1, k2, p1, p2 = rng.uniform(0.6, 1.2) / cell, rng.uniform(0.6, 1.2) / cell, rng.uniform(0, 6.28), rng.uniform(0, 6.28)
    uq = u + F(0.22 * cell) * np.sin(v * F(k1) + F(p1))
    vq = v + F(0.22 * cell) * np.sin(u * F(k2) + F(p2))
    row, col, du, dv = motif_cells(uq, vq, cell)
    jx, jy, rad, ang, ph1, ph2, kind, ecc, nseg = per_cell(rng, row, col, 9)
    du = du - (jx - F(0.5)) * F(0.14 * cell)
    dv = dv - (jy - F(0.5)) * F(0.14 * cell)
    ca, sa = np.cos(ang * F(2 * math.pi)), np.sin(ang * F(2 * math.pi))
    x = du * ca + dv * sa
    y = (-du * sa + dv * ca) * (F(1.0) + ecc * F(0.3))
    r = np.sqrt(x * x + y * y)
    th = np.arctan2(y, x)
    wob = F(1.0) + F(0.1) * np.sin(F(3) * th + ph1 * F(6.28)) + F(0.05) * np.sin(F(5) * th + ph2 * F(6.28))
    R = (F(0.28) + rad * F(0.08)) * F(cell) * wob
    rosette = kind < F(0.82)
    nb = np.floor(F(4) + nseg * F(2.99))                       # blotches per rosette: 4..6
    seg = np.cos(th * nb + ph2 * F(6.28))
    inner_r = R * (F(0.6) - F(0.06) * seg)                        # blotches thicker in the middle
    gate = aa(-(seg + F(0.6)) * R * F(0.5), px)                 # narrow gaps between blotches
    ring = np.minimum(aa(r - R, px), aa(inner_r - r, px)) * gate
    centre = aa(r - inner_r - F(0.5 * px), px)
    solid = aa(r - F(0.42) * R, px)
    mix(rgb, centre_col, np.where(rosette, centre, 0).astype(F))
    mix(rgb, ring_col, np.where(rosette, ring, solid).astype(F))
    # small scattered spots on a second, offset lattice
    row2, col2, du2, dv2 = motif_cells(uq + F(cell * 0.5), vq + F(cell * 0.5), cell)
    (keep,) = per_cell(rng, row2, col2, 1)
    d2 = np.sqrt(du2 * du2 + dv2 * dv2 * F(1.6)) - F(0.07 * cell)
    mix(rgb, ring_col, aa(d2, px) * (keep > F(0.35)))
    return rgb


def _p_floral(u, v, px, pal, rng, sub):
    """Small 4-6 petal flowers with a contrasting centre and two tiny leaves."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = rotate(u, v, rng.uniform(-10, 10))
    cell = rng.uniform(0.065, 0.1)
    petal = pal.accent(rng)
    lighter = luma(petal) > luma(pal.base)
    centre = (pal.dark if luma(pal.dark) < luma(petal) - 0.2 else pal.accent_dark) if lighter else pal.accent_light
    leaf = pal.dark if pal.name != "black" else pal.accent_dark
    npet = int(rng.choice([5, 5, 6, 4]))
    row, col, du, dv = motif_cells(u, v, cell)
    jx, jy, rot, sz, skip = per_cell(rng, row, col, 5)
    du = du - (jx - F(0.5)) * F(0.2 * cell)
    dv = dv - (jy - F(0.5)) * F(0.2 * cell)
    R = (F(0.24) + sz * F(0.08)) * F(cell)
    r = np.sqrt(du * du + dv * dv)
    th = np.arctan2(dv, du) + rot * F(6.28)
    shape = R * (F(0.42) + F(0.58) * np.abs(np.cos(th * F(npet / 2))) ** F(0.7))
    keep = (skip > F(0.08)).astype(F)
    for la in (0.6, 3.8):  # leaves: small ellipses pointing out, under the petals
        lx = du * F(math.cos(la)) + dv * F(math.sin(la)) - R * F(1.05)
        ly = -du * F(math.sin(la)) + dv * F(math.cos(la))
        dl = np.sqrt(lx * lx + (ly * F(2.2)) ** 2) - R * F(0.42)
        mix(rgb, leaf, aa(dl, px) * keep)
    mix(rgb, petal, aa(r - shape, px) * keep)
    mix(rgb, centre, aa(r - R * F(0.24), px) * keep)
    return rgb


def _p_paisley(u, v, px, pal, rng, sub):
    """Teardrop motifs with a curled tip (yin-yang construction), outlined, with an eye."""
    rgb = _p_plain(u, v, px, pal, rng, sub)
    u, v = rotate(u, v, rng.uniform(-10, 10))
    cell = rng.uniform(0.11, 0.16)
    outline = pal.contrast()
    fill = pal.light if pal.name != "black" else pal.accent_dark
    if float(np.abs(fill - pal.base).sum()) < 0.25:   # light tone too close to the base: go dark
        fill = pal.dark
    eye = pal.accent_light if rng.random() < 0.5 else outline
    row, col, du, dv = motif_cells(u, v, cell)
    jx, jy, rot, sz = per_cell(rng, row, col, 4)
    flip = ((row & 1) * 2 - 1).astype(F)
    R = (F(0.34) + sz * F(0.06)) * F(cell)
    a = (rot - F(0.5)) * F(0.8) + flip * F(0.9)
    ca, sa = np.cos(a), np.sin(a)
    du = du - (jx - F(0.5)) * F(0.12 * cell)
    dv = dv - (jy - F(0.5)) * F(0.12 * cell)
    x = (du * ca + dv * sa) / R
    y = (-du * sa + dv * ca) / R * F(1.25)  # a bit elongated
    d_big = np.sqrt(x * x + y * y) - F(1.0)
    d_c2 = np.sqrt((x - F(0.5)) ** 2 + y * y) - F(0.5)
    d_c3 = np.sqrt((x + F(0.5)) ** 2 + y * y) - F(0.5)
    # half of the big disc, minus one small disc, plus the other: the yin "tadpole"
    d = np.minimum(np.maximum(np.maximum(d_big, y), -d_c2), d_c3) * R  # back to u units
    mix(rgb, outline, aa(d, px))
    t = F(0.1) * R
    mix(rgb, fill, aa(d + t, px))
    mix(rgb, outline, np.clip(aa(d + t * F(2.3), px) - aa(d + t * F(3.0), px), 0, 1))
    de = (np.sqrt((x + F(0.5)) ** 2 + y * y) - F(0.2)) * R
    mix(rgb, eye, aa(de, px))
    _, _, fu, fv = motif_cells(u + F(cell / 2), v + F(cell / 2), cell)  # filler dots between motifs
    mix(rgb, outline, aa(np.sqrt(fu * fu + fv * fv) - F(0.05 * cell), px))
    return rgb


def _p_sequins(u, v, px, pal, rng, sub):
    """Hexagonally packed small discs: each with its own tilt (brightness), a sheen across it,
    a specular glint on some, a centre hole, and dark gaps between discs."""
    u, v = rotate(u, v, rng.uniform(-10, 10))
    s = rng.uniform(0.024, 0.034)
    rh = s * math.sqrt(3) / 2
    fv = v * F(1 / rh)
    r0 = np.floor(fv).astype(np.int32)
    best = None
    for dr in (0, 1):  # the nearest hex-lattice centre is in row r0 or r0 + 1
        row = r0 + dr
        fu = u * F(1 / s) - (row & 1).astype(F) * F(0.5)
        col = np.round(fu).astype(np.int32)
        dx = (fu - col) * F(s)
        dy = (fv - row) * F(rh)
        d2 = dx * dx + dy * dy
        if best is None:
            best = [d2, dx, dy, row, col]
        else:
            take = d2 < best[0]
            for k, val in enumerate((d2, dx, dy, row, col)):
                best[k] = np.where(take, val, best[k])
    d2, dx, dy, row, col = best
    tilt, glint, lx = per_cell(rng, row, col, 3)
    d = np.sqrt(d2)
    disc = aa(d - F(0.47 * s), px)
    gap = (pal.dark * F(0.6)) if pal.name != "black" else pal.base * F(0.5)
    rgb = np.empty(u.shape + (3,), F)
    rgb[:] = gap
    # light catches patches of sequins: a smooth field over the garment plus per-disc tilt
    k = rng.uniform(8, 14)
    patch = np.sin(u * F(k * 6.28 * 0.7) + F(rng.uniform(0, 6.28))) * np.sin(v * F(k * 6.28) + F(rng.uniform(0, 6.28)))
    bright = F(0.72) + tilt * F(0.36) + patch * F(0.12) + (dx * (lx - F(0.5)) * F(1.2) - dy * F(0.6)) * F(1.0 / s)
    disc_col = pal.base[None, None, :] * bright[..., None]
    if pal.name == "black":
        disc_col = disc_col + (F(0.06) + F(0.12) * tilt)[..., None]
    rgb += (disc_col - rgb) * disc[..., None]
    # specular glint: a soft near-white spot on the upper left of about a third of the discs
    hx, hy = dx + F(0.15 * s), dy + F(0.15 * s)
    spec = np.exp(-(hx * hx + hy * hy) * F(1.0 / (0.12 * s) ** 2)) * np.clip(glint * F(2.5) - F(1.5), 0, 1)
    rgb += (F(1.0) - rgb) * (spec * disc * F(0.95))[..., None]
    mix(rgb, gap, aa(d - F(0.07 * s), px) * F(0.7))  # centre hole
    return np.clip(rgb, 0, 1)


PATTERN_FUNCS: dict[str, Callable] = {
    "plain": _p_plain, "stripes": _p_stripes, "polka_dot": _p_polka_dot, "checks": _p_checks,
    "houndstooth": _p_houndstooth, "argyle": _p_argyle, "leopard": _p_leopard,
    "floral": _p_floral, "paisley": _p_paisley, "sequins": _p_sequins,
}
