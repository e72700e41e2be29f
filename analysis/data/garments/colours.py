"""The ten colour names of the garments set and the palette a garment is painted with."""
from __future__ import annotations

import numpy as np

from analysis.data.garments.draw import F, hsv, luma

COLOURS: tuple[str, ...] = (
    "yellow", "orange", "blue", "black", "brown", "red", "grey", "pink", "purple", "green",
)

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


class Palette:
    """Base colour plus tones that keep the colour name (for large-coverage pattern parts) and
    neutral accents (for small-coverage parts: dots, thin lines, petals, highlights)."""

    def __init__(self, colour: str, rng: np.random.Generator) -> None:
        (h0, h1), (s0, s1), (v0, v1) = _HSV_RANGES[colour]
        h, s, v = rng.uniform(h0, h1), rng.uniform(s0, s1), rng.uniform(v0, v1)
        self.name = colour
        self.base = hsv(h, s, v)
        white = np.array([0.96, 0.95, 0.92], F) * F(rng.uniform(0.94, 1.0))
        ink = np.array([0.07, 0.065, 0.06], F)
        if colour == "black":
            # Black garments: pattern in charcoal / mid greys, never bright white at large area.
            self.dark = hsv(h, s, rng.uniform(0.25, 0.3))      # charcoal: still reads "black"
            self.light = hsv(h, s, rng.uniform(0.27, 0.32))
            self.accent_light = hsv(h, 0.02, rng.uniform(0.45, 0.58))
            self.accent_dark = hsv(h, s, rng.uniform(0.33, 0.42))
        elif colour == "grey":
            self.dark = hsv(h, s, v * rng.uniform(0.7, 0.76))
            self.light = hsv(h, s, min(v + rng.uniform(0.14, 0.2), 0.88))
            self.accent_light = white
            self.accent_dark = ink
        elif colour == "brown":
            self.dark = hsv(h, s, v * 0.55)                     # dark chocolate
            self.light = hsv(h + 3, s * 0.75, min(v * 1.5, 0.62))  # tan
            self.accent_light = hsv(40, 0.25, 0.9)              # cream
            self.accent_dark = ink
        elif colour == "yellow":
            self.dark = hsv(h, min(s + 0.05, 1), v * 0.78)      # mustard
            self.light = hsv(h + 2, s * 0.55, 1.0)              # pale yellow
            self.accent_light = white
            self.accent_dark = hsv(h - 8, 0.7, 0.28)            # dark olive-brown, not pure black
        elif colour == "orange":
            self.dark = hsv(h - 6, 1.0, v * 0.78)               # burnt orange
            self.light = hsv(h + 3, s * 0.78, 1.0)              # light orange
            self.accent_light = white
            self.accent_dark = hsv(h - 8, 0.8, 0.3)
        elif colour == "red":
            self.dark = hsv(h - 3, s, v * 0.6)                  # maroon
            self.light = hsv(h + 6, min(s + 0.05, 1), min(v * 1.18, 1))  # brighter scarlet
            self.accent_light = white
            self.accent_dark = ink
        elif colour == "pink":
            self.dark = hsv(h - 3, min(s + 0.1, 0.6), v * 0.8)     # rose
            self.light = hsv(h, s * 0.55, 1.0)                     # pale pink
            self.accent_light = white
            self.accent_dark = hsv(h, 0.7, 0.5)
        else:  # blue, purple, green: darker and lighter tones of the same hue
            self.dark = hsv(h, min(s + 0.08, 1), v * 0.56)
            self.light = hsv(h, s * 0.62, min(v * 1.3, 1.0))
            self.accent_light = white
            self.accent_dark = ink

    def contrast(self) -> np.ndarray:
        """The neutral accent that stands out most against the base (for outlines)."""
        return self.accent_light if luma(self.base) < 0.42 else self.accent_dark

    def tone(self, rng: np.random.Generator) -> np.ndarray:
        """A same-name tone for parts covering a lot of the garment (visible against the base)."""
        if rng.random() < 0.6 or abs(luma(self.light) - luma(self.base)) < 0.12:
            return self.dark
        return self.light

    def accent(self, rng: np.random.Generator, min_contrast: float = 0.2) -> np.ndarray:
        """A small-coverage accent (same-name tone or neutral) that is visible on the base."""
        base = luma(self.base)
        cands = [c for c in (self.dark, self.light, self.accent_light, self.accent_dark)
                 if abs(luma(c) - base) >= min_contrast]
        return cands[int(rng.integers(len(cands)))] if cands else self.contrast()

