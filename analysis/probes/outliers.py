"""Odd images of a block: GLOSH outlier scores, soft cluster membership and the condensed tree,
from the `hdbscan` package.

scikit-learn's ``HDBSCAN`` (used by `clustering.cluster_block`) gives hard clusters only. The
``hdbscan`` package builds the same hierarchy and adds what a user needs to find odd images:

* **GLOSH outlier score** (Campello et al. 2015) per image, in [0, 1]: how much earlier (at a
  lower density) the image leaves its cluster than the cluster's densest members do. 0 = as
  typical as the cluster's core; near 1 = an isolated point. Unlike "noise" (-1) it ranks every
  image, members included, so the first rows are the images to look at (mislabelled, broken,
  off-distribution).
* **Soft membership**: per image, a probability for each cluster, from the hierarchy's
  distances and lambda values (`all_points_membership_vectors`); a row sums to at most 1, the
  rest being the chance that the image belongs to no cluster.
* **Condensed tree**: how clusters split as the density threshold (lambda) rises; the page draws
  it as a picture.

Both implementations run the same algorithm; with ``approx_min_span_tree=False`` the clusters here
equal sklearn's on the same space (tested), so scores line up with the Clustering page. The space
is the one the Clustering page clusters (UMAP to 5-D with min_dist 0, `reduction.reduce`), or
pass ``embedding`` to reuse one, or ``reducer="none"`` for the raw descriptors (small n only:
HDBSCAN slows down in thousands of dimensions).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analysis.arrays import check_descriptors
from analysis.errors import LayerScopeError
from analysis.probes.reduction import REDUCERS, reduce


@dataclass(frozen=True)
class Outliers:
    scores: np.ndarray          # (n,) GLOSH outlier score in [0, 1], higher = odder
    clusters: np.ndarray        # (n,) cluster per image, -1 = noise
    probabilities: np.ndarray   # (n,) strength of membership in its own cluster (0 for noise)
    membership: np.ndarray      # (n, n_clusters) soft membership, rows sum to <= 1 ((n, 0) if no cluster)
    threshold: float            # score above which an image is flagged (the `quantile` of scores)
    flagged: np.ndarray         # indices of flagged images, oddest first
    condensed_tree: pd.DataFrame  # parent, child, lambda_val, child_size (hdbscan's own table)
    embedding: np.ndarray       # the space that was clustered
    params: dict


def glosh_outliers(
    X: ArrayLike,
    *,
    reducer: str = "umap",
    n_components: int = 5,
    n_neighbors: int = 15,
    min_cluster_size: int = 10,
    min_samples: int | None = None,
    quantile: float = 0.95,
    embedding: np.ndarray | None = None,
    random_state: int = 0,
) -> Outliers:
    """GLOSH outlier scores, soft membership and the condensed tree of one block's descriptors.

    reducer: "umap" (default, as the Clustering page), "pca", or "none" (cluster X itself).
    quantile: images scoring above this quantile of all scores are `flagged` (0.95 = the
    oddest 5 %; ties at the threshold are not flagged).
    """
    import hdbscan  # imported here: numba compilation on first import

    X = check_descriptors(X)
    n = len(X)
    if not 0 < quantile < 1:
        raise LayerScopeError(f"quantile must be strictly between 0 and 1, got {quantile}.")
    if min_cluster_size < 2:
        raise LayerScopeError(f"min_cluster_size must be >= 2, got {min_cluster_size}.")
    if n <= min_cluster_size:
        raise LayerScopeError(f"{n} images are too few for clusters of at least {min_cluster_size}; "
                              "lower min_cluster_size or use more images.")
    if embedding is not None:
        E = check_descriptors(embedding, "embedding")
        if len(E) != n:
            raise LayerScopeError(f"the embedding has {len(E)} rows for {n} images.")
    elif reducer == "none":
        E = X
    elif reducer in REDUCERS:
        E = reduce(X, reducer, n_components, n_neighbors=n_neighbors, min_dist=0.0, random_state=random_state)
    else:
        raise LayerScopeError(f"unknown reducer {reducer!r}; choose one of {', '.join(REDUCERS + ('none',))}.")
    E = np.asarray(E, dtype=np.float64)
    clusterer = hdbscan.HDBSCAN(min_cluster_size=int(min_cluster_size), min_samples=min_samples,
                                approx_min_span_tree=False, core_dist_n_jobs=1, prediction_data=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 in GLOSH for exact duplicates: set below
        clusterer.fit(E)
    scores = np.nan_to_num(np.asarray(clusterer.outlier_scores_, dtype=np.float64), nan=0.0)
    clusters = np.asarray(clusterer.labels_, dtype=np.int64)
    n_clusters = int(clusters.max() + 1)
    membership = (np.asarray(hdbscan.all_points_membership_vectors(clusterer), dtype=np.float64).reshape(n, -1)
                  if n_clusters > 0 else np.zeros((n, 0)))
    if n_clusters == 1:  # hdbscan returns a flat (n,) vector of ones for a single cluster
        membership = np.ones((n, 1))
    threshold = float(np.quantile(scores, quantile))
    above = np.flatnonzero(scores > threshold)
    flagged = above[np.lexsort((above, -scores[above]))]
    return Outliers(
        scores=scores, clusters=clusters, probabilities=np.asarray(clusterer.probabilities_, dtype=np.float64),
        membership=membership, threshold=threshold, flagged=flagged,
        condensed_tree=clusterer.condensed_tree_.to_pandas(), embedding=E,
        params={"reducer": "embedding" if embedding is not None else reducer, "n_components": int(E.shape[1]),
                "n_neighbors": n_neighbors, "min_cluster_size": int(min_cluster_size), "min_samples": min_samples,
                "quantile": quantile, "random_state": random_state},
    )


def odd_images(result: Outliers, labels: ArrayLike | None = None, top: int = 20) -> pd.DataFrame:
    """The `top` oddest images: image, score, cluster, probability, best soft cluster and its
    membership, and the label (when given); highest score first, ties by image index."""
    n = len(result.scores)
    order = np.lexsort((np.arange(n), -result.scores))[: max(0, int(top))]
    df = pd.DataFrame({"image": order, "score": result.scores[order], "cluster": result.clusters[order],
                       "probability": result.probabilities[order]})
    if result.membership.shape[1]:
        df["closest_cluster"] = result.membership[order].argmax(axis=1)
        df["membership"] = result.membership[order].max(axis=1)
    if labels is not None:
        y = np.asarray(labels, dtype=object)
        if len(y) != n:
            raise LayerScopeError(f"{len(y)} labels for {n} images.")
        df["label"] = y[order]
    return df.reset_index(drop=True)


def cluster_tree(result: Outliers) -> pd.DataFrame:
    """The condensed tree's cluster nodes (points that fall out are left aside), for a picture:
    node, parent, lambda_birth (density at which it splits off its parent), lambda_death (when
    its last points leave or it splits), size (points at birth). The root has parent -1."""
    t = result.condensed_tree
    nodes = t[t["child_size"] > 1]
    n = len(result.scores)
    rows = [{"node": n, "parent": -1, "lambda_birth": 0.0, "size": n}]
    rows += [{"node": int(c), "parent": int(p), "lambda_birth": float(lam), "size": int(s)}
             for p, c, lam, s in nodes[["parent", "child", "lambda_val", "child_size"]].itertuples(index=False)]
    df = pd.DataFrame(rows)
    death = t.groupby("parent")["lambda_val"].max()
    df["lambda_death"] = df["node"].map(death).fillna(df["lambda_birth"]).astype(float)
    return df
