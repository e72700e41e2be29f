"""knn_sets (one product per chunk, screened euclidean) against the exact per-metric path and sklearn."""
import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

import analysis.probes.neighbours as nb
import analysis.probes.topk as topk
from analysis.probes.classifiers import knn_cv
from analysis.probes.folds import plan_folds

KS = [1, 2, 4, 8, 16]


def clustered(seed, n=500, d=160, k=5, offset=0.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    c = rng.integers(0, k, n)
    X = rng.standard_normal((k, d))[c] * 0.7 + rng.standard_normal((n, d)) + offset
    return np.maximum(X, 0).astype(dtype), c


def assert_same_sets(Q, M, metrics=("euclidean", "cosine")):
    fast = list(nb.knn_sets(Q, M, KS, metrics))
    for metric in metrics:
        exact = list(nb.knn_neighbour_sets(Q, M, KS, metric))
        assert [sl for sl, _ in fast] == [sl for sl, _ in exact]
        for (_, got), (_, ref) in zip(fast, exact):
            for k in KS:
                np.testing.assert_array_equal(np.sort(got[metric][k], axis=1), np.sort(ref[k], axis=1),
                                              err_msg=f"{metric} k={k}")


def assert_knn_cv_equals_sklearn(X, y, metrics=("euclidean", "cosine")):
    plan = plan_folds(y, random_state=0)
    res = knn_cv(X, y, KS, metrics, plan=plan)
    with threadpool_limits(1, user_api="openmp"):  # sklearn's tie answer is its single-thread one
        for (metric, k), r in res.results.items():
            for f, (tr, te) in enumerate(plan.splits):
                ref = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric=metric).fit(X[tr], y[tr])
                got = np.asarray(r.classes)[r.y_pred[r.fold == f]]
                np.testing.assert_array_equal(got, ref.predict(X[te]), err_msg=f"{metric} k={k} fold {f}")


@pytest.fixture
def spy(monkeypatch):
    """Records the compiled screen's calls, the candidate widths of rows re-checked in Python (dense
    neighbourhoods), and which rows fell back to full rows."""
    seen = {"screened": 0, "widths": [], "full_rows": 0}
    top, exact, screened = nb._EuclideanScreen._exact_top, nb._EuclideanScreen.exact, topk.screened_euclidean

    def counting_screen(*args):
        seen["screened"] += 1
        return screened(*args)

    def exact_top(self, Q64, qq, cand, need):
        seen["widths"].append(cand.shape[1])
        return top(self, Q64, qq, cand, need)

    def counting_exact(self):
        mem = exact(self)
        seen["full_rows"] += 1
        return mem

    monkeypatch.setattr(nb._EuclideanScreen, "_exact_top", exact_top)
    monkeypatch.setattr(nb._EuclideanScreen, "exact", counting_exact)
    monkeypatch.setattr(topk, "screened_euclidean", counting_screen)
    return seen


@pytest.mark.parametrize("seed", [0, 1])
def test_screened_sets_equal_the_exact_sets_on_continuous_descriptors(seed, spy):
    X, _ = clustered(seed)
    assert_same_sets(X[100:], X[:400])
    assert spy["screened"] and spy["full_rows"] == 0  # the screen ran, and no row needed the full row


def test_screened_knn_cv_predicts_like_sklearn_brute_on_the_folds(spy):
    X, y = clustered(3, n=420)
    assert_knn_cv_equals_sklearn(X, y)
    assert spy["screened"]  # training folds of 336 rows x 160 channels take the screened path


def test_screened_euclidean_alone_and_float64_input_match_sklearn(spy):
    X, y = clustered(4, n=400, dtype=np.float64)
    assert_knn_cv_equals_sklearn(X, y, metrics=("euclidean",))
    assert spy["screened"]


def test_duplicate_rows_tie_and_are_redone_on_the_full_row(spy):
    X, y = clustered(5, n=300)
    X, y = np.concatenate([X, X[:120]]), np.concatenate([y, y[:120]])  # exact distance ties
    assert_knn_cv_equals_sklearn(X, y)
    assert spy["full_rows"] > 0


def test_integer_descriptors_full_of_ties_match_sklearns_single_thread_answer(spy):
    rng = np.random.default_rng(6)
    X = rng.integers(0, 3, (400, 130)).astype(np.float32)
    y = rng.integers(0, 4, 400)
    assert_same_sets(X[:100], X[100:])
    assert_knn_cv_equals_sklearn(X, y)
    assert spy["full_rows"] > 0


def test_dense_neighbourhoods_widen_the_candidates_and_stay_exact(spy):
    # A large common offset makes the float32 screen coarse next to the gaps between neighbours:
    # the fixed candidate count is not provably enough, so those rows take every row within the bound.
    X, _ = clustered(7, offset=3000.0)
    assert_same_sets(X[100:], X[:400], metrics=("euclidean",))
    need = KS[-1] + 1
    assert max(spy["widths"]) > 2 * need + 8


def test_small_inputs_take_the_exact_path(spy):
    X, y = clustered(8, n=200, d=8)
    assert_same_sets(X[:50], X[50:])
    assert spy["screened"] == 0 and spy["widths"] == []
