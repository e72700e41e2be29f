"""Timings of the "Which block?" analyses on synthetic clustered descriptors.

    python benchmarks/analyses.py            # 10 000 × 2048, 10 classes (a few minutes on 2 cores)
    python benchmarks/analyses.py --quick    # 2 000 × 512
    python benchmarks/analyses.py --knn-only # only the kNN comparison (ours / exact path / sklearn)

Prints: our 5-fold kNN (k in 1,2,4,8,16; euclidean + cosine) vs sklearn KNeighborsClassifier
(brute) on the same folds, with agreement — timed interleaved per fold (ours, the exact per-metric
float64 path it replaced, sklearn's 10 fits), medians and ratios, last kNN line
`knn_cv: n=… d=… ours_s=… sklearn_s=… ratio=…x median_fold_ratio=…x identical=…/…`; prototype CV; one UMAP fit; HDBSCAN; then, on fewer
images: linear probe, kNN in UMAP spaces, the whole block report on 5 blocks (64 … 2048 channels).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.cluster import HDBSCAN
from sklearn.neighbors import KNeighborsClassifier

from analysis.probes.classifiers import KS, _knn_fold, knn_cv, linear_probe_cv, prototype_cv, umap_knn_cv
from analysis.probes.folds import plan_folds
from analysis.probes.neighbours import knn_neighbour_sets, rank_classes, vote_counts
from analysis.probes.reduction import reduce
from analysis.probes.report import block_report


def descriptors(n: int, d: int, separation: float = 1.0, n_classes: int = 10, seed: int = 0):
    """Post-ReLU-like clustered descriptors: each class has 4 sub-modes, images vary mostly in a
    16-D subspace (like real descriptors, of low intrinsic dimension) plus a little isotropic
    noise. separation=1.0 gives kNN ~0.8-0.96 at 10k images (not trivially 1.0)."""
    rng = np.random.default_rng(seed)
    c = np.arange(n) % n_classes
    mode = rng.integers(0, 4, n)
    class_centre = rng.standard_normal((n_classes, d)) * separation / np.sqrt(d)
    mode_offset = rng.standard_normal((n_classes, 4, d)) * 1.5 * separation / np.sqrt(d)
    W = rng.standard_normal((16, d))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    X = class_centre[c] + mode_offset[c, mode] + rng.standard_normal((n, 16)) @ W
    X += 0.5 / np.sqrt(d) * rng.standard_normal((n, d)) + 0.5
    return np.maximum(X, 0.0).astype(np.float32), np.array([f"class {i}" for i in c])


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def exact_fold(Xtr, ctr, Xte, n_classes):
    """The exact path before knn_sets: one float64 (euclidean) and one cosine product per fold."""
    out = {}
    for metric in ("euclidean", "cosine"):
        for _, sets in knn_neighbour_sets(Xte, Xtr, KS, metric):
            for k, idx in sets.items():
                out[(metric, k)] = rank_classes(vote_counts(ctr[idx], n_classes))[:, 0]
    return out


def knn_interleaved(X, y, plan, res):
    """Per fold, A B C: our fold (knn_sets), the exact per-metric path, sklearn's 10 fits; the
    mismatches of our knn_cv predictions against sklearn's."""
    ours_fold = _knn_fold(list(KS), ["euclidean", "cosine"])
    mismatches, times = 0, []
    for f, (tr, te) in enumerate(plan.splits):
        Xtr, Xte, ctr = X[tr], X[te], plan.codes[tr]
        _, t_a = timed(lambda: ours_fold(Xtr, ctr, Xte, plan.n_classes))
        _, t_b = timed(lambda: exact_fold(Xtr, ctr, Xte, plan.n_classes))
        t0 = time.perf_counter()
        for (metric, k), r in res.results.items():
            pred = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric=metric).fit(Xtr, y[tr]).predict(Xte)
            mismatches += int((np.asarray(r.classes)[r.y_pred[r.fold == f]] != pred).sum())
        times.append((t_a, t_b, time.perf_counter() - t0))
        print(f"  fold {f + 1}: ours {t_a:5.1f} s, exact path {t_b:5.1f} s, sklearn {times[-1][2]:6.1f} s", flush=True)
    return mismatches, times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 000 × 512 instead of 10 000 × 2048")
    ap.add_argument("--knn-only", action="store_true", help="stop after the kNN comparison")
    args = ap.parse_args()
    n, d = (2000, 512) if args.quick else (10_000, 2048)
    n_report = 600 if args.quick else 2000
    X, y = descriptors(n, d)
    plan = plan_folds(y, n_splits=5, random_state=0)
    print(f"data: {n} × {d} float32, 10 classes, 5 folds; threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")

    res, t_ours = timed(lambda: knn_cv(X, y, KS, ("euclidean", "cosine"), plan=plan))
    print(f"ours   kNN 5-fold, k={list(KS)}, euclidean+cosine: {t_ours:7.1f} s (one run, for the predictions)")
    mism, per_fold = knn_interleaved(X, y, plan, res)
    total = sum(len(r.y_pred) for r in res.results.values())
    ours, exact, sk = (np.array([f[i] for f in per_fold]) for i in range(3))
    print(f"interleaved per fold (ours, exact path, sklearn's 10 fits; {len(per_fold)} folds): ours {ours.sum():.1f} s, "
          f"exact per-metric float64 path {exact.sum():.1f} s, sklearn KNeighborsClassifier (brute) {sk.sum():.1f} s")
    print(f"  ratio sklearn/ours: total {sk.sum() / ours.sum():.1f}×, per-fold median {np.median(sk / ours):.1f}× "
          f"(range {np.min(sk / ours):.1f}-{np.max(sk / ours):.1f}); exact path/ours median {np.median(exact / ours):.1f}×")
    print(f"predictions identical: {total - mism}/{total} ({mism} differ)")
    print(f"knn_cv: n={n} d={d} ours_s={ours.sum():.1f} sklearn_s={sk.sum():.1f} ratio={sk.sum() / ours.sum():.1f}x "
          f"median_fold_ratio={np.median(sk / ours):.1f}x identical={total - mism}/{total}")
    if args.knn_only:
        return
    t = res.table
    for metric in ("euclidean", "cosine"):
        row = t[t.metric == metric].set_index("k")
        print(f"  {metric:9s} top-1 " + "  ".join(f"k={k}: {row.loc[k, 'accuracy']:.3f}" for k in KS)
              + f"   top-5 k=16: {row.loc[16, 'top5']:.3f}")

    for metric in ("euclidean", "cosine"):
        r, tp = timed(lambda: prototype_cv(X, y, metric, plan=plan))
        print(f"prototype CV ({metric}): {tp:6.2f} s, accuracy {r.mean:.3f} ± {r.std:.3f}")

    E, tu = timed(lambda: reduce(X, "umap", 5, n_neighbors=15, random_state=0))
    print(f"UMAP {n} × {d} -> 5-D (one fit, incl. first-call numba compile): {tu:6.1f} s")
    _, tu2 = timed(lambda: reduce(X, "umap", 5, n_neighbors=15, random_state=1))
    print(f"UMAP {n} × {d} -> 5-D (second fit, compiled): {tu2:6.1f} s")
    labels, th = timed(lambda: HDBSCAN(min_cluster_size=n // 20, copy=True).fit_predict(E))
    print(f"HDBSCAN on the 5-D embedding: {th:6.2f} s, {labels.max() + 1} clusters, noise {np.mean(labels < 0):.2f}")

    dims = (64, 256, 512, 1024, 2048)
    seps = (0.8, 1.0, 1.4, 1.2, 0.9)  # a curve over blocks that peaks at block 3
    blocks = {f"block {i}": descriptors(n_report, dd, sep, seed=i)[0]
              for i, (dd, sep) in enumerate(zip(dims, seps), start=1)}
    _, y_rep = descriptors(n_report, 8)
    Xr = blocks["block 5"]
    lin, tl = timed(lambda: linear_probe_cv(Xr, y_rep, random_state=0))
    print(f"linear probe 5-fold, {n_report} × {Xr.shape[1]}: {tl:6.1f} s, accuracy {lin.mean:.3f} "
          f"(converged: {lin.params['converged']})")
    for name in ("block 3", "block 5"):  # strong / weak class separation
        Xb = blocks[name]
        um, tk = timed(lambda: umap_knn_cv(Xb, y_rep, dims=[2, 8, 32], ks=(1, 4, 16), random_state=0))
        best = um.table.loc[um.table.groupby("dim")["accuracy"].idxmax()]
        print(f"UMAP-space kNN 5-fold, {name} ({n_report} × {Xb.shape[1]}), dims 2/8/32 (15 UMAP fits): {tk:6.1f} s;"
              " best acc. " + ", ".join(f"{int(r.dim)}-D {r.accuracy:.3f}" for r in best.itertuples())
              + f" (original space {knn_cv(Xb, y_rep, (1, 4, 16), ('euclidean',)).best.mean:.3f})")
    rep, tr = timed(lambda: block_report(blocks, y_rep, label="class", random_state=0))
    print(f"block report, 5 blocks ({', '.join(map(str, dims))} channels) × {n_report} images, "
          f"UMAP-5 + HDBSCAN, 500 queries, no linear probe: {tr:6.1f} s")
    print("  " + rep.recommendation)


if __name__ == "__main__":
    main()
