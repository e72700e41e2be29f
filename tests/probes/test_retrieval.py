"""precision@k, combined two-block ranking and the few-shot memory, against brute-force references."""
import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.metrics.pairwise import cosine_distances, euclidean_distances
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

from analysis.errors import LayerScopeError
from analysis.probes.bootstrap import bootstrap_ci
from analysis.probes.retrieval import (
    combined_precision_at_k,
    combined_precision_table,
    combined_ranking,
    few_shot_classify,
    precision_at_k,
    precision_table,
)

SK = {"euclidean": euclidean_distances, "cosine": cosine_distances}


def data(seed=0, n=120, d=8, k=4, spread=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    centres = rng.standard_normal((k, d)) * spread
    return (centres[y] + rng.standard_normal((n, d))).astype(np.float32), y


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_precision_at_k_equals_brute_force(metric):
    X, y = data()
    r = precision_at_k(X, y, 10, n_queries=50, metric=metric, random_state=0)
    D = SK[metric](X[r.queries], X)
    D[np.arange(len(r.queries)), r.queries] = np.inf
    ref = np.argsort(D, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(r.neighbours, ref)
    np.testing.assert_allclose(r.precision, (y[ref] == y[r.queries][:, None]).mean(axis=1))
    assert len(np.unique(r.queries)) == 50 and 0 < r.mean < 1


def test_precision_never_retrieves_the_query_but_does_retrieve_its_duplicate():
    X, y = data(1, n=40)
    X = np.concatenate([X, X[:1]])  # row 40 duplicates row 0
    y = np.concatenate([y, y[:1]])
    r = precision_at_k(X, y, 3, n_queries=len(X), random_state=0)
    assert not (r.neighbours == r.queries[:, None]).any()
    assert r.neighbours[0, 0] == 40 and r.neighbours[40, 0] == 0


def test_equal_distances_rank_lower_index_first():
    X = np.array([[0.0], [-1.0], [1.0], [1.0], [-1.0], [0.5]], np.float32)
    r = precision_at_k(X, np.array([0, 0, 1, 1, 1, 1]), 3, n_queries=6, random_state=0)
    np.testing.assert_array_equal(r.neighbours[0], [5, 1, 2])  # 0.5, then the four at 1 by index


def test_precision_queries_follow_random_state_and_k_is_checked():
    X, y = data(2)
    assert np.array_equal(precision_at_k(X, y, n_queries=20, random_state=4).queries,
                          precision_at_k(X, y, n_queries=20, random_state=4).queries)
    with pytest.raises(LayerScopeError, match="precision@200"):
        precision_at_k(X, y, 200)


def test_combined_ranking_weight_one_is_block_a_alone():
    Xa, _ = data(3)
    Xb, _ = data(4)
    r = combined_ranking(Xa, Xb, 7, weight=1.0)
    d = euclidean_distances(Xa[[7]], Xa)[0]
    d[7] = np.inf
    np.testing.assert_array_equal(r.order, np.argsort(d, kind="stable")[:-1])
    assert 7 not in r.order and len(r.order) == len(Xa) - 1


def test_combined_score_is_weighted_normalised_rank_sum():
    Xa, _ = data(5)
    Xb, _ = data(6, d=5)
    q = (Xa[0] + 0.1, Xb[0] - 0.1)  # new vectors: nothing excluded
    r = combined_ranking(Xa, Xb, q, weight=0.3, metric_b="cosine", top=15)
    ra = (rankdata(euclidean_distances([q[0]], Xa)[0]) - 1) / (len(Xa) - 1)
    rb = (rankdata(cosine_distances([q[1]], Xb)[0]) - 1) / (len(Xb) - 1)
    score = 0.3 * ra + 0.7 * rb
    np.testing.assert_array_equal(r.order, np.lexsort((np.arange(len(score)), score))[:15])
    np.testing.assert_allclose(r.score, score[r.order])
    np.testing.assert_allclose(r.rank_a, ra[r.order])


def test_combined_ranking_rejects_bad_queries():
    Xa, _ = data(7)
    with pytest.raises(LayerScopeError, match="same images"):
        combined_ranking(Xa, Xa[:10], 0)
    with pytest.raises(LayerScopeError, match="block B query"):
        combined_ranking(Xa, Xa, (Xa[0], np.ones(3)))
    with pytest.raises(LayerScopeError, match="outside"):
        combined_ranking(Xa, Xa, 10_000)


def test_combined_precision_needs_both_labels_to_match():
    Xa, ya = data(8, spread=4.0)
    Xb, yb = data(9, spread=4.0)
    both = combined_precision_at_k(Xa, ya, Xb, yb, 5, n_queries=30, random_state=0)
    rel = (ya[both.neighbours] == ya[both.queries][:, None]) & (yb[both.neighbours] == yb[both.queries][:, None])
    np.testing.assert_allclose(both.precision, rel.mean(axis=1))
    for i, q in enumerate(both.queries[:5]):
        np.testing.assert_array_equal(both.neighbours[i], combined_ranking(Xa, Xb, int(q), top=5).order)


def test_few_shot_adds_a_class_without_touching_the_memory(tmp_path):
    X, y = data(10, spread=3.0)
    np.save(tmp_path / "m.npy", X)
    memory = np.load(tmp_path / "m.npy", mmap_mode="r")
    rng = np.random.default_rng(0)
    new_centre = np.full(X.shape[1], 12.0)
    examples = (new_centre + rng.standard_normal((5, X.shape[1]))).astype(np.float32)
    queries = np.vstack([new_centre + rng.standard_normal((3, X.shape[1])), X[:3] + 0.01]).astype(np.float32)
    new_y = np.array(["new"] * 5, dtype=object)
    r = few_shot_classify(memory, y.astype(str), examples, new_y, queries, k=5)
    assert r.classes[-1] == "new" and r.prototype_pred[:3] == ["new"] * 3 and r.knn_pred[:3] == ["new"] * 3
    assert (r.neighbours[:3] >= len(X)).all()  # its neighbours are the new examples
    M = np.vstack([X, examples])
    labels = np.concatenate([y.astype(str), new_y.astype(str)])
    assert r.knn_pred == KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(M, labels).predict(queries).tolist()
    assert r.prototype_pred == NearestCentroid().fit(M, labels).predict(queries).tolist()
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), X)


def test_few_shot_checks_dimensions():
    X, y = data(11)
    with pytest.raises(LayerScopeError, match="same block"):
        few_shot_classify(X, y, np.ones((2, 3)), [9, 9], X[:1])


def test_precision_table_has_every_block_and_column_with_its_interval():
    X, y = data(11)
    noise = np.random.default_rng(1).standard_normal(X.shape)
    labels = pd.DataFrame({"class": y, "parity": y % 2})
    t = precision_table({"block 1": noise, "block 2": X}, labels, 5, n_queries=60, n_boot=200, random_state=3)
    assert list(zip(t["block"], t["label column"])) == [("block 1", "class"), ("block 1", "parity"),
                                                        ("block 2", "class"), ("block 2", "parity")]
    p = precision_at_k(X, y, 5, n_queries=60, random_state=3)
    row = t.iloc[2]
    assert row["precision"] == pytest.approx(p.mean) and row["queries"] == 60
    assert (row["low"], row["high"]) == pytest.approx(bootstrap_ci(np.mean, p.precision, n_boot=200, random_state=3))
    assert (t["low"] <= t["precision"]).all() and (t["precision"] <= t["high"]).all()
    assert t.iloc[2]["precision"] > t.iloc[0]["precision"]  # structure beats noise


def test_combined_precision_table_has_both_blocks_alone_and_the_mix():
    X, y = data(12)
    Xb, yb = data(13)
    t = combined_precision_table(X, y, Xb, yb, 5, weight=0.3, names=("block 2", "block 4"), n_queries=50)
    assert list(t["ranking"]) == ["block 2 only", "block 4 only", "combined, w = 0.30"]
    assert list(t["weight"]) == [1.0, 0.0, 0.3]
    ref = combined_precision_at_k(X, y, Xb, yb, 5, weight=0.3, n_queries=50).mean
    assert t["precision@5 (both labels)"].iloc[2] == pytest.approx(ref)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_leave_one_out_neighbours_are_the_nearest_other_rows(metric):
    from analysis.probes.neighbours import leave_one_out_neighbours

    X, _ = data(14, n=80)
    D = euclidean_distances(X) if metric == "euclidean" else cosine_distances(X)
    np.fill_diagonal(D, np.inf)
    idx = leave_one_out_neighbours(X, 6, metric)
    assert idx.shape == (80, 6) and not (idx == np.arange(80)[:, None]).any()
    np.testing.assert_array_equal(idx, np.argsort(D, axis=1, kind="stable")[:, :6])
    dup = np.concatenate([X, X[:3]])  # a duplicate is its copy's nearest neighbour, never itself
    first = leave_one_out_neighbours(dup, 1)[:, 0]
    assert list(first[:3]) == [80, 81, 82] and list(first[80:]) == [0, 1, 2]
    assert leave_one_out_neighbours(X[:1], 3).shape == (1, 0)
