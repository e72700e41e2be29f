"""Render one garment photo (and its coverage mask) from its labels and a seed."""
from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from analysis.data.garments.backgrounds import BACKGROUNDS, draw_background
from analysis.data.garments.colours import COLOURS, Palette
from analysis.data.garments.draw import SS, F, mix
from analysis.data.garments.patterns import PATTERN_FUNCS, PATTERNS
from analysis.data.garments.silhouettes import GARMENT_FUNCS, GARMENTS
from analysis.errors import LayerScopeError

# Framing of a product photo: the silhouette is scaled to cover a target share of the frame's
# pixels, bounded so that the short side keeps a margin and the long side is cut at most a little
# (a tight catalogue crop may lose a hem or a cuff). Tall or spread-out shapes (trousers, dresses,
# long sleeves) reach their bound before the target, so the mean coverage is below the target's.
_COVER = (0.54, 0.7)       # target share of the frame's pixels
_SHORT_MAX = 0.94          # short side of the garment's box / frame side, at most
_LONG_MAX = 1.08           # long side of the garment's box / frame side, at most


def check_background(background: str) -> str:
    if background not in BACKGROUNDS:
        raise LayerScopeError(f"Unknown garments background {background!r}: use one of {', '.join(BACKGROUNDS)}.")
    return background


def check_labels(colour: str, pattern: str, garment: str) -> None:
    for value, allowed, what in ((colour, COLOURS, "colour"), (pattern, PATTERNS, "pattern"),
                                 (garment, GARMENTS, "garment")):
        if value not in allowed:
            raise LayerScopeError(
                f"Unknown garments {what} {value!r}: use one of {', '.join(allowed)}."
            )


def as_rng(random_state: int | np.random.Generator) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise LayerScopeError(f"random_state must be a non-negative int, got {random_state}.")
        return np.random.default_rng(int(random_state))
    raise LayerScopeError(
        f"random_state must be an int or numpy Generator, got {type(random_state).__name__}."
    )


def check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 32:
        raise LayerScopeError(f"size must be an int >= 32 pixels, got {size!r}.")
    return int(size)


def _folds_and_light(u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth luminance field over the garment: a light gradient, gentle waves, soft fold lines."""
    g = rng.uniform(-0.5, 0.5, 2)
    lum = F(1.0) + F(g[0] * 0.3) * u + F(g[1] * 0.3) * v
    for _ in range(2):
        k = rng.uniform(4, 10)
        a = rng.uniform(0, math.pi)
        lum = lum + F(rng.uniform(0.015, 0.04)) * np.sin(
            (u * F(math.cos(a)) + v * F(math.sin(a))) * F(k * 6.28) + F(rng.uniform(0, 6.28)))
    for _ in range(int(rng.integers(2, 5))):
        # a fold: a line through a random point, mostly vertical; dark crease with a lit side
        px_, py_ = rng.uniform(-0.25, 0.25, 2)
        a = math.radians(rng.uniform(-35, 35) + 90)
        nx, ny = -math.sin(a), math.cos(a)
        d = (u - F(px_)) * F(nx) + (v - F(py_)) * F(ny)
        along = (u - F(px_)) * F(math.cos(a)) + (v - F(py_)) * F(math.sin(a))
        w = rng.uniform(0.008, 0.02)
        length = rng.uniform(0.1, 0.3)
        win = np.exp(-(along / F(length)) ** 2)
        amp = rng.uniform(0.12, 0.22)
        lum = lum + win * F(amp) * (F(0.5) * np.exp(-((d + F(w)) / F(w)) ** 2)
                                     - np.exp(-((d - F(w * 0.4)) / F(w * 0.8)) ** 2))
    return lum.astype(F)


def _ellipse_poly(e: tuple[float, float, float, float]) -> list[tuple[float, float]]:
    ex, ey, rx, ry = e
    return [(ex + rx * math.cos(t), ey + ry * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 32, endpoint=False)]


def _unit_area(shape, lo: np.ndarray, hi: np.ndarray, res: int = 96) -> float:
    """Area of the silhouette in unit-box units^2, from a small raster (its parts overlap)."""
    k = res / float(max(hi - lo))
    img = Image.new("L", (res + 2, res + 2), 0)
    d = ImageDraw.Draw(img)
    for poly in shape.polys + shape.inner + [_ellipse_poly(e) for e in shape.ellipses]:
        d.polygon([((x - lo[0]) * k + 1, (y - lo[1]) * k + 1) for x, y in poly], fill=255)
    return float(np.asarray(img, dtype=np.float64).sum() / 255.0) / (k * k)


def render_garment_with_mask(
    colour: str, pattern: str, garment: str, size: int = 224,
    random_state: int | np.random.Generator = 0, background: str = "studio",
) -> tuple[np.ndarray, np.ndarray]:
    """Render one garment; returns (HxWx3 uint8 image, HxW float32 garment coverage in 0..1).

    Same as render_garment, plus the silhouette coverage (useful for tests and for masking).
    """
    check_labels(colour, pattern, garment)
    check_background(background)
    size = check_size(size)
    rng = as_rng(random_state)
    # independent sub-streams: changing one part (e.g. the pattern) never shifts the others
    r_geo, r_col, r_pat, r_bg, r_shade, r_noise = (
        np.random.default_rng(s) for s in rng.integers(0, 2 ** 63 - 1, 6))

    # --- silhouette: unit-box shape -> frame (scale, rotation, position), drawn supersampled
    shape = GARMENT_FUNCS[garment](r_geo)
    pts = [p for poly in shape.polys for p in poly]
    pts += [(ex + sx * rx, ey + sy * ry) for ex, ey, rx, ry in shape.ellipses for sx in (-1, 1) for sy in (-1, 1)]
    pa = np.array(pts)
    lo, hi = pa.min(0), pa.max(0)
    centre_unit = (lo + hi) / 2
    box_w, box_h = float(hi[0] - lo[0]), float(hi[1] - lo[1])
    area = _unit_area(shape, lo, hi)                 # silhouette area in unit-box units^2
    scale = size * math.sqrt(r_geo.uniform(*_COVER) / area)   # unit-box units -> output pixels
    scale = min(scale, _SHORT_MAX * size / min(box_w, box_h), _LONG_MAX * size / max(box_w, box_h))
    rot = math.radians(r_geo.uniform(-5, 5))
    # position: centred up to a little jitter inside what the frame leaves free
    cx = size / 2 + r_geo.uniform(-0.5, 0.5) * max(size - box_w * scale, 0.0) / 2
    cy = size / 2 + r_geo.uniform(-0.5, 0.5) * max(size - box_h * scale, 0.0) / 2
    cr, sr = math.cos(rot), math.sin(rot)

    def to_hi(p, ox=0.0, oy=0.0):
        x, y = (p[0] - centre_unit[0]) * scale, (p[1] - centre_unit[1]) * scale
        return ((cx + x * cr - y * sr) * SS - ox, (cy + x * sr + y * cr) * SS - oy)

    S = size * SS
    mimg = Image.new("L", (S, S), 0)
    md = ImageDraw.Draw(mimg)
    for poly in shape.polys + shape.inner + [_ellipse_poly(e) for e in shape.ellipses]:
        md.polygon([to_hi(p) for p in poly], fill=255)
    l, t_, r, b = mimg.getbbox()
    # bounding box in output pixels: all garment work is done only there
    x0, x1 = max(l // SS - 1, 0), min(-(-r // SS) + 1, size)
    y0, y1 = max(t_ // SS - 1, 0), min(-(-b // SS) + 1, size)
    bh, bw = y1 - y0, x1 - x0
    ox, oy = x0 * SS, y0 * SS

    def down(img: Image.Image) -> np.ndarray:  # box filter hi-res -> output grid, 0..1
        a = np.asarray(img, dtype=F)
        acc = sum(a[i::SS, j::SS] for i in range(SS) for j in range(SS))
        return acc * F(1 / (255 * SS * SS))

    alpha = down(mimg.crop((ox, oy, x1 * SS, y1 * SS)))

    # --- garment-local coordinates (units of the image side) at output pixel centres
    gx = (np.arange(bw, dtype=F) + F(x0 + 0.5 - cx))[None, :]
    gy = (np.arange(bh, dtype=F) + F(y0 + 0.5 - cy))[:, None]
    u = (gx * F(cr) + gy * F(sr)) * F(1 / size)
    v = (-gx * F(sr) + gy * F(cr)) * F(1 / size)
    # fabric drape: a gentle low-frequency warp of the pattern coordinates
    wa, wk, wp = r_shade.uniform(0.001, 0.004, 2), r_shade.uniform(2, 5, 2), r_shade.uniform(0, 6.28, 2)
    uw = u + F(wa[0]) * np.sin(v * F(wk[0] * 6.28) + F(wp[0]))
    vw = v + F(wa[1]) * np.sin(u * F(wk[1] * 6.28) + F(wp[1]))

    def sub() -> list[tuple[np.ndarray, np.ndarray]]:  # 2x2 sub-pixel copies of (uw, vw)
        out_ = []
        for dx in (-0.25, 0.25):
            for dy in (-0.25, 0.25):
                du_, dv_ = (dx * cr + dy * sr) / size, (-dx * sr + dy * cr) / size
                out_.append((uw + F(du_), vw + F(dv_)))
        return out_

    pal = Palette(colour, r_col)
    rgb = PATTERN_FUNCS[pattern](uw, vw, 1.0 / size, pal, r_pat, sub)

    # --- details drawn supersampled in one RGB image: R = seams, G = visible inside, B = buttons
    dimg = Image.new("RGB", (bw * SS, bh * SS), (0, 0, 0))
    dd = ImageDraw.Draw(dimg)
    for poly in shape.inner:
        dd.polygon([to_hi(p, ox, oy) for p in poly], fill=(0, 255, 0))
    lw = max(1, int(round(S * 0.005)))
    for line in shape.lines:
        dd.line([to_hi(p, ox, oy) for p in line], fill=(255, 0, 0), width=lw, joint="curve")
    for bx, by, br in shape.buttons:
        px_, py_ = to_hi((bx, by), ox, oy)
        rr = br * scale * SS
        dd.ellipse([px_ - rr, py_ - rr, px_ + rr, py_ + rr], fill=(0, 0, 255))
    det = down(dimg)
    rgb *= ((F(1.0) - F(0.35) * det[..., 0]) * (F(1.0) - F(0.4) * det[..., 1]))[..., None]
    if shape.buttons:
        bcol = np.array([0.92, 0.9, 0.86], F) if r_col.random() < 0.5 else pal.dark
        mix(rgb, bcol, det[..., 2])

    # --- shading: light gradient, folds, darker towards the silhouette edge
    lum = _folds_and_light(u, v, r_shade)
    soft = ndimage.gaussian_filter(alpha, sigma=max(size * 0.012, 0.8), mode="constant", truncate=2.5)
    lum *= F(0.8) + F(0.2) * np.clip((soft - F(0.3)) * F(5.0), 0, 1)
    lum = np.clip(lum, 0.6, 1.15)
    premul = rgb * (lum * alpha)[..., None]

    # --- background with a soft drop shadow, then composite
    back = draw_background(background, r_bg, size)
    out = back.rgb.copy()
    full_alpha = np.zeros((size, size), F)
    full_alpha[y0:y1, x0:x1] = alpha
    if back.shadow_strength > 0:
        sdx, sdy = (int(round(d * size)) for d in back.shadow_offset)
        shadow = np.zeros_like(full_alpha)
        shadow[max(sdy, 0):size + min(sdy, 0), max(sdx, 0):size + min(sdx, 0)] = \
            full_alpha[max(-sdy, 0):size - max(sdy, 0), max(-sdx, 0):size - max(sdx, 0)]
        shadow = ndimage.gaussian_filter(shadow, sigma=size * back.shadow_blur, truncate=2.5)
        out *= (F(1.0) - F(back.shadow_strength) * shadow)[..., None]
    out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (F(1.0) - alpha)[..., None] + premul

    # --- camera: slight blur sometimes, sensor noise
    if r_noise.random() < 0.3:
        sig = r_noise.uniform(0.3, 0.7) * size / 224
        out = ndimage.gaussian_filter(out, sigma=(sig, sig, 0))
    out += r_noise.standard_normal(out.shape, dtype=np.float32) * F(r_noise.uniform(0.004, 0.02))
    img = np.clip(out * F(255.0) + F(0.5), 0, 255).astype(np.uint8)
    return img, full_alpha


def render_garment(
    colour: str, pattern: str, garment: str, size: int = 224,
    random_state: int | np.random.Generator = 0, background: str = "studio",
) -> np.ndarray:
    """Render one garment image (HxWx3 uint8). Same arguments (int seed) -> identical array.

    ``background``: "studio" (product photo, default), "plain" (flat white) or "mixed" (busy
    scenes); the garment itself (shape, colour, pattern, lighting) does not depend on it."""
    return render_garment_with_mask(colour, pattern, garment, size, random_state, background)[0]

