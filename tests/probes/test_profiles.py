"""Class mean profiles and channel selectivity against direct computations."""
import numpy as np
import pandas as pd
import pytest
from sklearn.feature_selection import f_classif

from analysis.errors import LayerScopeError
from analysis.probes.profiles import class_profiles


def relu_data(seed=0, n=120, d=16, k=3):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["red", "green", "blue"][:k]), n // k)
    X = np.abs(rng.standard_normal((n, d))).astype(np.float32)
    return X, y


def test_means_equal_groupby_mean_in_sorted_class_order():
    X, y = relu_data()
    p = class_profiles(X, y)
    ref = pd.DataFrame(X.astype(np.float64)).groupby(y).mean()
    assert p.classes == ["blue", "green", "red"]
    np.testing.assert_allclose(p.means, ref.loc[p.classes].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(p.counts, [40, 40, 40])


def test_channel_high_for_every_class_is_flagged_shared():
    X, y = relu_data(1)
    X[:, 5] += 10.0  # "background" channel: high everywhere
    X[y == "red", 9] += 10.0  # high for one class only
    p = class_profiles(X, y, shared_quantile=0.9)
    assert p.channels.loc[5, "shared"] and not p.channels.loc[9, "shared"]
    assert p.channels["shared"].sum() == 1


def test_selectivity_index_definition():
    y = np.repeat(["a", "b", "c"], 2)
    X = np.zeros((6, 3), np.float32)
    X[y == "a", 0] = 4.0  # only class a -> 1
    X[:, 1] = 2.0  # same for all -> 0
    X[y == "a", 2], X[y == "b", 2], X[y == "c", 2] = 3.0, 1.0, 1.0  # (3-1)/(3+1)
    ch = class_profiles(X, y).channels
    np.testing.assert_allclose(ch["selectivity"], [1.0, 0.0, 0.5])
    assert list(ch["preferred_class"]) == ["a", "a", "a"]


def test_selectivity_is_nan_for_negative_means_and_eta_still_defined():
    X, y = relu_data(2)
    X[:, 0] -= 5.0
    ch = class_profiles(X, y).channels
    assert np.isnan(ch.loc[0, "selectivity"]) and np.isfinite(ch.loc[0, "eta_squared"])


def test_eta_squared_matches_anova_f():
    X, y = relu_data(3)
    X[y == "green", :4] += 1.0
    eta = class_profiles(X, y).channels["eta_squared"].to_numpy()
    F, _ = f_classif(X.astype(np.float64), y)  # float64 reference (ours accumulates in float64)
    k, n = 3, len(y)
    np.testing.assert_allclose(eta, F * (k - 1) / (F * (k - 1) + (n - k)), rtol=1e-6)


def test_constant_channel_has_nan_eta():
    X, y = relu_data(4)
    X[:, 3] = 1.5
    assert np.isnan(class_profiles(X, y).channels.loc[3, "eta_squared"])


def test_top_channels_by_mean_and_by_contrast():
    X, y = relu_data(5)
    X[:, 2] += 5.0  # high for all
    X[y == "red", 7] += 3.0  # distinctive for red
    p = class_profiles(X, y)
    by_mean = p.top_channels(2, by="mean")
    assert list(by_mean.columns) == ["class", "rank", "channel", "value"]
    assert (by_mean[by_mean["rank"] == 1]["channel"] == 2).all()
    top_red = p.top_channels(1, by="contrast").set_index("class").loc["red", "channel"]
    assert top_red == 7
    with pytest.raises(LayerScopeError):
        p.top_channels(3, by="median")


def test_single_class_and_bad_quantile_raise():
    X, y = relu_data(6)
    with pytest.raises(LayerScopeError, match="two classes"):
        class_profiles(X, np.repeat("a", len(X)))
    with pytest.raises(LayerScopeError, match="shared_quantile"):
        class_profiles(X, y, shared_quantile=1.0)
