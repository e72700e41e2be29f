"""Built-in synthetic dataset ``garments``: product photos of clothing with a colour and a pattern label.

Everything is drawn here (numpy + PIL + scipy.ndimage), deterministic from a seed, so the
dashboard has a labelled dataset without any download. Two label axes that live at different
depths of a CNN (colour: shallow, pattern/texture: middle to deep) make it a probe for "which
block encodes what". By default the images look like catalogue photos: the garment covers about
55 % of the frame's pixels, on a low-saturation studio backdrop (``background="studio"``);
``"plain"`` (flat white) and ``"mixed"`` (the busy scenes of version 1) are options.

Modules: ``colours`` (names, palettes), ``patterns`` (fabric patterns), ``silhouettes`` (garment
shapes), ``backgrounds``, ``render`` (one image), ``table`` (balanced labels, writing to disk),
``draw`` (numeric helpers).

Public API::

    COLOURS, PATTERNS, GARMENTS, BACKGROUNDS, GENERATOR_VERSION
    render_garment(colour, pattern, garment, size=224, random_state=0, background="studio") -> HxWx3 uint8
    render_garment_with_mask(...) -> (image, mask)     # mask: HxW float32 garment coverage 0..1
    garment_table(n=1000, random_state=0) -> DataFrame[file, colour, pattern, garment, seed]
    generate(out_dir, n=1000, size=224, random_state=0, progress=None, background="studio") -> labels.csv

An image depends only on its row (colour, pattern, garment, seed), ``size`` and ``background``:
rows can be rendered in any order, in parallel or resumed, and the bytes are identical across
runs. The garment (shape, framing, colour, pattern, lighting) does not depend on ``background``.
"""
from __future__ import annotations

from analysis.data.garments.backgrounds import BACKGROUNDS
from analysis.data.garments.colours import COLOURS
from analysis.data.garments.patterns import PATTERNS
from analysis.data.garments.render import render_garment, render_garment_with_mask
from analysis.data.garments.silhouettes import GARMENTS
from analysis.data.garments.table import garment_table, generate

# Bump whenever the pixels produced for a given (row, size, background) change: it is part of the
# dataset's cache folder name. v2: product-photo framing (pixel coverage ~55 %) and backgrounds.
GENERATOR_VERSION: int = 2

__all__ = ["COLOURS", "PATTERNS", "GARMENTS", "BACKGROUNDS", "GENERATOR_VERSION", "render_garment",
           "render_garment_with_mask", "garment_table", "generate"]
