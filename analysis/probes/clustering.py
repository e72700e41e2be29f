"""Unsupervised check of a block: reduce, cluster with HDBSCAN, compare clusters with labels.

HDBSCAN implementation: ``sklearn.cluster.HDBSCAN``. It ships with the scikit-learn we already
depend on (so it moves in lock-step with numpy / sklearn upgrades, where the separate
``hdbscan`` package has broken before), it is deterministic, and on 10k points in a few
UMAP dimensions it takes well under a second (the ``hdbscan`` package is ~1.5× faster
there, which does not matter next to UMAP's cost). What sklearn does not give — GLOSH outlier
scores, soft membership, the condensed tree — comes from the ``hdbscan`` package in
``outliers.py``, whose clusters equal these on the same space (tested).

Scores:
* ARI / AMI: ``adjusted_rand_score`` / ``adjusted_mutual_info_score`` between the labels and
  the HDBSCAN assignment over ALL images, noise counted as one extra group (so an
  embedding that leaves most images as noise scores low, as it should).
* silhouette: ``silhouette_score`` of the HDBSCAN clusters in the reduced space, noise points
  excluded; NaN when fewer than 2 clusters remain.
* silhouette_labels: silhouette of the true labels in the same reduced space (all images):
  how well the labels separate there, independent of HDBSCAN.
Both silhouettes use at most ``silhouette_max`` images (a seeded sample; the score is O(n²)).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn import config_context
from sklearn.cluster import HDBSCAN
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, silhouette_score

from analysis.arrays import check_descriptors, encode_labels
from analysis.errors import LayerScopeError
from analysis.probes.reduction import reduce
from analysis.progress import Progress, report

_SILHOUETTE_MB = 64  # working memory of the silhouette's distance chunks
NOISE = "noise"  # the name of HDBSCAN's noise group (-1) wherever clusters are shown


def cluster_names(clusters: ArrayLike) -> np.ndarray:
    """HDBSCAN cluster ids -> sortable text ("cluster 01", ..., "noise" for -1)."""
    clusters = np.asarray(clusters)
    width = max(2, len(str(int(clusters.max(initial=0)))))
    return np.array([NOISE if c < 0 else f"cluster {int(c):0{width}d}" for c in clusters], dtype=object)


@dataclass(frozen=True)
class ClusteringResult:
    clusters: np.ndarray  # (n,) HDBSCAN cluster per image, -1 = noise
    embedding: np.ndarray  # (n, n_components) the space that was clustered
    classes: list
    codes: np.ndarray  # (n,) true class index per image
    ari: float
    ami: float
    silhouette: float
    silhouette_labels: float
    noise_fraction: float
    n_clusters: int
    params: dict


def _silhouette(E: np.ndarray, labels: np.ndarray, max_n: int, random_state: int) -> float:
    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(labels):
        return float("nan")  # silhouette is undefined for 1 group or all singletons
    sample = max_n if len(labels) > max_n else None
    # sklearn sizes its distance chunks by working_memory (1 GiB: one 800 MB block at 10 000 images).
    # Each row's sums do not depend on the chunking, so small chunks give the same number, with a
    # fraction of the memory and, being cache-friendly, in a fraction of the time (6x at 10 000).
    with config_context(working_memory=_SILHOUETTE_MB):
        return float(silhouette_score(E, labels, sample_size=sample, random_state=random_state))


def cluster_block(
    X: ArrayLike,
    y: ArrayLike,
    *,
    reducer: str = "umap",
    n_components: int = 5,
    n_neighbors: int = 15,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
    embedding: np.ndarray | None = None,
    silhouette_max: int = 10_000,
    random_state: int = 0,
) -> ClusteringResult:
    """Reduce X (UMAP with min_dist=0, or PCA), run HDBSCAN, score against y.

    min_cluster_size defaults to max(5, smallest class size // 2). Pass ``embedding`` to
    cluster an already reduced space (reducer / n_components are then ignored).
    """
    X = check_descriptors(X)
    labels = encode_labels(y, len(X))
    if len(labels.classes) < 2:
        raise LayerScopeError("comparing clusters with labels needs at least two classes; choose another label column.")
    if embedding is None:
        embedding = reduce(X, reducer, n_components, n_neighbors=n_neighbors, min_dist=0.0, random_state=random_state)
    elif len(embedding) != len(X):
        raise LayerScopeError(f"the embedding has {len(embedding)} rows for {len(X)} images.")
    mcs = max(5, int(labels.counts.min()) // 2) if min_cluster_size is None else int(min_cluster_size)
    mcs = max(2, min(mcs, len(X)))
    clusters = HDBSCAN(min_cluster_size=mcs, min_samples=min_samples, copy=True).fit_predict(embedding)
    kept = clusters >= 0
    return ClusteringResult(
        clusters=clusters,
        embedding=embedding,
        classes=labels.classes,
        codes=labels.codes,
        ari=float(adjusted_rand_score(labels.codes, clusters)),
        ami=float(adjusted_mutual_info_score(labels.codes, clusters)),
        silhouette=_silhouette(embedding[kept], clusters[kept], silhouette_max, random_state),
        silhouette_labels=_silhouette(embedding, labels.codes, silhouette_max, random_state),
        noise_fraction=float(1.0 - kept.mean()),
        n_clusters=int(clusters.max() + 1),
        params={"reducer": reducer, "n_components": int(embedding.shape[1]), "n_neighbors": n_neighbors,
                "min_cluster_size": mcs, "min_samples": min_samples, "random_state": random_state},
    )


def clustering_curve(
    blocks: Mapping[str, ArrayLike],
    y: ArrayLike,
    *,
    progress: Progress | None = None,
    **kwargs,
) -> pd.DataFrame:
    """cluster_block for every block -> one row per block (the ARI / AMI curve over blocks).

    kwargs go to cluster_block (random_state included). Raise from progress to cancel.
    """
    rows = []
    for i, (name, X) in enumerate(blocks.items()):
        report(progress, i, len(blocks), f"clustering {name}")
        r = cluster_block(X, y, **kwargs)
        rows.append({"block": name, "ari": r.ari, "ami": r.ami, "silhouette": r.silhouette,
                     "silhouette_labels": r.silhouette_labels, "noise_fraction": r.noise_fraction,
                     "n_clusters": r.n_clusters})
    report(progress, len(blocks), len(blocks), "clustering done")
    return pd.DataFrame(rows)
