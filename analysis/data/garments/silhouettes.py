"""Garment silhouettes: polygons in a unit box (y down), plus seam lines, buttons and visible inside."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

GARMENTS: tuple[str, ...] = (
    "t_shirt", "shirt", "hoodie", "jacket", "dress", "skirt", "trousers", "shorts",
)


def _arc(cx, cy, rx, ry, a0, a1, n=12):
    t = np.linspace(math.radians(a0), math.radians(a1), n)
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in t]


def _mirror(points):
    return [(1.0 - x, y) for x, y in reversed(points)]


class Shape:
    def __init__(self) -> None:
        self.polys: list[list[tuple[float, float]]] = []
        self.ellipses: list[tuple[float, float, float, float]] = []  # cx, cy, rx, ry
        self.lines: list[list[tuple[float, float]]] = []
        self.buttons: list[tuple[float, float, float]] = []
        self.inner: list[list[tuple[float, float]]] = []  # visible inside of the garment (shaded)


def _top(rng, sleeve: str) -> tuple[Shape, float, float, float, float]:
    """Upper-body garment outline (sleeve: 'short' or 'long').

    Returns the shape and (half neck width, neck depth, hem y, left hem x) for the details."""
    sh = Shape()
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


def _drop_neck_band(sh: Shape) -> None:
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
    sh = Shape()
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
    sh = Shape()
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
    sh = Shape()
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
    sh = Shape()
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


GARMENT_FUNCS: dict[str, Callable[[np.random.Generator], Shape]] = {
    "t_shirt": _g_t_shirt, "shirt": _g_shirt, "hoodie": _g_hoodie, "jacket": _g_jacket,
    "dress": _g_dress, "skirt": _g_skirt, "trousers": _g_trousers, "shorts": _g_shorts,
}
