"""The balanced label table of the garments set and writing it to disk as PNGs + labels.csv."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.data.garments.colours import COLOURS
from analysis.data.garments.patterns import PATTERNS
from analysis.data.garments.render import as_rng, check_background, check_size, render_garment
from analysis.data.garments.silhouettes import GARMENTS
from analysis.errors import LayerScopeError
from analysis.progress import Progress, report


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
    rng = as_rng(random_state)
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
    progress: Progress | None = None, background: str = "studio",
) -> Path:
    """Write ``n`` PNG images to ``out_dir/images/`` and ``out_dir/labels.csv``; return the CSV path.

    labels.csv columns: path (relative to out_dir), colour, pattern, garment.
    background: "studio", "plain" or "mixed" (see render_garment).
    """
    check_background(background)
    out = Path(out_dir)
    table = garment_table(n, random_state)
    size = check_size(size)
    try:
        (out / "images").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LayerScopeError(f"Cannot create dataset folder {out}: {e}. Choose a writable folder.") from e
    total = len(table)
    every = max(1, total // 100)
    for i, row in enumerate(table.itertuples(index=False)):
        img = render_garment(row.colour, row.pattern, row.garment, size, int(row.seed), background)
        target = out / row.file
        tmp = target.with_name(target.name + ".tmp")
        # compress_level=1: fast; atomic rename so an interrupted run never leaves half a file
        Image.fromarray(img).save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, target)
        if (i + 1) % every == 0 or i + 1 == total:
            report(progress, i + 1, total, "rendering garments")
    labels = pd.DataFrame({"path": table["file"], "colour": table["colour"],
                           "pattern": table["pattern"], "garment": table["garment"]})
    csv_path = out / "labels.csv"
    labels.to_csv(csv_path, index=False)
    return csv_path
