"""Positive / negative pair sampling and the separation numbers, against direct references."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import paired_distances as sk_paired

from analysis.errors import LayerScopeError
from analysis.probes.distances import distance_distributions, pair_distances, sample_pairs
from analysis.probes.reduction import reduce


def data(seed=0, n=90, d=6, k=3, spread=3.0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["a", "b", "c"][:k]), n // k)
    centres = rng.standard_normal((k, d)) * spread
    return (centres[np.unique(y, return_inverse=True)[1]] + rng.standard_normal((len(y), d))).astype(np.float32), y


def test_pairs_are_positive_and_negative_as_labelled_and_distinct():
    _, y = data()
    p = sample_pairs(y, n_per_class=100, random_state=0)
    assert (y[p.pos[:, 0]] == y[p.pos[:, 1]]).all() and (p.pos[:, 0] != p.pos[:, 1]).all()
    assert (y[p.neg[:, 0]] != y[p.neg[:, 1]]).all()
    assert (np.asarray(p.classes)[p.pos_class] == y[p.pos[:, 0]]).all()
    assert len(p.pos) == len(p.neg) == 300
    assert len({tuple(sorted(x)) for x in p.pos}) == 300  # no pair twice


def test_all_pairs_taken_when_fewer_than_asked():
    y = np.array(["a"] * 4 + ["b"] * 3)
    p = sample_pairs(y, n_per_class=3000)
    assert len(p.pos) == 6 + 3  # C(4,2) + C(3,2)
    assert len(p.neg) == 4 * 3 + 3 * 4


def test_pairs_depend_on_random_state():
    _, y = data()
    a, b = sample_pairs(y, 50, random_state=1), sample_pairs(y, 50, random_state=1)
    c = sample_pairs(y, 50, random_state=2)
    assert np.array_equal(a.pos, b.pos) and not np.array_equal(a.pos, c.pos)


def test_single_class_raises():
    with pytest.raises(LayerScopeError, match="two classes"):
        sample_pairs(np.repeat("a", 10))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_pair_distances_equal_sklearn_paired_distances_and_auc(metric):
    X, y = data()
    p = sample_pairs(y, 200, random_state=0)
    r = pair_distances(X, p, metric)
    np.testing.assert_allclose(r.positive, sk_paired(X[p.pos[:, 0]], X[p.pos[:, 1]], metric=metric), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r.negative, sk_paired(X[p.neg[:, 0]], X[p.neg[:, 1]], metric=metric), rtol=1e-5, atol=1e-6)
    truth = np.r_[np.ones(len(r.positive)), np.zeros(len(r.negative))]
    assert r.auc == pytest.approx(roc_auc_score(truth, -np.r_[r.positive, r.negative]))
    assert r.positive_hist.sum() == pytest.approx(1) and r.negative_hist.sum() == pytest.approx(1)
    assert len(r.bin_edges) == len(r.positive_hist) + 1


def test_overlap_is_one_for_same_distribution_and_zero_for_disjoint():
    y = np.repeat(["a", "b"], 10)
    same = pair_distances(np.zeros((20, 3)), sample_pairs(y))
    assert same.overlap == pytest.approx(1.0) and same.auc == pytest.approx(0.5) and np.isnan(same.d_prime)
    X = np.repeat([[0.0, 0.0], [100.0, 0.0]], 10, axis=0) + np.random.default_rng(0).random((20, 2))
    far = pair_distances(X, sample_pairs(y))
    assert far.overlap == 0.0 and far.auc == 1.0 and far.d_prime > 10


def test_d_prime_definition():
    X, y = data(1)
    r = pair_distances(X, sample_pairs(y, 100))
    expected = (r.negative.mean() - r.positive.mean()) / np.sqrt((r.positive.var() + r.negative.var()) / 2)
    assert r.d_prime == pytest.approx(expected)


def test_spaces_share_the_same_pairs_and_umap_spaces_keep_classes_apart():
    X, y = data(2)
    spaces = {"original": X, **{f"UMAP-{d}": reduce(X, "umap", d, n_neighbors=10, min_dist=0.1, random_state=0)
                                for d in (2, 3)}}
    dists, summary = distance_distributions(spaces, y, n_per_class=50, random_state=0)
    assert list(summary["space"]) == ["original", "UMAP-2", "UMAP-3"]
    assert {len(d.positive) for d in dists.values()} == {150}
    assert (summary["auc"] > 0.9).all()  # separated classes stay separated after UMAP


def test_nan_in_a_space_raises_naming_the_space():
    X, y = data(3)
    X[5] = np.inf
    with pytest.raises(LayerScopeError, match="UMAP-2.*rows 5"):
        distance_distributions({"UMAP-2": X}, y)
