"""The block report: every descriptor metric for every block of one label column, and a pick.

Per block: nearest-prototype accuracy (euclidean, cosine), best kNN accuracy over metrics × k
(and which), optional linear-probe accuracy, HDBSCAN ARI / AMI / silhouette, precision@k.

Confidence intervals (95 %, percentile bootstrap, seeded):
* accuracies: over the cross-validated test predictions (every image is predicted once);
  resampling images, conditional on the trained folds (fold-to-fold training variation is not
  included; the fold std is in the ProbeResult).
* ARI / AMI: over images, resampling (label, cluster) pairs of the one HDBSCAN run
  (conditional on that clustering; HDBSCAN/UMAP are not refitted), each drawn image kept once
  (duplicates would agree with themselves and inflate pair-counting scores).
* precision@k: over the random queries.
* silhouette: no interval (it is O(n²) per resample).
"±" in the recommendation is half the width of that interval.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

from analysis.arrays import check_descriptors
from analysis.errors import LayerScopeError
from analysis.probes.bootstrap import bootstrap_ci
from analysis.probes.classifiers import KS, ProbeResult, knn_cv, linear_probe_cv, prototype_cv
from analysis.probes.clustering import cluster_block
from analysis.probes.folds import plan_folds
from analysis.probes.retrieval import precision_at_k

# Metric columns of the report table (each also has <name>_low and <name>_high, maybe NaN).
SCORES = ("knn", "prototype_euclidean", "prototype_cosine", "linear", "ari", "ami", "silhouette", "precision")


@dataclass(frozen=True)
class BlockReport:
    """table: one row per block (index = block name), columns SCORES with _low / _high,
    plus knn_k, knn_metric, silhouette_labels, noise_fraction. NaN = not computed.
    best: score column -> block with the highest value. recommended_block is the best by
    ``primary``; recommendation is a one-line summary for the UI."""

    label: str
    table: pd.DataFrame
    best: dict[str, str]
    recommended_block: str
    recommendation: str
    fold_message: str
    params: dict


def _accuracy(r: ProbeResult, n_boot: int, seed: int) -> tuple[float, float, float]:
    low, high = bootstrap_ci(np.mean, r.correct.astype(float), n_boot=n_boot, random_state=seed)
    return r.mean, low, high


def block_report(
    blocks: Mapping[str, ArrayLike],
    y: ArrayLike,
    *,
    label: str = "label",
    ks: Sequence[int] = KS,
    n_splits: int = 5,
    linear: bool = False,
    clustering: bool = True,
    reducer: str = "umap",
    n_components: int = 5,
    n_neighbors: int = 15,
    retrieval_k: int = 10,
    n_queries: int = 500,
    retrieval_metric: str = "euclidean",
    n_boot: int = 1000,
    n_boot_clustering: int = 200,
    primary: str = "knn",
    random_state: int = 0,
    progress: Callable[[float, str], None] | None = None,
    embeddings: Mapping[str, np.ndarray] | None = None,
) -> BlockReport:
    """Score every block for one label column. Raise from ``progress`` to cancel (the exception
    propagates unchanged). All blocks use the same folds and the same retrieval queries.

    embeddings: optional {block name: reduced space} to cluster instead of reducing here (the
    reduction does not depend on the labels, so a caller reporting several label columns can
    compute it once per block; it must be what reducer / n_components / n_neighbors describe).
    Looked up only when that block's clustering stage starts."""
    if not blocks:
        raise LayerScopeError("no blocks to compare; extract descriptors first.")
    if primary not in SCORES:
        raise LayerScopeError(f"primary must be one of {', '.join(SCORES)}; got {primary!r}.")
    blocks = {name: check_descriptors(X, name=name) for name, X in blocks.items()}
    y = np.asarray(y)
    plan = plan_folds(y, n_splits=n_splits, random_state=random_state)
    ks = [k for k in sorted(set(ks)) if k <= plan.min_train_size] or [1]
    stages = ["prototype", "knn"] + (["linear"] if linear else []) + (["clustering"] if clustering else []) + ["retrieval"]
    total, step = len(blocks) * len(stages), 0

    def tick(block: str, stage: str) -> None:
        nonlocal step
        if progress is not None:
            progress(step / total, f"{block}: {stage}")
        step += 1

    rows = []
    for name, X in blocks.items():
        row: dict = {"block": name}
        tick(name, "nearest prototype")
        for metric in ("euclidean", "cosine"):
            r = prototype_cv(X, y, metric, plan=plan)
            row.update(zip((f"prototype_{metric}", f"prototype_{metric}_low", f"prototype_{metric}_high"),
                           _accuracy(r, n_boot, random_state)))
        tick(name, "kNN")
        best = knn_cv(X, y, ks, plan=plan).best
        row.update(zip(("knn", "knn_low", "knn_high"), _accuracy(best, n_boot, random_state)))
        row.update(knn_k=best.params["k"], knn_metric=best.params["metric"])
        if linear:
            tick(name, "linear probe")
            r = linear_probe_cv(X, y, plan=plan, random_state=random_state)
            row.update(zip(("linear", "linear_low", "linear_high"), _accuracy(r, n_boot, random_state)))
        if clustering:
            tick(name, "UMAP + HDBSCAN")
            c = cluster_block(X, y, reducer=reducer, n_components=n_components, n_neighbors=n_neighbors,
                              embedding=None if embeddings is None else embeddings[name],
                              random_state=random_state)
            for score, fn in (("ari", adjusted_rand_score), ("ami", adjusted_mutual_info_score)):
                low, high = bootstrap_ci(fn, c.codes, c.clusters, n_boot=n_boot_clustering, random_state=random_state,
                                         distinct=True)
                row.update({score: getattr(c, score), f"{score}_low": low, f"{score}_high": high})
            row.update(silhouette=c.silhouette, silhouette_labels=c.silhouette_labels, noise_fraction=c.noise_fraction)
        tick(name, f"precision@{retrieval_k}")
        p = precision_at_k(X, y, retrieval_k, n_queries=n_queries, metric=retrieval_metric, random_state=random_state)
        low, high = bootstrap_ci(np.mean, p.precision, n_boot=n_boot, random_state=random_state)
        row.update(precision=p.mean, precision_low=low, precision_high=high)
        rows.append(row)

    # Fixed column order; scores not computed stay visible as NaN columns.
    columns = [c + s for c in SCORES for s in ("", "_low", "_high")]
    columns += ["knn_k", "knn_metric", "silhouette_labels", "noise_fraction"]
    table = pd.DataFrame(rows).set_index("block").reindex(columns=columns)
    best = {col: str(table[col].idxmax()) for col in SCORES if table[col].notna().any()}
    if primary not in best:
        raise LayerScopeError(f"the primary score {primary!r} was not computed; enable it or pick another.")
    chosen = best[primary]
    if progress is not None:
        progress(1.0, "report done")
    return BlockReport(
        label=label, table=table, best=best, recommended_block=chosen,
        recommendation=_recommendation(label, chosen, table.loc[chosen], best, primary, retrieval_k),
        fold_message=plan.message,
        params={"ks": ks, "n_splits": plan.n_splits, "linear": linear, "clustering": clustering,
                "reducer": reducer, "n_components": n_components, "retrieval_k": retrieval_k,
                "n_queries": n_queries, "retrieval_metric": retrieval_metric, "n_boot": n_boot,
                "n_boot_clustering": n_boot_clustering, "primary": primary, "random_state": random_state},
    )


_NAMES = {"knn": "kNN", "prototype_euclidean": "prototype (eucl.)", "prototype_cosine": "prototype (cos.)",
          "linear": "linear probe", "ari": "ARI", "ami": "AMI", "silhouette": "silhouette", "precision": "P@{k}"}


def _recommendation(label: str, block: str, row: pd.Series, best: dict, primary: str, k: int) -> str:
    def fmt(col: str) -> str:
        name = _NAMES[col].format(k=k)
        half = (row[f"{col}_high"] - row[f"{col}_low"]) / 2
        text = f"{name} {row[col]:.2f}" + (f" ± {half:.2f}" if np.isfinite(half) else "")
        return text + (f" (k={int(row['knn_k'])}, {row['knn_metric']})" if col == "knn" else "")

    cols = [primary] + [c for c in ("knn", "prototype_euclidean", "linear", "ari", "ami", "precision") if c != primary]
    parts = [fmt(c) for c in cols if c in best]
    elsewhere = [f"{_NAMES[c].format(k=k)} peaks at {b}" for c, b in best.items() if b != block]
    return f"for `{label}` use {block}: " + ", ".join(parts) + ("; " + ", ".join(elsewhere) if elsewhere else "")
