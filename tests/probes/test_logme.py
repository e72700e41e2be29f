"""LogME against a direct maximisation of the Bayesian linear regression evidence, written here
independently (Gaussian marginal likelihood of y ~ N(0, β⁻¹I + α⁻¹FFᵀ), optimised numerically)."""
import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import multivariate_normal

from analysis.errors import LayerScopeError
from analysis.probes.logme import logme, logme_blocks, rank_agreement


def direct_logme(F, y):
    F = np.asarray(F, float)
    n = len(F)
    out = []
    for c in np.unique(y):
        yc = (y == c).astype(float)

        def neg(log_ab):
            a, b = np.exp(log_ab)
            cov = np.eye(n) / b + F @ F.T / a
            return -multivariate_normal(mean=np.zeros(n), cov=cov).logpdf(yc)

        best = min((minimize(neg, x0, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12,
                                                                          "maxiter": 20000})
                    for x0 in ([0.0, 0.0], [3.0, 2.0], [-3.0, 1.0])), key=lambda r: r.fun)
        out.append(-best.fun / n)
    return float(np.mean(out))


@pytest.mark.parametrize("n,d,classes,seed", [(30, 4, 2, 0), (40, 6, 3, 1), (12, 20, 2, 2)])
def test_logme_is_the_maximised_evidence(n, d, classes, seed):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    F = rng.normal(size=(n, d)) + 1.5 * np.eye(classes, d)[y]
    assert logme(F, y) == pytest.approx(direct_logme(F, y), abs=1e-6)


def test_logme_on_a_hand_case():
    # n=4, D=1: one feature that splits the two classes exactly (the smallest possible case).
    F = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    y = np.array([0, 0, 1, 1])
    assert logme(F, y) == pytest.approx(direct_logme(F, y), abs=1e-6)


def test_logme_prefers_the_block_that_separates_the_labels():
    rng = np.random.default_rng(5)
    y = np.repeat(np.arange(4), 25)
    good = rng.normal(size=(100, 16)) + 3 * np.eye(4, 16)[y]
    noise = rng.normal(size=(100, 16))
    s = logme_blocks({"good": good, "noise": noise}, y)
    assert s["good"] > s["noise"]
    assert list(s.index) == ["good", "noise"]


def test_logme_rejects_one_class_and_rank_agreement_needs_three_blocks():
    with pytest.raises(LayerScopeError, match="two classes"):
        logme(np.ones((5, 2)), np.zeros(5))
    assert rank_agreement([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert rank_agreement([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(rank_agreement([1, 2], [1, 2]))


def test_logme_stays_finite_when_a_wide_block_fits_the_labels_exactly():
    # D > n with full row rank: every one-hot target lies in the span of F (residual 0).
    rng = np.random.default_rng(7)
    F = rng.normal(size=(20, 64))
    y = np.arange(20) % 4
    v = logme(F, y)
    assert np.isfinite(v)
