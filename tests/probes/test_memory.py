"""The kNN memory experiment: distance-weighted kNN equals sklearn's, class means equal
NearestCentroid, head prototypes are used only when they fit, and adding a class is measured."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

from analysis.errors import LayerScopeError
from analysis.probes.memory import add_class, head_prototypes, memory_experiment, split_memory


def blobs(n_per: int = 40, classes: int = 5, d: int = 16, spread: float = 1.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((classes, d)) * 2
    y = np.repeat([f"c{i}" for i in range(classes)], n_per)
    X = C[np.repeat(np.arange(classes), n_per)] + spread * rng.standard_normal((classes * n_per, d))
    return X.astype(np.float32), y


def test_split_is_stratified_and_keeps_every_class_in_the_memory():
    y = np.array(["a"] * 10 + ["b"] * 5 + ["c"])
    train, test = split_memory(y, 0.2, random_state=0)
    assert set(y[train]) == {"a", "b", "c"}  # the single "c" stays in the memory
    assert sorted(y[test]) == ["a", "a", "b"]
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(y)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_top1_equals_sklearn_kneighbors_classifier(metric, weights):
    X, y = blobs()
    r = memory_experiment(X, y, ks=(1, 5, 9), weights=weights, metric=metric, random_state=1)
    train, test = r.memory_rows, r.test_rows
    for k in (1, 5, 9):
        sk = KNeighborsClassifier(n_neighbors=k, weights=weights, metric=metric, algorithm="brute")
        want = sk.fit(X[train], y[train]).predict(X[test])
        got = np.asarray(r.classes)[r.predictions[f"knn k={k}"][:, 0]]
        np.testing.assert_array_equal(got, want)
        row = r.table[(r.table.k == k) & r.table.classifier.str.startswith("kNN")].iloc[0]
        assert row.top1 == pytest.approx(np.mean(want == y[test]))
        assert row.top5 >= row.top1


def test_class_mean_equals_nearest_centroid_and_top5_counts_ranked_classes():
    X, y = blobs(spread=3.0)
    r = memory_experiment(X, y, metric="euclidean")
    nc = NearestCentroid().fit(X[r.memory_rows], y[r.memory_rows])
    got = np.asarray(r.classes)[r.predictions["mean"][:, 0]]
    np.testing.assert_array_equal(got, nc.predict(X[r.test_rows]))
    mean_row = r.table[r.table.classifier == "class mean"].iloc[0]
    assert mean_row.top5 == 1.0  # 5 classes: the true class is always among the 5 ranked
    assert mean_row.top1 < 1.0  # spread 3: not trivially separable


def test_head_prototypes_score_where_labels_are_head_classes_and_say_why_not_otherwise():
    X, y = blobs(d=8)
    # a "head" whose weight rows are the class centres of c0..c4 (named like the labels) + a distractor
    r0 = memory_experiment(X, y, metric="cosine")
    centres = np.stack([X[r0.memory_rows][y[r0.memory_rows] == c].mean(0) for c in r0.classes])
    W = np.vstack([centres, -centres[:1]])
    r = memory_experiment(X, y, metric="cosine", head=(W, [*r0.classes, "other"]))
    head_row = r.table[r.table.classifier.str.startswith("head")].iloc[0]
    mean_row = r.table[r.table.classifier == "class mean"].iloc[0]
    assert head_row.top1 == pytest.approx(mean_row.top1)  # the same prototypes, the same decisions
    wrong = memory_experiment(X, y, head=(np.ones((3, 4)), ["a", "b", "c"]))
    assert not wrong.table.classifier.str.startswith("head").any()
    assert "reads 4 features" in wrong.notes[0]
    other = memory_experiment(X, y, head=(np.ones((3, 8)), ["a", "b", "c"]))
    assert "no label" in other.notes[0]


def test_head_prototypes_come_from_a_linear_head_of_matching_width(lite0):
    assert head_prototypes(lite0, lite0.blocks[-1].channels) is None  # lite0's head reads 1280 (conv_head)
    W, names = head_prototypes(lite0, 1280)
    assert W.shape == (1000, 1280) and len(names) == 1000


def test_adding_a_far_class_leaves_old_classes_unchanged_and_is_recognised():
    X, y = blobs(spread=0.3)
    X[y == "c4"] += 50  # the new class lies far from every old one
    r = add_class(X, y, "c4", shots=3, k=3)
    t = r.table.set_index("classifier")
    assert (t["change"] == 0).all() and (t["old images lost to the new class"] == 0).all()
    assert (t["new class top-1"] == 1.0).all()
    assert len(r.shot_rows) == 3 and set(y[r.shot_rows]) == {"c4"}


def test_adding_a_class_that_overlaps_an_old_one_measures_the_loss():
    X, y = blobs(spread=0.5)
    X[y == "c4"] = X[y == "c0"] + 0.01  # the new class sits on top of c0
    t = add_class(X, y, "c4", shots=8, k=1).table.set_index("classifier")
    assert (t["old images lost to the new class"] > 0).all()
    assert (t["change"] < 0).all()


def test_bad_settings_are_user_errors():
    X, y = blobs()
    with pytest.raises(LayerScopeError, match="no class"):
        add_class(X, y, "zebra")
    with pytest.raises(LayerScopeError, match="shots"):
        add_class(X, y, "c1", shots=500)
    with pytest.raises(LayerScopeError, match="k must"):
        memory_experiment(X, y, ks=(0,))
    with pytest.raises(LayerScopeError, match="weights"):
        memory_experiment(X, y, weights="gaussian")


def test_memory_means_equal_class_means_over_the_memory_rows_only():
    from analysis.arrays import class_means
    from analysis.probes.memory import memory_means

    rng = np.random.default_rng(0)
    X = rng.random((3000, 7)).astype(np.float32)
    codes = rng.integers(0, 5, 3000)
    rows = np.sort(rng.choice(3000, 1000, replace=False))
    masked = np.full(3000, -1)
    masked[rows] = codes[rows]
    got = memory_means(X, codes, rows, 6)
    np.testing.assert_allclose(got[:5], class_means(X, masked, 6)[:5], rtol=1e-12)
    assert np.isnan(got[5]).all()  # a class without a memory row has no mean


def test_add_class_scores_every_new_class_image_and_caps_the_old_ones():
    X, y = blobs()
    t = add_class(X, y, "c2", shots=3, max_queries=15).table
    assert (t["n new test"] == 8).all()  # 20 % of 40 held out, all of them scored
    assert (t["n old test"] == 7).all()  # the rest of the 15
    full = add_class(X, y, "c2", shots=3).table
    assert (full["n old test"] == 32).all()
