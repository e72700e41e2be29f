"""Linear CKA: checked against HSIC written with the centring matrix, and its known properties."""
import numpy as np
import pytest
from scipy.stats import ortho_group

from analysis.errors import LayerScopeError
from analysis.probes.cka import align_rows, cka_matrix, linear_cka


def hsic_cka(X, Y):
    """Independent formula: HSIC(K, L) = tr(K H L H) / (n-1)² on uncentred linear kernels."""
    n = len(X)
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = X @ X.T, Y @ Y.T

    def hsic(A, B):
        return np.trace(A @ H @ B @ H) / (n - 1) ** 2

    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


@pytest.mark.parametrize("n,p,q", [(200, 8, 12), (20, 64, 48), (30, 5, 90)])  # feature form, Gram form, mixed
def test_cka_equals_the_hsic_formula(n, p, q):
    rng = np.random.default_rng(n + p)
    X = rng.normal(size=(n, p)) + 3.0  # non-zero means: centring matters
    Y = X[:, :1] @ rng.normal(size=(1, q)) + rng.normal(size=(n, q))
    assert linear_cka(X, Y) == pytest.approx(hsic_cka(X, Y), rel=1e-10)


def test_cka_of_a_block_with_itself_is_one_and_matrix_is_symmetric():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(60, 10))
    blocks = {"b1": base, "b2": base @ rng.normal(size=(10, 30)) + 0.5 * rng.normal(size=(60, 30)),
              "b3": rng.normal(size=(60, 7)).astype(np.float32)}
    m = cka_matrix(blocks)
    assert np.allclose(np.diag(m.to_numpy()), 1.0, atol=1e-12)
    assert np.allclose(m.to_numpy(), m.to_numpy().T)
    assert m.loc["b1", "b2"] > m.loc["b1", "b3"]  # related blocks are more similar than unrelated
    assert ((m.to_numpy() >= 0) & (m.to_numpy() <= 1 + 1e-12)).all()


def test_cka_is_invariant_to_orthogonal_transforms_and_isotropic_scaling_only():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 12))
    Y = X @ rng.normal(size=(12, 12)) + rng.normal(size=(80, 12))
    Q = ortho_group.rvs(12, random_state=2)
    ref = linear_cka(X, Y)
    assert linear_cka(X @ Q * 7.5, Y) == pytest.approx(ref, rel=1e-10)
    assert linear_cka(X, 0.01 * Y @ Q + 4.0) == pytest.approx(ref, rel=1e-10)
    # An anisotropic scaling is not invariant: the test can tell the difference.
    D = np.diag(np.linspace(0.1, 10, 12))
    assert abs(linear_cka(X @ D, Y) - ref) > 1e-3


def test_cka_between_two_models_has_rows_of_a_and_columns_of_b():
    rng = np.random.default_rng(3)
    a = {"block 1": rng.normal(size=(40, 4)), "block 2": rng.normal(size=(40, 6))}
    b = {"block 1": a["block 2"] @ rng.normal(size=(6, 9)), "block 2": rng.normal(size=(40, 3)),
         "block 3": a["block 1"] * 2}
    m = cka_matrix(a, b)
    assert list(m.index) == list(a) and list(m.columns) == list(b)
    assert m.loc["block 1", "block 3"] == pytest.approx(1.0)
    assert m.loc["block 2", "block 1"] == pytest.approx(hsic_cka(a["block 2"], b["block 1"]), rel=1e-10)


def test_constant_block_gives_nan_and_row_mismatch_is_an_error():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(10, 3))
    assert np.isnan(linear_cka(np.ones((10, 4)), X))
    with pytest.raises(LayerScopeError, match="same images"):
        cka_matrix({"a": X}, {"b": X[:5]})
    with pytest.raises(LayerScopeError, match="NaN"):
        linear_cka(np.full((10, 2), np.nan), X)


def test_align_rows_keeps_the_shared_images_in_a_order():
    ia, ib = align_rows(["a", "b", "c", "d"], ["d", "c", "x", "a"])
    assert ia.tolist() == [0, 2, 3] and ib.tolist() == [3, 1, 0]
    with pytest.raises(LayerScopeError):
        align_rows(["a"], ["b"])
