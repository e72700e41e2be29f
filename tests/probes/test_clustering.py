"""Reduction + HDBSCAN + scores, checked against sklearn's metric functions."""
import numpy as np
import pytest
from sklearn.cluster import HDBSCAN
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, silhouette_score

from analysis.errors import LayerScopeError
from analysis.probes.clustering import cluster_block, clustering_curve


def blobs(seed=0, n=150, d=10, k=3, spread=4.0):
    rng = np.random.default_rng(seed)
    y = np.repeat([f"c{i}" for i in range(k)], n // k)
    centres = rng.standard_normal((k, d)) * spread
    return (centres[np.unique(y, return_inverse=True)[1]] + rng.standard_normal((len(y), d))).astype(np.float32), y


@pytest.fixture(scope="module")
def umap_result():
    X, y = blobs()
    return X, y, cluster_block(X, y, reducer="umap", n_components=2, n_neighbors=10, random_state=0)


def test_umap_clustering_scores_equal_sklearn_metrics(umap_result):
    X, y, r = umap_result
    codes = np.unique(y, return_inverse=True)[1]
    assert r.embedding.shape == (len(X), 2)
    assert r.ari == pytest.approx(adjusted_rand_score(codes, r.clusters))
    assert r.ami == pytest.approx(adjusted_mutual_info_score(codes, r.clusters))
    kept = r.clusters >= 0
    assert r.silhouette == pytest.approx(silhouette_score(r.embedding[kept], r.clusters[kept]))
    assert r.silhouette_labels == pytest.approx(silhouette_score(r.embedding, codes))
    assert r.noise_fraction == pytest.approx(1 - kept.mean())
    assert r.ari > 0.9 and r.n_clusters == 3  # well-separated blobs are found


def test_same_random_state_gives_same_clusters(umap_result):
    X, y, r = umap_result
    again = cluster_block(X, y, reducer="umap", n_components=2, n_neighbors=10, random_state=0)
    np.testing.assert_array_equal(again.clusters, r.clusters)


def test_pca_reduction_then_hdbscan_matches_direct_hdbscan():
    X, y = blobs(1)
    r = cluster_block(X, y, reducer="pca", n_components=3, min_cluster_size=10)
    np.testing.assert_array_equal(r.clusters, HDBSCAN(min_cluster_size=10, copy=True).fit_predict(r.embedding))
    assert r.params["min_cluster_size"] == 10 and r.embedding.shape[1] == 3


def test_given_embedding_is_clustered_as_is():
    X, y = blobs(2)
    E = X[:, :2].astype(np.float64)
    r = cluster_block(X, y, embedding=E)
    assert r.embedding is E
    assert r.params["min_cluster_size"] == 25  # default: max(5, smallest class // 2)


def test_all_noise_gives_zero_ari_and_nan_silhouette():
    X, y = blobs(3)
    r = cluster_block(X, y, reducer="pca", n_components=2, min_cluster_size=len(X))  # impossible cluster size
    assert r.noise_fraction == 1.0 and r.n_clusters == 0
    assert r.ari == pytest.approx(0.0) and np.isnan(r.silhouette)


def test_identical_descriptors_do_not_crash():
    y = np.repeat(["a", "b"], 20)
    r = cluster_block(np.ones((40, 6), np.float32), y, reducer="pca", n_components=2)
    # sklearn scores points that all coincide as silhouette 0; so do we.
    assert r.ari == pytest.approx(0.0) and r.silhouette_labels == 0.0 and r.noise_fraction == 1.0


def test_single_class_raises():
    X, _ = blobs(4)
    with pytest.raises(LayerScopeError, match="two classes"):
        cluster_block(X, np.repeat("a", len(X)), reducer="pca")


def test_nan_rows_raise():
    X, y = blobs(5)
    X[3, 0] = np.nan
    with pytest.raises(LayerScopeError, match="rows 3"):
        cluster_block(X, y, reducer="pca")


def test_curve_has_one_row_per_block_and_reports_progress():
    X, y = blobs(6)
    noise = np.random.default_rng(0).standard_normal(X.shape).astype(np.float32)
    seen = []
    df = clustering_curve({"block 1": noise, "block 2": X}, y, reducer="pca", n_components=3,
                          progress=lambda d, t, note="": seen.append((d, t)))
    assert list(df["block"]) == ["block 1", "block 2"]
    assert df.loc[1, "ari"] > df.loc[0, "ari"]  # the structured block scores higher
    assert seen == [(0, 2), (1, 2), (2, 2)]  # counts, the last one "all done"


def test_curve_can_be_cancelled_from_progress():
    X, y = blobs(7)

    def stop(done, total, note=""):
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        clustering_curve({"block 1": X}, y, reducer="pca", progress=stop)


def test_silhouettes_in_small_chunks_equal_sklearns_default_bit_for_bit(monkeypatch):
    """The silhouette runs in small distance chunks (memory); its numbers equal sklearn's one-block answer."""
    import analysis.probes.clustering as clustering

    monkeypatch.setattr(clustering, "_SILHOUETTE_MB", 0.05)  # ~ 13 rows per chunk at 500 images: many chunks
    rng = np.random.default_rng(2)
    E = rng.standard_normal((500, 5)) + rng.integers(0, 4, 500)[:, None]
    for labels in (rng.integers(0, 4, 500), rng.integers(0, 9, 500)):
        assert clustering._silhouette(E, labels, 10_000, 0) == silhouette_score(E, labels)
    X, y = blobs(seed=3)
    r = cluster_block(X, y, reducer="pca", n_components=3)
    kept = r.clusters >= 0
    assert r.silhouette == silhouette_score(r.embedding[kept], r.clusters[kept])
    assert r.silhouette_labels == silhouette_score(r.embedding, np.unique(y, return_inverse=True)[1])
