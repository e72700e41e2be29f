"""GridCut's quality score needs each image's k nearest other images (`probes.neighbours.
leave_one_out_neighbours`, sklearn's brute ArgKmin). This compares it, interleaved (A B A B),
with the kNN probes' exact-order path (`nearest(X, X, k, exclude=...)`, float64 for
sklearn-identical predictions) and checks both give the same neighbour sets.

    python benchmarks/neighbours.py [--n 4000] [--d 512] [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from analysis.probes.neighbours import leave_one_out_neighbours, nearest


def probe_path(X: np.ndarray, k: int) -> np.ndarray:
    return nearest(X, X, k, "euclidean", exclude=np.arange(len(X)))[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = np.maximum(rng.normal(size=(args.n, args.d)), 0).astype(np.float32)  # post-ReLU-like
    times: dict[str, list[float]] = {"nearest(exclude=…)": [], "leave_one_out_neighbours": []}
    out = {}
    for _ in range(args.rounds):
        for name, fn in (("nearest(exclude=…)", probe_path), ("leave_one_out_neighbours", leave_one_out_neighbours)):
            t0 = time.perf_counter()
            out[name] = fn(X, args.k)
            times[name].append(time.perf_counter() - t0)
    a, b = (np.sort(v, axis=1) for v in out.values())
    print(f"{args.n} x {args.d}, k={args.k}, {args.rounds} interleaved rounds")
    for name, t in times.items():
        print(f"  {name:<26} median {statistics.median(t):.2f} s  (min {min(t):.2f}, max {max(t):.2f})")
    ratio = statistics.median(times["nearest(exclude=…)"]) / statistics.median(times["leave_one_out_neighbours"])
    print(f"  leave_one_out_neighbours is {ratio:.2f}x faster; same neighbour sets for {np.mean((a == b).all(axis=1)):.1%} of rows")


if __name__ == "__main__":
    main()
