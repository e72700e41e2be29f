"""The kNN memory at scale: a faiss index over ≥ 1 000 000 synthetic clustered descriptors.

    python benchmarks/memory.py                      # 1 000 000 × 512 (~2 GB float32; ~5 min on 2 cores)
    python benchmarks/memory.py --n 200000 --d 512   # quicker
    python benchmarks/memory.py --kind hnsw          # the graph index instead of IVF-PQ

Data: analysis.descriptors.synthetic.clustered_descriptors — the shape of block descriptors
(post-ReLU, 1000 classes with 4 modes each, varying mostly in a class-specific 16-D subspace plus a
little isotropic noise), generated in float32 chunks. Queries: fresh images from the same distribution (not in the memory).

Reports: build time (train + add), bytes per vector of the index (codes + ids + centroids; the
re-ranking reads the descriptors themselves, which the store holds anyway), recall@10 against exact
search, and queries/s of the index and of exact search (faiss IndexFlatL2, batched BLAS: the fastest
exact search on this machine). The two are timed INTERLEAVED (index batch, exact batch, index batch,
…) and medians quoted. Last line exactly:
memory: n=<N> d=<D> recall@10=<R> qps=<Q> exact_qps=<E> speedup=<S>x build_s=<B> bytes_per_vector=<M>
"""
from __future__ import annotations

import argparse
import os
import time

import faiss
import numpy as np

from analysis.descriptors.index import build_index
from analysis.descriptors.synthetic import clustered_descriptors


def exact_search(base: np.ndarray, Q: np.ndarray, k: int) -> np.ndarray:
    _, idx = faiss.knn(np.ascontiguousarray(Q, dtype=np.float32), base, k)
    return idx


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=4, help="interleaved timing batches (queries split evenly)")
    ap.add_argument("--kind", choices=["ivfpq", "hnsw"], default="ivfpq")
    ap.add_argument("--nprobe", type=int, default=None)
    ap.add_argument("--rerank", type=int, default=None)
    ap.add_argument("--nlist", type=int, default=None, help="IVF cells (default: the library's choice)")
    args = ap.parse_args()
    n, d, k = args.n, args.d, 10
    print(f"threads: faiss {faiss.omp_get_max_threads()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    t = time.perf_counter()
    X, _ = clustered_descriptors(n, d)
    Q, _ = clustered_descriptors(args.queries, d, offset=10**9)  # fresh rows of the same classes
    print(f"generated {n:,} × {d} float32 ({X.nbytes / 2**30:.2f} GiB) + {len(Q)} queries in {time.perf_counter() - t:.1f} s")

    params = {k_: v for k_, v in (("nprobe", args.nprobe), ("rerank", args.rerank),
                                                  ("nlist", args.nlist)) if v is not None}
    vi = build_index(X, "euclidean", args.kind, params=params, random_state=0,
                     progress=lambda d, n, note="": print(f"  build: {note}", flush=True) if d in (0, n) else None)
    bpv = vi.index_bytes / n
    print(f"built {vi.describe()} in {vi.build_seconds:.1f} s; index {vi.index_bytes / 2**20:.1f} MiB = {bpv:.1f} bytes/vector "
          f"(the float32 vectors themselves: {4 * d} bytes/vector)")

    found, truth, t_idx, t_ex = [], [], [], []
    for batch in np.array_split(np.arange(len(Q)), args.batches):  # A B A B: same load for both
        t = time.perf_counter()
        idx, _ = vi.search(Q[batch], k)
        t_idx.append(len(batch) / (time.perf_counter() - t))
        t = time.perf_counter()
        truth.append(exact_search(X, Q[batch], k))
        t_ex.append(len(batch) / (time.perf_counter() - t))
        found.append(idx)
        print(f"  batch of {len(batch)}: index {t_idx[-1]:8.1f} q/s   exact {t_ex[-1]:6.1f} q/s", flush=True)
    found, truth = np.concatenate(found), np.concatenate(truth)
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth)])
    qps, eqps = float(np.median(t_idx)), float(np.median(t_ex))
    print(f"recall@10 vs exact: {recall:.4f}; median q/s index {qps:.1f}, exact {eqps:.1f}: {qps / eqps:.1f}×")
    print(f"memory: n={n} d={d} recall@10={recall:.4f} qps={qps:.1f} exact_qps={eqps:.1f} "
          f"speedup={qps / eqps:.1f}x build_s={vi.build_seconds:.1f} bytes_per_vector={bpv:.1f}")


if __name__ == "__main__":
    main()
