"""GLOSH outlier scores (hdbscan package): planted odd images come first, soft membership is a
distribution, the clusters equal scikit-learn's HDBSCAN on the same space."""
import numpy as np
import pytest
from sklearn.cluster import HDBSCAN
from sklearn.metrics import adjusted_rand_score

from analysis.errors import LayerScopeError
from analysis.probes.outliers import cluster_tree, glosh_outliers, odd_images


def blobs_with_strays(seed=0, per=80, d=6, strays=5):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, d)) * 10
    X = np.concatenate([c + rng.normal(size=(per, d)) for c in centres])
    far = rng.uniform(-40, 40, size=(strays, d))
    far += np.sign(far) * 30  # well away from every blob
    y = np.repeat(["a", "b", "c"], per).tolist() + ["stray"] * strays
    return np.concatenate([X, far]).astype(np.float32), np.array(y)


def test_planted_stray_images_get_the_highest_scores_and_are_flagged():
    X, y = blobs_with_strays()
    r = glosh_outliers(X, reducer="none", min_cluster_size=10, quantile=0.95)
    strays = set(range(240, 245))
    assert set(np.argsort(-r.scores)[:5]) == strays
    assert strays <= set(r.flagged) and len(r.flagged) <= int(np.ceil(0.05 * len(X)))
    assert (np.diff(r.scores[r.flagged]) <= 0).all()  # oddest first
    assert r.scores.min() >= 0 and r.scores.max() <= 1
    table = odd_images(r, y, top=5)
    assert set(table["label"]) == {"stray"} and list(table.columns[:4]) == ["image", "score", "cluster", "probability"]


def test_soft_membership_sums_to_at_most_one_and_agrees_with_the_hard_clusters():
    X, _ = blobs_with_strays(1)
    r = glosh_outliers(X, reducer="none", min_cluster_size=10)
    assert r.membership.shape == (len(X), r.clusters.max() + 1) == (len(X), 3)
    total = r.membership.sum(axis=1)  # the rest of 1 is the chance of belonging to no cluster
    assert (total > 0).all() and (total <= 1 + 1e-9).all()
    assert total[r.probabilities > 0.9].mean() > total[r.clusters < 0].mean()
    core = r.probabilities > 0.9
    assert (r.membership[core].argmax(axis=1) == r.clusters[core]).all()


def test_clusters_equal_sklearn_hdbscan_on_the_same_space():
    X, _ = blobs_with_strays(2, per=60)
    r = glosh_outliers(X, reducer="pca", n_components=3, min_cluster_size=8, random_state=0)
    ref = HDBSCAN(min_cluster_size=8, copy=True).fit_predict(r.embedding)
    assert adjusted_rand_score(ref, r.clusters) == 1.0
    assert ((ref < 0) == (r.clusters < 0)).all()


def test_condensed_tree_nodes_nest_and_bad_input_is_explained():
    X, _ = blobs_with_strays(3)
    r = glosh_outliers(X, reducer="none", min_cluster_size=10)
    tree = cluster_tree(r)
    assert tree.iloc[0]["parent"] == -1 and tree.iloc[0]["size"] == len(X)
    assert set(tree["parent"][1:]) <= set(tree["node"])
    assert (tree["lambda_death"] >= tree["lambda_birth"]).all()
    with pytest.raises(LayerScopeError, match="too few"):
        glosh_outliers(X[:5], reducer="none", min_cluster_size=10)
    with pytest.raises(LayerScopeError, match="quantile"):
        glosh_outliers(X[:100], reducer="none", quantile=1.0)
    X[4, 2] = np.nan
    with pytest.raises(LayerScopeError, match="NaN"):
        glosh_outliers(X, reducer="none")
