"""The block report for a cached store: computed once, kept on disk, shown as text tables.

Shared by the dashboard's Block report page and `python -m analysis report`, so a report
computed by one is found by the other (same key: store, label column, every parameter of
`block_report` after defaults, and a hash of the analysis source that computes it).
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.descriptors.results_cache import cached_arrays, cached_json, result_path
from analysis.errors import LayerScopeError
from analysis.probes.reduction import reduce
from analysis.probes.report import SCORES, BlockReport, block_report, with_primary
from analysis.progress import Progress

REPORT_FORMAT = 2  # 2: chance levels; a score at chance is never best
# The modules whose code decides the numbers: a change in any of them gives a new cache key.
_SOURCES = ("analysis.probes.report", "analysis.probes.chance", "analysis.probes.classifiers", "analysis.probes.clustering",
            "analysis.probes.retrieval", "analysis.probes.bootstrap", "analysis.probes.folds",
            "analysis.probes.neighbours", "analysis.probes.reduction", "analysis.arrays", "analysis.probes.logme",
            "analysis.probes.agreement")
LABELS = {"knn": "kNN", "prototype_euclidean": "prototype eucl.", "prototype_cosine": "prototype cos.",
          "linear": "linear probe", "ari": "ARI", "ami": "AMI", "silhouette": "silhouette", "precision": "P@k",
          "logme": "LogME"}


def _code_hash() -> str:
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update(Path(importlib.import_module(name).__file__).read_bytes())
    return h.hexdigest()[:12]


def resolved_params(**params) -> dict:
    """block_report's keyword defaults overridden by params (unknown names raise)."""
    sig = inspect.signature(block_report)
    defaults = {k: p.default for k, p in sig.parameters.items()
                if p.kind is p.KEYWORD_ONLY and k not in ("label", "progress", "embeddings")}
    unknown = set(params) - set(defaults)
    if unknown:
        raise LayerScopeError(f"unknown block report setting(s): {', '.join(sorted(unknown))}.")
    out = {**defaults, **params}
    out["ks"] = [int(k) for k in out["ks"]]
    return out


def report_to_json(r: BlockReport) -> dict:
    return {
        "format": REPORT_FORMAT, "label": r.label, "table": json.loads(r.table.to_json(orient="split")),
        "best": r.best, "recommended_block": r.recommended_block, "recommendation": r.recommendation,
        "fold_message": r.fold_message, "params": r.params, "chance": r.chance, "at_chance": r.at_chance,
    }


def report_from_json(d: dict) -> BlockReport:
    t = d["table"]
    table = pd.DataFrame(t["data"], index=t["index"], columns=t["columns"])
    table.index.name = "block"
    num = [c for c in table.columns if c != "knn_metric"]
    table[num] = table[num].apply(pd.to_numeric, errors="coerce")  # JSON null -> NaN
    return BlockReport(label=d["label"], table=table, best=dict(d["best"]), recommended_block=d["recommended_block"],
                       recommendation=d["recommendation"], fold_message=d["fold_message"], params=dict(d["params"]),
                       chance=dict(d.get("chance", {})), at_chance=list(d.get("at_chance", [])))


def _space_parts(store, block: int, reducer: str, n_components: int, n_neighbors: int, min_dist: float,
                 random_state: int) -> dict:
    return {"store": store.key, "block": int(block), "reducer": reducer, "d": int(n_components),
            "nn": int(n_neighbors) if reducer == "umap" else None, "min_dist": float(min_dist),
            "seed": int(random_state), "v": 2}  # v2: UMAP on an exact kNN graph from 4096 rows on


def reduced_space(store, block: int, reducer: str = "umap", n_components: int = 5, n_neighbors: int = 15,
                  min_dist: float = 0.1, random_state: int = 0) -> np.ndarray:
    """One block's descriptors reduced with `reduction.reduce`, kept on disk per (entry, block,
    settings). It does not depend on the labels, so every label column and page shares it."""
    parts = _space_parts(store, block, reducer, n_components, n_neighbors, min_dist, random_state)
    return cached_arrays("reduced_space", parts, lambda: {"E": reduce(
        store.descriptors(block), reducer, int(n_components), n_neighbors=int(n_neighbors), min_dist=float(min_dist),
        random_state=int(random_state))})["E"]


def cluster_space_path(store, block: int, reducer: str = "umap", n_components: int = 5, n_neighbors: int = 15,
                       random_state: int = 0) -> Path:
    """Where cluster_space keeps one block's reduced space on disk (present or not)."""
    return result_path("reduced_space", _space_parts(store, block, reducer, n_components, n_neighbors, 0.0,
                                                     random_state), ".npz")


def cluster_space(store, block: int, reducer: str = "umap", n_components: int = 5, n_neighbors: int = 15,
                  random_state: int = 0) -> np.ndarray:
    """The reduced space HDBSCAN clusters for one block (as cluster_block makes it: min_dist 0):
    the block report, the Clustering page and the outlier scores share it."""
    return reduced_space(store, block, reducer, n_components, n_neighbors, 0.0, random_state)


def cached_clustering(store, block: int, label: str, reducer: str = "umap", n_components: int = 5,
                      n_neighbors: int = 15, min_cluster_size: int | None = None, random_state: int = 0,
                      n_boot: int = 200) -> dict[str, np.ndarray]:
    """HDBSCAN of one block's reduced space (cluster_space) scored against one label column, with
    95 % bootstrap intervals of ARI / AMI, kept on disk (the Clustering page's first visit and
    `precompute --warm` share it). Arrays: clusters (n,), and the scalars ari, ami, ari_low,
    ari_high, ami_low, ami_high, silhouette, silhouette_labels, noise_fraction, n_clusters,
    min_cluster_size."""
    from analysis.probes.chance import agreement_intervals
    from analysis.probes.clustering import cluster_block

    y = store.label_values(label)  # an unknown column is an error before anything is computed or cached
    parts = {"store": store.key, "block": int(block), "label": label, "reducer": reducer, "d": int(n_components),
             "nn": int(n_neighbors) if reducer == "umap" else None, "mcs": min_cluster_size,
             "seed": int(random_state), "n_boot": int(n_boot), "code": _code_hash(), "v": 1}

    def compute() -> dict[str, np.ndarray]:
        E = cluster_space(store, block, reducer, n_components, n_neighbors, random_state)
        r = cluster_block(store.descriptors(block), y, embedding=E,
                          min_cluster_size=min_cluster_size, random_state=random_state)
        ci = agreement_intervals(r.codes, r.clusters, n_boot=n_boot, random_state=random_state)
        return {"clusters": r.clusters, "ari": np.array(r.ari), "ami": np.array(r.ami), "silhouette": np.array(r.silhouette),
                "silhouette_labels": np.array(r.silhouette_labels), "noise_fraction": np.array(r.noise_fraction),
                "n_clusters": np.array(r.n_clusters), "min_cluster_size": np.array(r.params["min_cluster_size"]),
                **{k: np.array(v) for k, v in ci.items()}}

    return cached_arrays("clustering", parts, compute)


class _Spaces(dict):
    """{block name: reduced space}, each computed (or read from disk) only when first asked for."""

    def __init__(self, store, params: dict):
        super().__init__()
        self.store, self.params = store, params
        self.index = {b.name: b.index for b in store.blocks}

    def __missing__(self, name: str) -> np.ndarray:
        p = self.params
        self[name] = cluster_space(self.store, self.index[name], p["reducer"], p["n_components"], p["n_neighbors"],
                                   p["random_state"])
        return self[name]


def _report_parts(store, label: str, full: dict) -> dict:
    """The cache key of a report. `primary` only picks the recommended block from the same
    numbers (with_primary), so it is left out: changing it recomputes nothing."""
    return {"store": store.key, "label": label, "params": {k: v for k, v in full.items() if k != "primary"},
            "code": _code_hash(), "format": REPORT_FORMAT}


def cached_block_report(
    store, label: str, *, progress: Progress | None = None, **params
) -> BlockReport:
    """block_report over every block of `store` for one label column, cached on disk."""
    y = store.label_values(label)  # an unknown column is an error before anything is computed or cached
    full = resolved_params(**params)
    computed = {**full, "primary": "knn"}  # always computed; the cached report recommends by kNN

    def compute() -> dict:
        r = block_report(store.block_arrays(), y, label=label, progress=progress,
                         embeddings=_Spaces(store, full) if full["clustering"] else None, **computed)
        return report_to_json(r)

    return with_primary(report_from_json(cached_json("block_report", _report_parts(store, label, full), compute)),
                        full["primary"])


def report_on_disk(store, label: str, **params) -> BlockReport | None:
    """The cached block report for these settings if it was computed before (e.g. by
    `precompute --warm` or the Block report page), else None — never computes."""
    if label not in store.labels.columns:
        return None
    if not result_path("block_report", _report_parts(store, label, resolved_params(**params)), ".json").is_file():
        return None
    return cached_block_report(store, label, **params)


def summary_table(r: BlockReport, scores: Sequence[str] | None = None, decimals: int = 3) -> pd.DataFrame:
    """Text table: blocks as rows, one column per computed score "0.940 [0.921, 0.958]"
    (95 % bootstrap interval; "—" where undefined, e.g. silhouette with < 2 clusters), plus the
    chosen kNN setting and the noise fraction.
    ``best_mask`` says which cells to highlight."""
    t = r.table
    cols = [c for c in (scores or SCORES) if c in t and t[c].notna().any()]
    out = pd.DataFrame(index=t.index)
    for c in cols:
        lo, hi = t[f"{c}_low"], t[f"{c}_high"]
        out[LABELS[c].replace("P@k", f"P@{r.params.get('retrieval_k', 10)}")] = [
            ("—" if not np.isfinite(v) else f"{v:.{decimals}f}"
             + (f" [{a:.{decimals}f}, {b:.{decimals}f}]" if np.isfinite(a) and np.isfinite(b) else ""))
            for v, a, b in zip(t[c], lo, hi)
        ]
        if c == "knn":
            short = {"euclidean": "eucl.", "cosine": "cos."}
            out["kNN setting"] = [f"k={int(k)} {short.get(m, m)}" for k, m in zip(t["knn_k"], t["knn_metric"])]
    if "noise_fraction" in t and t["noise_fraction"].notna().any():
        out["noise"] = [f"{v:.2f}" for v in t["noise_fraction"]]
    return out


def best_mask(r: BlockReport, display: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame shaped like summary_table(r): True at each score's best block."""
    mask = pd.DataFrame(False, index=display.index, columns=display.columns)
    names = {LABELS[c].replace("P@k", f"P@{r.params.get('retrieval_k', 10)}"): c for c in SCORES}
    for col in display.columns:
        score = names.get(col)
        if score in r.best:
            mask.loc[r.best[score], col] = True
    return mask


def long_table(reports: Sequence[BlockReport]) -> pd.DataFrame:
    """All numbers of several reports (one per label column) in one table for CSV export."""
    frames = []
    for r in reports:
        t = r.table.reset_index()
        t.insert(0, "label_column", r.label)
        t["best_for"] = [", ".join(LABELS[s] for s, b in r.best.items() if b == blk) for blk in t["block"]]
        frames.append(t)
    return pd.concat(frames, ignore_index=True)
