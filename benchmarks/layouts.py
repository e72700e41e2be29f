"""GridCut vs the exact grid assignment, and UMAP timings, on synthetic clustered descriptors.

    python benchmarks/layouts.py            # 1k / 2.5k / 10k cells, exact where affordable
    python benchmarks/layouts.py --full     # + exact at 10k (~2 min, ~2 GB) and lapjv float64
    python benchmarks/layouts.py --sweep    # + GridCut leaf_size / grouping sweep

Data: 10 classes in 256-D, post-ReLU-like, 4 sub-modes per class, low intrinsic dimension
(16-D) plus isotropic noise -- the shape of real block descriptors. The embedding is our
seeded UMAP (analysis.layouts.umap_maps.umap_2d). Quality = neighbourhood preservation (k=8 nearest
neighbours in the 256-D descriptors found within the 8 surrounding cells), also shown in the
2-D embedding ("q_emb") to isolate what the grid itself loses.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from analysis.layouts.assignment import assignment_cost, solve_assignment
from analysis.layouts.gridcut import exact_grid, gridcut, neighbourhood_preservation
from analysis.layouts.umap_maps import umap_2d, warm_up


def descriptors(n: int, d: int = 256, n_classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    c = np.arange(n) % n_classes
    mode = rng.integers(0, 4, n)
    class_centre = rng.standard_normal((n_classes, d)) * 2.0 / np.sqrt(d) * 4
    mode_offset = rng.standard_normal((n_classes, 4, d)) * 1.5 / np.sqrt(d) * 4
    W = rng.standard_normal((16, d))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    X = class_centre[c] + mode_offset[c, mode] + rng.standard_normal((n, 16)) @ W
    X += 0.5 / np.sqrt(d) * rng.standard_normal((n, d)) + 0.5
    return np.maximum(X, 0.0).astype(np.float32), c


def _lapjv_float64_seconds(cost, size, limit):
    import subprocess
    import tempfile

    sq = np.zeros((size, size))
    sq[: cost.shape[0]] = cost
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cost.npy")
        np.save(path, sq)
        code = (f"import numpy as np, time; from lapjv import lapjv; c = np.load({path!r}); "
                "t = time.perf_counter(); lapjv(c, force_doubles=True); "
                "print(f'{time.perf_counter() - t:.2f} s')")
        try:
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=limit)
            return out.stdout.strip() or out.stderr.strip()[-200:]
        except subprocess.TimeoutExpired:
            return f"did not finish in {limit} s (killed)"


def row(name, layout, emb, extra=""):
    q_emb = neighbourhood_preservation(emb, layout.cell_of, layout.cols)
    print(f"  {name:<28} {layout.seconds:8.2f} s   q={layout.quality:.4f}   q_emb={q_emb:.4f} {extra}", flush=True)
    return layout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="also exact at 10k and lapjv in float64")
    ap.add_argument("--sweep", action="store_true", help="also sweep leaf_size and grouping")
    args = ap.parse_args()
    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}")

    t = time.perf_counter()
    warm_up()
    print(f"UMAP warm_up (numba JIT, once per process): {time.perf_counter() - t:.1f} s")

    for n in (1000, 2500, 10000):
        X, y = descriptors(n)
        m = umap_2d(X, random_state=0)
        emb = m.coords
        print(f"\n== {n} images x 256-D: UMAP 2-D {m.seconds:.1f} s ({m.method}) ==", flush=True)
        # Ceiling from the map itself: share of the 8 nearest descriptor-space neighbours that
        # are also among the 8 nearest in the 2-D map (no grid can keep more than the map has).
        from sklearn.neighbors import NearestNeighbors

        kx = NearestNeighbors(n_neighbors=9).fit(X).kneighbors(X, return_distance=False)[:, 1:]
        ke = NearestNeighbors(n_neighbors=9).fit(emb).kneighbors(emb, return_distance=False)[:, 1:]
        kept = np.mean([len(set(a) & set(b)) / 8 for a, b in zip(kx, ke)])
        print(f"  UMAP map keeps {kept:.3f} of the 8-NN (descriptors -> 2-D); grid rows below:")
        g = row("gridcut (scipy)", gridcut(emb, X=X, compare_exact=False), emb)
        row("gridcut (lapjv)", gridcut(emb, X=X, method="lapjv", compare_exact=False), emb)
        row("gridcut, groups=labels", gridcut(emb, y, X=X, compare_exact=False), emb)
        if n <= 2500 or args.full:
            ex = row("exact (scipy)", exact_grid(emb, X, method="scipy", max_n=10**5), emb)
            print(f"  -> GridCut keeps {g.quality / ex.quality:.1%} of the exact quality, "
                  f"{ex.seconds / max(g.seconds, 1e-9):.0f}x faster", flush=True)
            if n <= 2500:
                row("exact (lapjv, float32)", exact_grid(emb, X, method="lapjv"), emb)
        else:
            print("  exact: skipped at this size (minutes; run with --full)")
        if args.sweep:
            for leaf in (32, 64, 128, 256, 512, 1024):
                row(f"gridcut leaf_size={leaf}", gridcut(emb, X=X, leaf_size=leaf, compare_exact=False), emb)
            row("gridcut k-means groups", gridcut(emb, X=X, n_groups=int(round(np.sqrt(n / 10))),
                                                 compare_exact=False), emb)
            row("gridcut scaling=minmax", gridcut(emb, X=X, scaling="minmax", compare_exact=False), emb)

    print("\n== assignment solvers on one grid cost (squared distance point -> cell centre) ==")
    rng = np.random.default_rng(0)
    for n in (256, 1000) + ((2500,) if args.full else ()):
        X, _ = descriptors(n, seed=1)
        emb = umap_2d(X, random_state=0).coords
        from analysis.layouts.gridcut import _scale_to_grid, grid_shape

        rows, cols = grid_shape(n)
        P = _scale_to_grid(emb.astype(np.float64), rows, cols, "rank")
        rr, cc = np.divmod(np.arange(rows * cols), cols)
        C = np.stack([cc + 0.5, rr + 0.5], 1)
        cost = ((P[:, None, :] - C[None]) ** 2).sum(-1)
        for method in ("scipy", "lapjv"):
            t = time.perf_counter()
            a = solve_assignment(cost, method)
            print(f"  {n:5d} cells  {method:<6} {time.perf_counter() - t:7.2f} s  cost={assignment_cost(cost, a):.6f}")
        if args.full and n <= 1000:
            # lapjv in float64 (force_doubles=True) can cycle for minutes or forever on these
            # costs (float32 solves the same in < 0.1 s): run it in a child with a time limit.
            print(f"  {n:5d} cells  lapjv float64  {_lapjv_float64_seconds(cost, rows * cols, 60)}")
        R = rng.random((n, n))
        for method in ("scipy", "lapjv"):
            t = time.perf_counter()
            a = solve_assignment(R, method)
            print(f"  {n:5d} random {method:<6} {time.perf_counter() - t:7.2f} s  cost={assignment_cost(R, a):.6f}")


if __name__ == "__main__":
    main()
