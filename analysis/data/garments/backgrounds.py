"""Backgrounds, drawn from their own random stream, so they carry no label information.

* ``studio`` (default): product-photo backdrops: white, light grey, cream or cool grey paper, a
  soft sweep or spotlight gradient, faint paper grain or fabric weave, low saturation; the
  garment casts a soft shadow.
* ``plain``: one flat near-white tone, no gradient, texture or shadow (a cut-out packshot).
* ``mixed``: the busy scenes of generator v1: any tone (a quarter strongly saturated), gradients,
  blotches, wood floors, linen, tiles. The pooled descriptor of an early block sees them too.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.data.garments.draw import F, hsv, rotate, smooth_noise


def _bg_colour(rng: np.random.Generator) -> np.ndarray:
    s = rng.uniform(0.0, 0.4) if rng.random() < 0.75 else rng.uniform(0.4, 0.75)
    return hsv(rng.uniform(0, 360), s, rng.uniform(0.25, 0.95))


def _mixed(rng: np.random.Generator, size: int) -> np.ndarray:
    kind = int(rng.integers(7))
    c1, c2 = _bg_colour(rng), _bg_colour(rng)
    yy, xx = np.mgrid[0:size, 0:size].astype(F) * F(1.0 / size)
    if kind == 0:  # plain tone with a soft vignette
        rgb = np.broadcast_to(c1, (size, size, 3)).astype(F)
        lum = np.ones((size, size), F)
    elif kind == 1:  # linear gradient
        a = rng.uniform(0, 2 * math.pi)
        t = np.clip((xx - 0.5) * F(math.cos(a)) + (yy - 0.5) * F(math.sin(a)) + F(0.5), 0, 1)
        rgb = c1 + (c2 - c1) * t[..., None]
        lum = np.ones((size, size), F)
    elif kind == 2:  # radial gradient / spotlight
        cx, cy = rng.uniform(0.2, 0.8, 2)
        t = np.clip(np.sqrt((xx - F(cx)) ** 2 + (yy - F(cy)) ** 2) * F(rng.uniform(1.0, 1.8)), 0, 1)
        rgb = c1 + (c2 - c1) * t[..., None]
        lum = np.ones((size, size), F)
    elif kind == 3:  # smooth blotchy noise between two tones
        t = smooth_noise(rng, (size, size), int(rng.integers(3, 9))) * F(0.5) + F(0.5)
        rgb = c1 + (c2 - c1) * t[..., None]
        lum = F(1.0) + F(0.05) * rng.standard_normal((size, size)).astype(F)
    elif kind == 4:  # wood floor: planks with grain, staggered joints and dark gaps
        wood = hsv(rng.uniform(18, 40), rng.uniform(0.25, 0.6), rng.uniform(0.35, 0.8))
        rgb = np.broadcast_to(wood, (size, size, 3)).astype(F)
        xr, yr = rotate(xx, yy, float(rng.choice([0.0, 90.0])) + rng.uniform(-8, 8))
        pw = rng.uniform(0.08, 0.16)
        k = np.floor(yr * F(1 / pw)).astype(np.int32)
        k0 = int(k.min())
        n = int(k.max()) - k0 + 1
        tone = rng.uniform(0.8, 1.15, n).astype(F)[k - k0]
        off = rng.uniform(0, 1, n).astype(F)[k - k0]
        ph = rng.uniform(0, 6.28, n).astype(F)[k - k0]
        plank_len = rng.uniform(0.5, 0.9)
        fy = yr * F(1 / pw) - k
        grain = np.sin((fy * F(rng.uniform(8, 16)) + F(0.6) * np.sin(xr * F(rng.uniform(4, 9)) + ph)) * F(6.28))
        joint = F(1.0) - F(0.5) * (np.minimum(fy, 1 - fy) < F(0.6 / (size * pw)) + 0.02)
        fx = (xr * F(1 / plank_len) + off) % F(1.0)
        joint = joint * (F(1.0) - F(0.4) * (fx < F(1.2 / (size * plank_len))))
        lum = tone * (F(1.0) + F(0.09) * grain) * joint
    elif kind == 5:  # fabric / linen: fine weave plus slubs
        f = size / rng.uniform(2.5, 4.0)
        weave = np.sin(xx * F(6.28 * f)) * np.sin(yy * F(6.28 * f))
        slub = smooth_noise(rng, (size, size), 24)
        rgb = np.broadcast_to(c1, (size, size, 3)).astype(F)
        lum = F(1.0) + F(0.07) * weave + F(0.05) * slub
    else:  # tiles with grout lines and per-tile tone
        ts = rng.uniform(0.1, 0.25)
        xr, yr = rotate(xx, yy, rng.uniform(-5, 5))
        i = np.floor(xr * F(1 / ts)).astype(np.int32)
        j = np.floor(yr * F(1 / ts)).astype(np.int32)
        checker = ((i + j) & 1).astype(F)[..., None] if rng.random() < 0.4 else F(0.0)
        rgb = c1 + (c2 - c1) * checker * F(1.0)
        rgb = np.broadcast_to(rgb, (size, size, 3)).astype(F)
        ti = rng.uniform(0.92, 1.08, (int(i.max() - i.min()) + 1, int(j.max() - j.min()) + 1)).astype(F)
        tone = ti[i - i.min(), j - j.min()]
        gw = F(rng.uniform(0.006, 0.012))
        gi = np.minimum((xr / F(ts)) % F(1.0), F(1.0) - (xr / F(ts)) % F(1.0)) * F(ts)
        gj = np.minimum((yr / F(ts)) % F(1.0), F(1.0) - (yr / F(ts)) % F(1.0)) * F(ts)
        grout = np.clip((np.minimum(gi, gj) - gw / 2) * F(size) + F(0.5), 0, 1)
        lum = tone * (F(0.72) + F(0.28) * grout)
    vig = F(1.0) - F(rng.uniform(0.0, 0.25)) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * F(2.0)
    return np.clip(rgb * (lum * vig)[..., None], 0, 1).astype(F)


BACKGROUNDS: tuple[str, ...] = ("studio", "plain", "mixed")


@dataclass(frozen=True)
class Backdrop:
    """A background image and how the garment's drop shadow falls on it (sizes in frame units)."""

    rgb: np.ndarray                     # HxWx3 float32 in 0..1
    shadow_strength: float              # darkening under the shadow's core; 0 = no shadow
    shadow_offset: tuple[float, float]  # (dx, dy): light from the upper left puts it lower right
    shadow_blur: float                  # gaussian sigma


def _studio(rng: np.random.Generator, size: int) -> np.ndarray:
    family = int(rng.integers(4))
    if family == 0:    # white seamless paper
        tone = hsv(rng.uniform(30, 60), rng.uniform(0.0, 0.03), rng.uniform(0.93, 0.99))
    elif family == 1:  # light grey
        tone = hsv(rng.uniform(0, 360), rng.uniform(0.0, 0.025), rng.uniform(0.76, 0.9))
    elif family == 2:  # cream / warm off-white
        tone = hsv(rng.uniform(32, 48), rng.uniform(0.06, 0.13), rng.uniform(0.88, 0.97))
    else:              # cool grey
        tone = hsv(rng.uniform(195, 225), rng.uniform(0.03, 0.08), rng.uniform(0.82, 0.94))
    yy, xx = np.mgrid[0:size, 0:size].astype(F) * F(1.0 / size)
    light = int(rng.integers(3))
    if light == 0:    # flat, a soft vignette
        lum = F(1.0) - F(rng.uniform(0.02, 0.1)) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * F(2.0)
    elif light == 1:  # sweep: the paper curves from wall to floor, one end a little darker
        t = yy if rng.random() < 0.8 else xx
        lum = F(1.0) - F(rng.uniform(0.04, 0.12)) * t ** F(rng.uniform(1.0, 2.0)) * F(rng.choice([1.0, -1.0]))
    else:             # spotlight behind the garment
        cx, cy = rng.uniform(0.35, 0.65, 2)
        r2 = ((xx - F(cx)) ** 2 + (yy - F(cy)) ** 2) * F(rng.uniform(1.5, 3.0))
        lum = F(1.0) - F(rng.uniform(0.04, 0.12)) * np.clip(r2, 0, 1)
    texture = int(rng.integers(3))
    if texture == 1:  # paper grain: fine blotches plus pixel grain
        lum = lum * (F(1.0) + F(rng.uniform(0.006, 0.015)) * smooth_noise(rng, (size, size), 40)
                     + F(rng.uniform(0.004, 0.01)) * rng.standard_normal((size, size)).astype(F))
    elif texture == 2:  # faint fabric weave (a cloth backdrop)
        f = size / rng.uniform(2.5, 4.0)
        xr, yr = rotate(xx, yy, rng.uniform(-3, 3))
        weave = np.sin(xr * F(6.28 * f)) * np.sin(yr * F(6.28 * f))
        lum = lum * (F(1.0) + F(rng.uniform(0.01, 0.025)) * weave)
    return np.clip(tone * lum[..., None], 0, 1).astype(F)


def draw_background(kind: str, rng: np.random.Generator, size: int) -> Backdrop:
    """The backdrop of one image; ``kind`` is one of BACKGROUNDS (checked by the caller)."""
    if kind == "plain":
        tone = hsv(rng.uniform(30, 60), rng.uniform(0.0, 0.02), rng.uniform(0.95, 1.0))
        return Backdrop(np.broadcast_to(tone, (size, size, 3)).astype(F), 0.0, (0.0, 0.0), 0.01)
    if kind == "studio":
        rgb = _studio(rng, size)
        dx, dy = rng.uniform(0.0, 0.025), rng.uniform(0.01, 0.035)
        return Backdrop(rgb, float(rng.uniform(0.12, 0.3)), (float(dx), float(dy)), float(rng.uniform(0.015, 0.035)))
    rgb = _mixed(rng, size)
    dx, dy = rng.uniform(-0.02, 0.03, 2)
    return Backdrop(rgb, float(rng.uniform(0.2, 0.45)), (float(dx), float(dy)), float(rng.uniform(0.01, 0.03)))
