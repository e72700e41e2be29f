"""Linear assignment behind one function: `solve_assignment(cost, method)`.

Two solvers are wrapped:

- ``"scipy"``: :func:`scipy.optimize.linear_sum_assignment` (a shortest-augmenting-path
  Jonker-Volgenant variant, float64, accepts rectangular costs).
- ``"lapjv"``: the ``lapjv`` package (``from lapjv import lapjv``). Its cost matrix must be
  square and 2-D; it casts to **float32** unless called with ``force_doubles=True``. We pad
  rectangular costs with zero-cost dummy rows and call it in float32 after subtracting each
  row's minimum (which does not change the optimal assignment and keeps the float32 values
  small): on grid-layout costs its float64 mode was 10-100x slower than float32 (23-35 s vs
  1.3 s for 1 000 cells), and on the benchmark's 256- and 1 000-cell grid costs it did not
  finish within the benchmark's 60 s limit (float32: < 0.1 s and 3-8 s) -- the rounding
  cycling known from Jonker-Volgenant ports (`benchmarks/layouts.py --full` measures it). The float32 solution is optimal for
  the rounded costs; its cost equalled scipy's to ~1e-6 relative on every cost we tested.
  Still 2-60x slower than scipy on grid costs (faster only on uniform random costs).

``"auto"`` picks scipy: it was the faster solver on every grid cost we measured and
never stalled (see ``benchmarks/layouts.py`` and the README's layouts section).
"""
from __future__ import annotations

import numpy as np

from analysis.errors import LayerScopeError

METHODS = ("auto", "scipy", "lapjv")


def solve_assignment(cost: np.ndarray, method: str = "auto") -> np.ndarray:
    """Minimum-cost assignment of every row of ``cost`` to a distinct column.

    cost: (n_rows, n_cols) finite numbers with n_rows <= n_cols (rows are the items, columns
    the slots; extra columns stay unused).
    method: "auto" (= "scipy", the faster one here), "scipy" or "lapjv".
    Returns ``col_of_row``: (n_rows,) int64, all distinct, minimising
    ``cost[arange(n_rows), col_of_row].sum()``.
    """
    if method not in METHODS:
        raise LayerScopeError(f"Unknown assignment method {method!r}; use one of {METHODS}.")
    cost = np.asarray(cost)
    if cost.ndim != 2:
        raise LayerScopeError(f"The cost matrix must be 2-D, got shape {cost.shape}.")
    n_rows, n_cols = cost.shape
    if n_rows > n_cols:
        raise LayerScopeError(
            f"Cannot assign {n_rows} items to {n_cols} slots: need at least as many columns "
            "as rows (transpose the cost or add slots)."
        )
    if n_rows == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(cost.dtype, np.number) or not np.all(np.isfinite(cost)):
        # lapjv's result is undefined on NaN; scipy raises. Say it the same way for both.
        raise LayerScopeError("The cost matrix contains NaN or infinite values; clean the inputs.")
    if method in ("auto", "scipy"):
        return _solve_scipy(cost)
    return _solve_lapjv(cost)


def assignment_cost(cost: np.ndarray, col_of_row: np.ndarray) -> float:
    """Total cost of an assignment returned by :func:`solve_assignment`."""
    cost = np.asarray(cost, dtype=np.float64)
    return float(cost[np.arange(cost.shape[0]), np.asarray(col_of_row)].sum())


def _solve_scipy(cost: np.ndarray) -> np.ndarray:
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(np.asarray(cost, dtype=np.float64))
    out = np.empty(cost.shape[0], dtype=np.int64)
    out[rows] = cols
    return out


def _solve_lapjv(cost: np.ndarray) -> np.ndarray:
    from lapjv import lapjv

    n_rows, n_cols = cost.shape
    c = np.asarray(cost, dtype=np.float64)
    # Row reduction: same optimum, smaller numbers before the float32 cast.
    c = c - c.min(axis=1, keepdims=True)
    square = np.zeros((n_cols, n_cols), dtype=np.float32)  # dummy rows cost 0 everywhere
    square[:n_rows] = c
    row_to_col, _col_to_row, _ = lapjv(np.ascontiguousarray(square))
    return np.asarray(row_to_col[:n_rows], dtype=np.int64)
