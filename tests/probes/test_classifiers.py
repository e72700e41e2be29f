"""Fold planning and the cross-validated probes, checked against scikit-learn on the same folds."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score, confusion_matrix, recall_score
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid, NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import analysis.probes.classifiers as probes
from analysis.errors import LayerScopeError
from analysis.probes.classifiers import knn_cv, linear_probe_cv, prototype_cv, umap_knn_cv
from analysis.probes.folds import plan_folds

KS = (1, 2, 4, 8, 16)


def clustered(seed, n=240, d=12, k=4, spread=1.5, dtype=np.float32):
    rng = np.random.default_rng(seed)
    y = np.array([f"class {c}" for c in rng.integers(0, k, n)])
    centres = rng.standard_normal((k, d)) * spread
    X = centres[np.unique(y, return_inverse=True)[1]] + rng.standard_normal((n, d))
    return X.astype(dtype), y


def tied(seed, n=240, d=5, k=4):
    """Small-integer descriptors: many exactly equal distances, and even k gives vote ties."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, (n, d)).astype(np.float32), rng.integers(0, k, n)


def labels_of(result, f):
    return np.asarray(result.classes, dtype=object)[result.y_pred[result.fold == f]]


def assert_knn_equals_sklearn(X, y, plan, metrics=("euclidean", "cosine")):
    res = knn_cv(X, y, KS, metrics, plan=plan)
    # sklearn's own tie answer depends on its OpenMP thread count (see neighbours.py); the
    # single-thread answer is the reference.
    with threadpool_limits(1, user_api="openmp"):
        for (metric, k), r in res.results.items():
            for f, (tr, te) in enumerate(plan.splits):
                ref = KNeighborsClassifier(n_neighbors=k, algorithm="brute", metric=metric).fit(X[tr], y[tr])
                np.testing.assert_array_equal(labels_of(r, f), ref.predict(X[te]), err_msg=f"{metric} k={k} fold {f}")
    return res


# --- folds -------------------------------------------------------------------------------

def test_plan_is_stratified_five_folds_covering_every_row_once():
    X, y = clustered(0)
    plan = plan_folds(y, random_state=3)
    assert plan.n_splits == 5 and plan.message == "" and plan.excluded_classes == []
    tested = np.concatenate([te for _, te in plan.splits])
    assert sorted(tested) == list(range(len(y)))
    for tr, te in plan.splits:
        assert set(tr).isdisjoint(te)
        assert set(y[te]) == set(y)


def test_plan_depends_on_random_state_only():
    _, y = clustered(0)
    a, b, c = plan_folds(y, random_state=1), plan_folds(y, random_state=1), plan_folds(y, random_state=2)
    assert all(np.array_equal(p[1], q[1]) for p, q in zip(a.splits, b.splits))
    assert not all(np.array_equal(p[1], q[1]) for p, q in zip(a.splits, c.splits))


def test_class_smaller_than_folds_reduces_folds_and_says_so():
    y = np.array(["a"] * 20 + ["b"] * 20 + ["c"] * 3)
    plan = plan_folds(y, n_splits=5)
    assert plan.n_splits == 3 and plan.requested_splits == 5
    assert "'c'" in plan.message and "3 folds" in plan.message


def test_class_with_one_image_is_excluded_and_named():
    y = np.array(["a"] * 10 + ["b"] * 10 + ["lonely"])
    plan = plan_folds(y)
    assert plan.excluded_classes == ["lonely"] and plan.classes == ["a", "b"]
    assert plan.codes[-1] == -1 and 20 not in np.concatenate([te for _, te in plan.splits])
    assert "lonely" in plan.message and plan.n_splits == 5


def test_probe_result_carries_the_fold_message():
    X, y = clustered(1, n=60)
    y = y.copy()
    y[0] = "single"
    r = prototype_cv(X, y)
    assert "single" in r.message and "single" not in r.classes and 0 not in r.rows


@pytest.mark.parametrize("y", [np.array(["a"] * 10), np.array([], dtype=str), np.array(["a"] * 9 + ["b"])])
def test_fewer_than_two_usable_classes_raises(y):
    with pytest.raises(LayerScopeError):
        plan_folds(y)


def test_missing_labels_raise():
    with pytest.raises(LayerScopeError, match="no label"):
        plan_folds(np.array(["a", "b", None, "a", "b"], dtype=object))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_rows_raise_naming_the_rows(bad):
    X, y = clustered(2, n=50)
    X[[7, 31]] = bad
    with pytest.raises(LayerScopeError, match=r"2 row\(s\).*rows 7, 31"):
        knn_cv(X, y)


def test_plan_from_other_labels_is_refused():
    X, y = clustered(3, n=60)
    plan = plan_folds(np.roll(y, 1))
    with pytest.raises(LayerScopeError, match="other labels"):
        prototype_cv(X, y, plan=plan)


# --- nearest prototype ------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prototype_euclidean_matches_nearest_centroid(seed):
    X, y = clustered(seed, spread=0.6)
    plan = plan_folds(y, random_state=seed)
    r = prototype_cv(X, y, "euclidean", plan=plan)
    for f, (tr, te) in enumerate(plan.splits):
        np.testing.assert_array_equal(labels_of(r, f), NearestCentroid().fit(X[tr], y[tr]).predict(X[te]))
    assert 0.3 < r.mean < 1.0  # the data is not trivially separable: the comparison means something


def test_prototype_cosine_is_cosine_distance_to_class_mean():
    X, y = clustered(4, spread=0.6)
    plan = plan_folds(y)
    r = prototype_cv(X, y, "cosine", plan=plan)
    for f, (tr, te) in enumerate(plan.splits):
        nc = NearestCentroid().fit(X[tr], y[tr])
        C = nc.centroids_ / np.linalg.norm(nc.centroids_, axis=1, keepdims=True)
        T = X[te] / np.linalg.norm(X[te], axis=1, keepdims=True)
        np.testing.assert_array_equal(labels_of(r, f), nc.classes_[np.argmax(T @ C.T, axis=1)])


def test_identical_descriptors_predict_first_class_like_sklearn():
    y = np.repeat(["b", "a", "c"], 10)
    X = np.ones((30, 4), np.float32)
    plan = plan_folds(y)
    r = prototype_cv(X, y, plan=plan)
    # All prototypes are equal: the tie goes to the lower class index, i.e. "a" (sklearn's
    # NearestCentroid refuses zero-variance input, so the rule is checked directly).
    assert set(np.asarray(r.classes)[r.y_pred]) == {"a"}
    assert_knn_equals_sklearn(X, y, plan)


# --- kNN --------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_knn_matches_sklearn_on_continuous_descriptors(seed):
    X, y = clustered(seed, spread=0.5)
    assert_knn_equals_sklearn(X, y, plan_folds(y, random_state=seed))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_knn_matches_sklearn_with_tied_distances_and_votes(seed):
    X, y = tied(seed)
    plan = plan_folds(y, random_state=seed)
    res = assert_knn_equals_sklearn(X, y, plan)
    # The data really exercises both tie rules.
    tr, te = plan.splits[0]
    D = NearestNeighbors(n_neighbors=5).fit(X[tr]).kneighbors(X[te])[0]
    assert (D[:, 3] == D[:, 4]).mean() > 0.5  # distance tie at the 4th/5th neighbour
    votes = res.results[("euclidean", 2)]
    assert (votes.top5[:, 1] >= 0).any()  # 1-1 vote splits at k=2 happened


def test_knn_matches_sklearn_with_float64_input_and_duplicate_rows():
    X, y = clustered(5, n=120, spread=0.5, dtype=np.float64)
    X = np.concatenate([X, X[:40]])  # exact duplicates: ties at distance level
    y = np.concatenate([y, y[:40]])
    assert_knn_equals_sklearn(X, y, plan_folds(y, random_state=5))


def test_knn_on_larger_folds_uses_several_chunks_and_still_matches(monkeypatch):
    X, y = tied(7, n=700, d=6)
    import sklearn

    with sklearn.config_context(working_memory=0.5):  # forces chunks of ~100 query rows in both
        assert_knn_equals_sklearn(X, y, plan_folds(y, n_splits=3, random_state=7))


def test_top5_ranks_classes_by_votes_then_class_index():
    # Training: class 0 ×3 near the query, classes 1..6 one each; k=8 -> votes 3,1,1,1,1,1,0.
    Xtr = np.array([[0.0], [0.1], [0.2], [1.0], [1.1], [1.2], [1.3], [1.4], [9.0]], np.float32)
    ctr = np.array([0, 0, 0, 6, 5, 4, 3, 2, 1])
    fold = probes._knn_fold([1, 8], ["euclidean"])
    out = fold(Xtr, ctr, np.array([[0.05]], np.float32), 7)
    np.testing.assert_array_equal(out[("euclidean", 8)][1], [[0, 2, 3, 4, 5]])
    np.testing.assert_array_equal(out[("euclidean", 1)][1], [[0, -1, -1, -1, -1]])  # no vote, no rank


def test_knn_per_class_accuracy_and_confusion_match_sklearn_metrics():
    X, y = clustered(6, spread=0.6)
    r = knn_cv(X, y, (4,), ("cosine",)).results[("cosine", 4)]
    np.testing.assert_array_equal(r.confusion, confusion_matrix(r.y_true, r.y_pred))
    np.testing.assert_allclose(r.per_class["accuracy"], recall_score(r.y_true, r.y_pred, average=None))
    assert r.per_class["n"].sum() == len(y) and r.std >= 0
    assert cohen_kappa_score(r.y_true, r.y_pred) > 0  # sanity: better than chance
    np.testing.assert_allclose(r.fold_scores.mean(), r.mean)


def test_knn_reads_a_read_only_memmap_without_writing(tmp_path):
    X, y = clustered(8, n=80)
    path = tmp_path / "block.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    res = knn_cv(mm, y, (1, 4))
    assert not mm.flags.writeable and np.array_equal(np.load(path), X)
    assert np.isclose(res.best.mean, knn_cv(X, y, (1, 4)).best.mean)


def test_k_larger_than_training_fold_raises():
    X, y = clustered(9, n=20, k=2)
    with pytest.raises(LayerScopeError, match="k=32"):
        knn_cv(X, y, (1, 32))


def test_unknown_metric_raises():
    X, y = clustered(9, n=40)
    with pytest.raises(LayerScopeError, match="metric"):
        knn_cv(X, y, (1,), ("manhattan",))


def test_progress_callback_can_cancel():
    X, y = clustered(10, n=60)

    def cancel(done, total, note=""):
        raise KeyboardInterrupt("user pressed stop")

    with pytest.raises(KeyboardInterrupt):
        knn_cv(X, y, progress=cancel)


# --- linear probe and reduced-space kNN -------------------------------------------------

def test_linear_probe_matches_sklearn_pipeline_on_same_folds():
    X, y = clustered(11, spread=0.4)
    plan = plan_folds(y)
    r = linear_probe_cv(X, y, plan=plan, random_state=0)
    for f, (tr, te) in enumerate(plan.splits):
        ref = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=0)).fit(X[tr], y[tr])
        np.testing.assert_array_equal(labels_of(r, f), ref.predict(X[te]))
    assert r.params["converged"] is True


def test_umap_knn_fits_on_training_rows_only(monkeypatch):
    X, y = clustered(12, n=60, d=8, k=3, spread=3.0)
    plan = plan_folds(y, n_splits=3)
    fitted = []
    real_fit = probes.fit_umap

    def spy(Xtr, d, **kw):
        fitted.append((len(Xtr), d))
        return real_fit(Xtr, d, **kw)

    monkeypatch.setattr(probes, "fit_umap", spy)
    res = umap_knn_cv(X, y, dims=[2], ks=(1, 4), plan=plan, n_neighbors=10, random_state=0)
    assert fitted == [(len(tr), 2) for tr, _ in plan.splits]
    assert set(res.table["dim"]) == {2} and set(res.table["k"]) == {1, 4}
    assert res.best.mean > 0.8  # well-separated classes stay separated in 2-D


def test_usable_ks_and_umap_dims_follow_the_smallest_training_fold():
    from analysis.probes.reduction import default_dims

    y = np.repeat(np.arange(3), [4, 10, 10])  # 24 rows, 5 folds: training folds of 19-20 rows
    plan = plan_folds(y, random_state=0)
    assert plan.usable_ks([32, 1, 16, 4, 4, 0]) == [1, 4, 16]
    assert plan.usable_ks([plan.min_train_size + 1]) == []
    assert default_dims(2048, 1024) == [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    assert default_dims(2048, 1024, n_images=plan.min_train_size) == [2, 4, 8, 16]  # UMAP needs d + 2 rows
    assert default_dims(16, 64, n_images=5) == [2]


def test_knn_on_integer_data_with_exact_ties_equals_sklearns_single_thread_answer():
    """The README's scope of "identical predictions": the case from the issue (600 x 8 integers
    0-3, k = 4), where sklearn's own answer changes with its thread count."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 4, (600, 8)).astype(np.float32)
    y = rng.integers(0, 5, 600)
    plan = plan_folds(y, random_state=0)
    res = knn_cv(X, y, [4], ["euclidean"], plan=plan)
    r = res.results[("euclidean", 4)]
    with threadpool_limits(1, user_api="openmp"):
        for f, (tr, te) in enumerate(plan.splits):
            ref = KNeighborsClassifier(n_neighbors=4, algorithm="brute").fit(X[tr], y[tr]).predict(X[te])
            np.testing.assert_array_equal(np.asarray(r.classes)[r.y_pred[r.fold == f]], ref)
    assert r.fold_scores.mean() == pytest.approx(0.1983, abs=5e-4)
