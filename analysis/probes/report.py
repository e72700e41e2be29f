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
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analysis.arrays import check_descriptors
from analysis.errors import LayerScopeError
from analysis.probes.bootstrap import bootstrap_ci
from analysis.probes.chance import above_chance, agreement_intervals, chance_levels
from analysis.probes.classifiers import KS, ProbeResult, knn_cv, linear_probe_cv, prototype_cv
from analysis.probes.clustering import cluster_block
from analysis.probes.folds import plan_folds
from analysis.probes.logme import logme
from analysis.probes.retrieval import precision_at_k
from analysis.progress import Progress
from analysis.progress import report as report_progress

# Metric columns of the report table (each also has <name>_low and <name>_high, maybe NaN).
# logme: LogME (You et al. 2021), training-free log evidence per image, not an accuracy (no interval).
SCORES = ("knn", "prototype_euclidean", "prototype_cosine", "linear", "ari", "ami", "silhouette", "precision", "logme")


@dataclass(frozen=True)
class BlockReport:
    """table: one row per block (index = block name), columns SCORES with _low / _high,
    plus knn_k, knn_metric, silhouette_labels, noise_fraction. NaN = not computed.
    best: score column -> block with the highest value among the blocks whose score is above
    chance (a score at chance on every block has no best). recommended_block is the best by
    ``primary`` (its plain maximum when no block beats chance); recommendation is a one-line
    summary for the UI. chance: score -> its chance level; at_chance: the scores that show
    nothing (their 95 % interval reaches the chance level on every block)."""

    label: str
    table: pd.DataFrame
    best: dict[str, str]
    recommended_block: str
    recommendation: str
    fold_message: str
    params: dict
    chance: dict[str, float] = field(default_factory=dict)
    at_chance: list[str] = field(default_factory=list)

    @property
    def primary_above_chance(self) -> bool:
        return self.params.get("primary", "knn") in self.best


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
    progress: Progress | None = None,
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
    ks = plan.usable_ks(ks) or [1]
    retrieval_k = max(1, min(retrieval_k, len(y) - 1))  # P@k needs k other images: a tiny set uses a smaller k
    stages = ["prototype", "knn"] + (["linear"] if linear else []) + (["clustering"] if clustering else []) + ["retrieval"]
    total, step = len(blocks) * len(stages), 0

    def tick(block: str, stage: str) -> None:
        nonlocal step
        report_progress(progress, step, total, f"{block}: {stage}")
        step += 1

    rows = [_score_block(name, X, y, plan, ks, tick, linear=linear, clustering=clustering, reducer=reducer,
                         n_components=n_components, n_neighbors=n_neighbors,
                         embeddings=embeddings,
                         retrieval_k=retrieval_k, n_queries=n_queries, retrieval_metric=retrieval_metric,
                         n_boot=n_boot, n_boot_clustering=n_boot_clustering, random_state=random_state)
            for name, X in blocks.items()]
    # Fixed column order; scores not computed stay visible as NaN columns.
    columns = [c + s for c in SCORES for s in ("", "_low", "_high")]
    columns += ["knn_k", "knn_metric", "silhouette_labels", "noise_fraction"]
    table = pd.DataFrame(rows).set_index("block").reindex(columns=columns)
    chance = chance_levels(y)
    best, at_chance = _best_blocks(table, chance)
    r = with_primary(BlockReport(
        label=label, table=table, best=best, recommended_block="", recommendation="",
        fold_message=plan.message, chance=chance, at_chance=at_chance,
        params={"ks": ks, "n_splits": plan.n_splits, "linear": linear, "clustering": clustering,
                "reducer": reducer, "n_components": n_components, "retrieval_k": retrieval_k,
                "n_queries": n_queries, "retrieval_metric": retrieval_metric, "n_boot": n_boot,
                "n_boot_clustering": n_boot_clustering, "primary": primary, "random_state": random_state},
    ), primary)
    report_progress(progress, total, total, "report done")
    return r


def with_primary(r: BlockReport, primary: str) -> BlockReport:
    """The same report recommending by another score. Numbers, best blocks and chance verdicts do
    not depend on it, so nothing is recomputed: only the recommended block and its sentence change."""
    if primary not in SCORES:
        raise LayerScopeError(f"primary must be one of {', '.join(SCORES)}; got {primary!r}.")
    t = r.table
    if not t[primary].notna().any():
        raise LayerScopeError(f"the primary score {primary!r} was not computed; enable it or pick another.")
    chosen = r.best.get(primary, str(t[primary].idxmax()))
    text = _recommendation(r.label, chosen, t.loc[chosen], r.best, primary, r.params.get("retrieval_k", 10),
                           r.chance.get(primary))
    return replace(r, recommended_block=chosen, recommendation=text, params={**r.params, "primary": primary})


def _score_block(name: str, X: np.ndarray, y: np.ndarray, plan, ks: list[int], tick: Callable[[str, str], None], *,
                 linear: bool, clustering: bool, reducer: str, n_components: int, n_neighbors: int,
                 embeddings: Mapping[str, np.ndarray] | None, retrieval_k: int, n_queries: int, retrieval_metric: str,
                 n_boot: int, n_boot_clustering: int, random_state: int) -> dict:
    """One row of the report table: every score of one block, with its bootstrap interval."""
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
    row["logme"] = logme(np.asarray(X)[plan.rows], y[plan.rows])  # the images the probes score
    if linear:
        tick(name, "linear probe")
        r = linear_probe_cv(X, y, plan=plan, random_state=random_state)
        row.update(zip(("linear", "linear_low", "linear_high"), _accuracy(r, n_boot, random_state)))
    if clustering:
        tick(name, "UMAP + HDBSCAN")
        c = cluster_block(X, y, reducer=reducer, n_components=n_components, n_neighbors=n_neighbors,
                          embedding=None if embeddings is None else embeddings[name],  # looked up only now
                          random_state=random_state)
        row.update(ari=c.ari, ami=c.ami, **agreement_intervals(c.codes, c.clusters, n_boot_clustering, random_state))
        row.update(silhouette=c.silhouette, silhouette_labels=c.silhouette_labels, noise_fraction=c.noise_fraction)
    tick(name, f"precision@{retrieval_k}")
    p = precision_at_k(X, y, retrieval_k, n_queries=n_queries, metric=retrieval_metric, random_state=random_state)
    low, high = bootstrap_ci(np.mean, p.precision, n_boot=n_boot, random_state=random_state)
    row.update(precision=p.mean, precision_low=low, precision_high=high)
    return row


def _best_blocks(table: pd.DataFrame, chance: dict[str, float]) -> tuple[dict[str, str], list[str]]:
    """Best block per score among the blocks above chance, and the scores at chance everywhere."""
    best, at_chance = {}, []
    for col in SCORES:
        if not table[col].notna().any():
            continue
        ok = above_chance(table, col, chance[col]) if col in chance else table[col].notna()
        if ok.any():
            best[col] = str(table.loc[ok, col].idxmax())
        else:
            at_chance.append(col)  # never "best": it shows nothing on any block
    return best, at_chance


_NAMES = {"knn": "kNN", "prototype_euclidean": "prototype (eucl.)", "prototype_cosine": "prototype (cos.)",
          "linear": "linear probe", "ari": "ARI", "ami": "AMI", "silhouette": "silhouette", "precision": "P@{k}", "logme": "LogME"}


def _recommendation(label: str, block: str, row: pd.Series, best: dict, primary: str, k: int,
                    chance: float | None = None) -> str:
    def fmt(col: str) -> str:
        name = _NAMES[col].format(k=k)
        half = (row[f"{col}_high"] - row[f"{col}_low"]) / 2
        text = f"{name} {row[col]:.2f}" + (f" ± {half:.2f}" if np.isfinite(half) else "")
        return text + (f" (k={int(row['knn_k'])}, {row['knn_metric']})" if col == "knn" else "")

    if primary not in best:
        level = "" if chance is None else f" (chance {chance:.2f})"
        return (f"for `{label}` no block is clearly above chance by {_NAMES[primary].format(k=k)}: the highest, "
                f"{fmt(primary)} at {block}, is within chance{level}. These descriptors show nothing about "
                f"`{label}`; do not pick a block from this score.")
    cols = [primary] + [c for c in ("knn", "prototype_euclidean", "linear", "ari", "ami", "precision") if c != primary]
    parts = [fmt(c) for c in cols if c in best]
    elsewhere = [f"{_NAMES[c].format(k=k)} peaks at {b}" for c, b in best.items() if b != block]
    return f"for `{label}` use {block}: " + ", ".join(parts) + ("; " + ", ".join(elsewhere) if elsewhere else "")


def chance_notes(r: BlockReport) -> list[str]:
    """Plain-words warnings for the report: scores that show nothing, HDBSCAN runs that left
    every image as noise (0 clusters: no silhouette)."""
    out = []
    k = r.params.get("retrieval_k", 10)
    for s in r.at_chance:
        level = r.chance.get(s)
        out.append(f"{_NAMES[s].format(k=k)} shows nothing for `{r.label}`: on every block its 95 % interval "
                   f"reaches chance ({level:.2f}), so no block is marked best for it." if level is not None else
                   f"{_NAMES[s].format(k=k)} was not defined on any block.")
    t = r.table
    if "noise_fraction" in t and t["noise_fraction"].notna().any():
        allnoise = [str(b) for b, v in t["noise_fraction"].items() if np.isfinite(v) and v >= 0.999]
        if allnoise:
            out.append(f"HDBSCAN left every image as noise on {', '.join(allnoise)} (0 clusters, so no silhouette "
                       "and ARI / AMI 0): the clustering found no structure there, which says nothing about "
                       "whether the classes separate; see kNN.")
    return out
