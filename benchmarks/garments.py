"""Garments generator: render cost per background, PNG size and pixel coverage.

    python benchmarks/garments.py [--n 120] [--size 224] [--batch 10]

Renders the same rows with each background, interleaved (studio, plain, mixed, studio, ... per
batch of rows) so the machine's load hits every background alike; prints the median CPU and
wall milliseconds per image over the batches, the ratio to studio, the mean PNG size (the
generator's compress_level=1) and the garment's mean pixel coverage (mask area / frame).
"""
from __future__ import annotations

import argparse
import io
import os
import time

import numpy as np
from PIL import Image

from analysis.data import garments as G


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=10)
    args = ap.parse_args()
    rows = list(G.garment_table(args.n, random_state=0).itertuples(index=False))
    cpu = {b: [] for b in G.BACKGROUNDS}
    wall = {b: [] for b in G.BACKGROUNDS}
    png = {b: [] for b in G.BACKGROUNDS}
    cover: list[tuple[str, float]] = []
    for s in range(0, len(rows), args.batch):
        for bg in G.BACKGROUNDS:
            batch = rows[s:s + args.batch]
            c0, w0 = time.process_time(), time.perf_counter()
            imgs = [G.render_garment_with_mask(r.colour, r.pattern, r.garment, args.size, int(r.seed), bg)
                    for r in batch]
            cpu[bg].append((time.process_time() - c0) * 1000 / len(batch))
            wall[bg].append((time.perf_counter() - w0) * 1000 / len(batch))
            for img, _ in imgs:
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="PNG", compress_level=1)
                png[bg].append(buf.tell())
            if bg == "studio":
                cover += [(r.garment, float(mask.mean())) for r, (_, mask) in zip(batch, imgs)]
    print(f"{len(rows)} images per background at {args.size} px, batches of {args.batch}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load {os.getloadavg()[0]:.1f}")
    base = np.median(cpu["studio"])
    for bg in G.BACKGROUNDS:
        print(f"{bg:7s} render {np.median(cpu[bg]):5.1f} ms CPU / {np.median(wall[bg]):5.1f} ms wall per image "
              f"(median of {len(cpu[bg])} batches; CPU ratio to studio {np.median(cpu[bg]) / base:.2f}), "
              f"PNG {np.mean(png[bg]) / 1024:.0f} KiB")
    c = np.array([v for _, v in cover])
    print(f"pixel coverage: mean {c.mean():.3f}, 5-95 % {np.percentile(c, 5):.3f}-{np.percentile(c, 95):.3f}, "
          f"min {c.min():.3f}, max {c.max():.3f}")
    print("by garment: " + ", ".join(f"{g} {np.mean([v for h, v in cover if h == g]):.2f}" for g in G.GARMENTS))


if __name__ == "__main__":
    main()
