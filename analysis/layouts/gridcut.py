"""GridCut: every image in its own cell of a near-square grid, neighbours next to neighbours.

Definition (the contract the page and the README rely on)
---------------------------------------------------------
Input: a 2-D embedding ``emb`` (n x 2) of the images (e.g. the UMAP map of a block), an
optional group per image (labels, HDBSCAN clusters, or k-means clusters of the embedding with
``n_groups``; without groups all images form one group and the cut is a plain kd
cut) and optionally the original descriptors ``X``.

Grid: ``cols = ceil(sqrt(n))``, ``rows = ceil(n / cols)``; cell ``(r, c)`` has flat index
``r * cols + c``, row 0 at the top. Images fill the first n cells in reading order: the
``rows * cols - n`` (< cols) spare cells are the right end of the bottom row, like the last
line of a paragraph, never holes inside the picture. Embedding x
runs along the columns, embedding y up the rows (high y = top), so the grid reads like the
scatter plot it came from.

Output: a bijection images -> cells (every image exactly one cell, no cell twice).

Step 0, scale: the embedding is mapped onto the grid box, each axis by rank (quantiles, ties
share a rank) so that the points fill the box as evenly as the cells do; ``scaling="minmax"``
keeps the raw proportions instead.

Step 1, cut (recursive kd-style bisection): a node is a rectangle of cells plus exactly as
many images as it has used cells. A node with more than ``leaf_size`` images is cut
across its longer side into two rectangles of k and L-k whole lines (L = lines along that
side). Its images are ordered along that axis *group by group* (groups ordered by their mean
coordinate, images inside a group by coordinate) and the first m go to the first rectangle,
m = the used cells of that rectangle. k is chosen with ceil(L/5) <= k <= L-ceil(L/5),
preferring a cut exactly on a group boundary, and otherwise the cut that splits off the
smallest sliver of one group; ties go to the most balanced k. Inside each side the cut axis
is rescaled to that side's extent (the other axis keeps the parent's scale), so neighbours
across a cut line land next to it on both sides. When no group boundary fits, a group is
split between two adjacent rectangles along the cut line. Groups larger than a leaf are split
the same way, which keeps every assignment small.

Step 2, assign: in every leaf rectangle, its images go to its cells by the exact linear
assignment minimising the summed squared distance between an image's scaled position and the
cell centre (``analysis.layouts.assignment.solve_assignment``). With ``n <= leaf_size`` there is no
cut and GridCut *is* the exact global assignment (``exact_grid``).

Quality: ``neighbourhood_preservation`` -- the mean over images of the share of their k nearest
neighbours (Euclidean, in the caller's original descriptor space when given, else in the
embedding) whose cells lie within Chebyshev radius r of theirs. Defaults k=8, r=1: the 8 cells
around an image, so 1.0 would mean every image's 8 nearest neighbours surround it.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from analysis.arrays import check_descriptors
from analysis.errors import LayerScopeError
from analysis.layouts.assignment import solve_assignment
from analysis.probes.neighbours import leave_one_out_neighbours

DEFAULT_K = 8
DEFAULT_RADIUS = 1
DEFAULT_LEAF_SIZE = 256  # measured: >= 0.96 of exact quality on all test sets, 10k in < 0.5 s
EXACT_MAX_N = 5000  # 5k x 5k float64 cost = 200 MB and minutes of solving; GridCut beyond.
AUTO_EXACT_COMPARE_MAX_N = 1200  # exact comparison by default only while it costs < ~1 s


@dataclass
class GridLayout:
    """One image per cell of a rows x cols grid.

    cell_of: (n,) flat cell index (row * cols + col) of each image.
    image_at: (rows * cols,) image index in each cell, -1 for an empty cell.
    region_at: (rows * cols,) id of the leaf rectangle (assignment region) of each cell.
    quality: neighbourhood preservation of this layout (see module docstring), in [0, 1].
    exact_quality: the same for the exact global assignment, or None when not computed.
    method: "gridcut" or "exact"; solver: the assignment solver used.
    seconds: time to compute the layout (without the quality scores).
    quality_space: "descriptors" (X given) or "embedding".
    """

    rows: int
    cols: int
    cell_of: np.ndarray
    image_at: np.ndarray
    quality: float
    exact_quality: float | None
    method: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    k: int = DEFAULT_K
    radius: int = DEFAULT_RADIUS
    region_at: np.ndarray | None = None
    solver: str = "auto"
    quality_space: str = "embedding"

    @property
    def n_images(self) -> int:
        return int(self.cell_of.shape[0])

    @property
    def quality_ratio(self) -> float | None:
        """quality / exact_quality (None without an exact comparison)."""
        if self.exact_quality is None or self.exact_quality <= 0:
            return None
        return self.quality / self.exact_quality

    def row_col(self) -> np.ndarray:
        """(n, 2) int array of (row, col) per image."""
        return np.stack(np.divmod(self.cell_of, self.cols), axis=1)


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, cols) of the near-square grid for n images: cols = ceil(sqrt(n))."""
    if n < 1:
        raise LayerScopeError("A grid needs at least one image.")
    cols = math.isqrt(n - 1) + 1  # == ceil(sqrt(n)) without float error
    rows = -(-n // cols)
    return rows, cols


# ----------------------------------------------------------------------------- quality


def nearest_neighbours(X: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """(n, min(k, n - 1)) indices of each row's k nearest other rows (Euclidean, nearest
    first): `probes.neighbours.leave_one_out_neighbours`. Computing this is the expensive part
    of the quality score (10k x 2048: ~10-20 s on 2 cores): cache it and pass it as ``knn=`` to
    score many layouts of the same block."""
    return leave_one_out_neighbours(X, k, "euclidean")


def neighbourhood_scores(
    X: np.ndarray | None,
    cells: np.ndarray,
    cols: int,
    k: int = DEFAULT_K,
    radius: int = DEFAULT_RADIUS,
    knn: np.ndarray | None = None,
) -> np.ndarray:
    """Per image: share of its k nearest neighbours in X lying within Chebyshev ``radius``
    of its grid cell (radius 1 = the 8 surrounding cells). ``cells`` are flat indices
    (row * cols + col). k is clamped to n - 1; a single image scores 1.0 (nothing to lose).
    knn: optional precomputed :func:`nearest_neighbours` (n x >= k); X may then be None."""
    cells = np.asarray(cells)
    if cells.ndim != 1 or cells.size < 1:
        raise LayerScopeError(f"cells must be a non-empty 1-D array of flat cell indices, got {cells.shape}.")
    n = cells.shape[0]
    if k < 1 or radius < 0 or cols < 1:
        raise LayerScopeError("k must be >= 1, radius >= 0 and cols >= 1.")
    k = min(k, n - 1)
    if knn is None:
        if X is None:
            raise LayerScopeError("Pass the descriptors X or precomputed neighbours knn.")
        if np.shape(X)[0] != n:
            raise LayerScopeError(f"cells must have one entry per row of X ({np.shape(X)[0]}), got {n}.")
    else:
        knn = np.asarray(knn)
        if knn.ndim != 2 or knn.shape[0] != n or knn.shape[1] < k or not np.issubdtype(knn.dtype, np.integer):
            raise LayerScopeError(f"knn must be an integer ({n}, >= {k}) array from nearest_neighbours().")
    if n == 1:
        return np.ones(1)
    nbrs = nearest_neighbours(X, k) if knn is None else knn[:, :k]
    r, c = np.divmod(cells.astype(np.int64), cols)
    cheb = np.maximum(np.abs(r[nbrs] - r[:, None]), np.abs(c[nbrs] - c[:, None]))
    return (cheb <= radius).mean(axis=1)


def neighbourhood_preservation(
    X: np.ndarray | None,
    cells: np.ndarray,
    cols: int,
    k: int = DEFAULT_K,
    radius: int = DEFAULT_RADIUS,
    knn: np.ndarray | None = None,
) -> float:
    """Mean of :func:`neighbourhood_scores`: the layout's neighbourhood quality in [0, 1]."""
    return float(neighbourhood_scores(X, cells, cols, k, radius, knn).mean())


# ----------------------------------------------------------------------------- layouts


def exact_grid(
    emb: np.ndarray,
    X: np.ndarray | None = None,
    *,
    method: str = "auto",
    scaling: str = "rank",
    k: int = DEFAULT_K,
    radius: int = DEFAULT_RADIUS,
    max_n: int = EXACT_MAX_N,
    knn: np.ndarray | None = None,
) -> GridLayout:
    """The exact global assignment: all images to all cells in one linear assignment.

    Cost: squared distance between each image's scaled embedding position and each cell
    centre. O(n^3): about 0.1-0.5 s at 1k, seconds at 2.5k, minutes at 10k; refused above
    ``max_n`` (use :func:`gridcut`). X / knn: as in :func:`gridcut`.
    """
    emb = _check_embedding(emb)
    n = emb.shape[0]
    if n > max_n:
        raise LayerScopeError(
            f"Exact grid assignment of {n} images is too slow (O(n^3), limit {max_n}); "
            "use gridcut(), which keeps >= 90% of its quality, or raise max_n."
        )
    t0 = time.perf_counter()
    rows, cols = grid_shape(n)
    P = _scale_to_grid(emb, rows, cols, scaling)
    cell_of = _assign_leaf(P, np.arange(n), (0, 0, rows, cols), cols, method, n)
    seconds = time.perf_counter() - t0
    layout = _make_layout(cell_of, rows, cols, [np.arange(n)], [(0, 0, rows, cols)], "exact",
                          seconds, [], k, radius, method)
    _score(layout, emb if X is None else X, X is not None, knn)
    layout.exact_quality = layout.quality
    return layout


def gridcut(
    emb: np.ndarray,
    groups: Sequence | np.ndarray | None = None,
    X: np.ndarray | None = None,
    *,
    leaf_size: int = DEFAULT_LEAF_SIZE,
    n_groups: int | None = None,
    method: str = "auto",
    scaling: str = "rank",
    k: int = DEFAULT_K,
    radius: int = DEFAULT_RADIUS,
    compare_exact: bool | None = None,
    knn: np.ndarray | None = None,
    random_state: int = 0,
) -> GridLayout:
    """GridCut layout of n images (see the module docstring for the definition).

    emb: (n, 2) embedding. groups: one label per image (any hashable values; each group then
    gets its own block of the grid wherever the grid's spare cells allow), or None: no groups,
    a plain kd cut of the embedding (measured best or on par on our test sets), unless
    ``n_groups`` > 1 asks for k-means groups on the embedding (``random_state`` seeds it).
    X: original descriptors (n x d) for the quality score; the embedding is used without it.
    leaf_size: largest assignment solved at once (time ~ n * leaf_size^2).
    compare_exact: also compute the exact layout's quality (None: only when n <= 1200).
    knn: precomputed ``nearest_neighbours(X, k)`` (the slow part of scoring: cache it per
    block); computed here otherwise, once, and shared with the exact comparison.
    random_state: seeds the k-means grouping (the rest is deterministic).
    """
    emb = _check_embedding(emb)
    n = emb.shape[0]
    if leaf_size < 1:
        raise LayerScopeError("leaf_size must be at least 1.")
    if scaling not in ("rank", "minmax"):
        raise LayerScopeError(f"scaling must be 'rank' or 'minmax', got {scaling!r}.")
    notes: list[str] = []
    t0 = time.perf_counter()
    rows, cols = grid_shape(n)
    if rows * cols > n:
        notes.append(f"{rows * cols - n} of {rows * cols} cells stay empty.")
    g = _groups(emb, groups, n_groups, n, leaf_size, random_state, notes)
    P = _scale_to_grid(emb, rows, cols, scaling)
    leaves = _cut(P, g, rows, cols, leaf_size, scaling)
    cell_of = np.empty(n, dtype=np.int64)
    for items, rect in leaves:
        cell_of[items] = _assign_leaf(P, items, rect, cols, method, n)
    seconds = time.perf_counter() - t0
    notes.append(f"Cut into {len(leaves)} regions of at most {leaf_size} images." if len(leaves) > 1
                 else "No cut needed: this is the exact global assignment.")
    layout = _make_layout(cell_of, rows, cols, [it for it, _ in leaves], [r for _, r in leaves],
                          "gridcut", seconds, notes, k, radius, method)
    knn = _score(layout, emb if X is None else X, X is not None, knn)
    if n <= AUTO_EXACT_COMPARE_MAX_N if compare_exact is None else compare_exact:
        _compare_with_exact(layout, emb, X, len(leaves), method, scaling, knn)
    return layout


def _compare_with_exact(layout: GridLayout, emb: np.ndarray, X: np.ndarray | None, n_leaves: int, method: str,
                        scaling: str, knn: np.ndarray) -> None:
    """Fill layout.exact_quality with the exact assignment's score (with a note), when affordable."""
    n = layout.n_images
    if n_leaves == 1:
        layout.exact_quality = layout.quality
    elif n <= EXACT_MAX_N:
        ex = exact_grid(emb, X, method=method, scaling=scaling, k=layout.k, radius=layout.radius, knn=knn)
        layout.exact_quality = ex.quality
        layout.notes.append(f"Exact assignment took {ex.seconds:.2f} s for comparison.")
    else:
        layout.notes.append(f"No exact comparison: {n} images exceed the exact limit {EXACT_MAX_N}.")


def _check_embedding(emb: np.ndarray) -> np.ndarray:
    emb = check_descriptors(emb, "The embedding")
    if emb.shape[1] != 2:
        raise LayerScopeError(f"The embedding must have 2 columns (n x 2), got {emb.shape}.")
    return emb.astype(np.float64)


def _groups(emb, groups, n_groups, n, leaf_size, random_state, notes) -> np.ndarray:
    if groups is not None:
        labels = np.asarray(groups)
        if labels.shape != (n,):
            raise LayerScopeError(f"groups must have one label per image ({n}), got {labels.shape}.")
        _, inv = np.unique(labels, return_inverse=True)
        return inv.astype(np.int64)
    if n <= leaf_size:
        return np.zeros(n, dtype=np.int64)  # one leaf: groups would not change anything
    if n_groups is None:
        n_groups = 1  # k-means groups measured no better than the plain kd cut (README, layouts section)
    n_groups = int(min(max(n_groups, 1), n))
    if n_groups == 1:
        return np.zeros(n, dtype=np.int64)
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=n_groups, n_init=3, random_state=random_state).fit(emb)
    notes.append(f"Groups: k-means with {n_groups} clusters on the embedding.")
    return km.labels_.astype(np.int64)


def _scale_axis(v: np.ndarray, lo: float, hi: float, scaling: str) -> np.ndarray:
    """Map values onto [lo, hi] (cell-centre extent) by rank or min-max."""
    if v.size == 0:
        return v.astype(np.float64)
    if scaling == "rank":
        from scipy.stats import rankdata

        u = rankdata(v, method="average") - 1.0
        span = float(v.size - 1)
    else:
        u = v - v.min()
        span = float(v.max() - v.min())
    if span <= 0:  # all equal (or one point): the middle of the extent
        return np.full(v.shape, (lo + hi) / 2.0)
    return lo + u * ((hi - lo) / span)


def _scale_to_grid(emb: np.ndarray, rows: int, cols: int, scaling: str) -> np.ndarray:
    """Positions in cell units: x in [0.5, cols-0.5], row coordinate in [0.5, rows-0.5]
    with high embedding y at row 0 (the top)."""
    P = np.empty_like(emb, dtype=np.float64)
    P[:, 0] = _scale_axis(emb[:, 0], 0.5, cols - 0.5, scaling)
    P[:, 1] = _scale_axis(-emb[:, 1], 0.5, rows - 0.5, scaling)
    return P


def _cut(P: np.ndarray, g: np.ndarray, rows: int, cols: int, leaf_size: int, scaling: str):
    """Recursive bisection (explicit stack). Rewrites P's cut-axis coordinates per side.
    Returns [(items, (r0, c0, h, w)), ...] with len(items) <= h * w."""
    n = P.shape[0]
    used = (np.arange(rows * cols) < n).reshape(rows, cols)  # the first n cells in reading order
    leaves = []
    stack = [(np.arange(n), (0, 0, rows, cols))]
    while stack:
        items, rect = stack.pop()
        r0, c0, h, w = rect
        n_s = items.size
        if n_s <= leaf_size:
            leaves.append((items, rect))
            continue
        box = used[r0:r0 + h, c0:c0 + w]
        axis = 0 if w >= h else 1  # 0: cut columns (x), 1: cut rows
        cap = np.cumsum(box.sum(axis=0) if axis == 0 else box.sum(axis=1))[:-1]  # used cells left of line k
        if not ((cap >= 1) & (cap <= n_s - 1)).any():  # e.g. a ragged bottom strip: cut the other way
            axis = 1 - axis
            cap = np.cumsum(box.sum(axis=0) if axis == 0 else box.sum(axis=1))[:-1]
        L = w if axis == 0 else h
        coord = P[items, axis]
        gl, inv = np.unique(g[items], return_inverse=True)
        counts = np.bincount(inv)
        gmean = np.bincount(inv, weights=coord) / counts
        grank = np.empty(gl.size, dtype=np.int64)
        grank[np.argsort(gmean, kind="stable")] = np.arange(gl.size)
        order = np.lexsort((items, coord, grank[inv]))  # items: deterministic tie-break
        items = items[order]
        bounds = np.cumsum(counts[np.argsort(gmean, kind="stable")])[:-1]
        k, m = _choose_cut(L, cap, n_s, bounds)
        a = c0 if axis == 0 else r0
        left, right = items[:m], items[m:]
        P[left, axis] = _scale_axis(P[left, axis], a + 0.5, a + k - 0.5, scaling)
        P[right, axis] = _scale_axis(P[right, axis], a + k + 0.5, a + L - 0.5, scaling)
        if axis == 0:
            rect_l, rect_r = (r0, c0, h, k), (r0, c0 + k, h, w - k)
        else:
            rect_l, rect_r = (r0, c0, k, w), (r0 + k, c0, h - k, w)
        stack.append((right, rect_r))
        stack.append((left, rect_l))
    return leaves


def _choose_cut(L: int, cap: np.ndarray, n_s: int, bounds: np.ndarray) -> tuple[int, int]:
    """Pick k lines for the first side (see module docstring); it takes m = cap[k-1] images,
    the used cells in its k lines."""
    margin = max(1, math.ceil(L / 5))
    ks = np.arange(margin, L - margin + 1) if L - margin >= margin else np.arange(1, L)
    ks = ks[(ks >= 1) & (ks <= L - 1)]
    ok = (cap[ks - 1] >= 1) & (cap[ks - 1] <= n_s - 1)
    if not ok.any():  # the balanced window has no feasible line: allow any line
        ks = np.arange(1, L)
        ok = (cap[ks - 1] >= 1) & (cap[ks - 1] <= n_s - 1)
    ks = ks[ok]
    lo = hi = cap[ks - 1]
    if ks.size == 0:  # cannot happen for n_s > 1 and L >= 2; kept as a guard
        raise LayerScopeError("GridCut could not split a region; please report this input.")
    if bounds.size:
        # Nearest group boundary to each feasible window -> sliver of a group we must split.
        pos = np.clip(np.searchsorted(bounds, lo), 0, bounds.size - 1)
        cand = np.stack([bounds[pos], bounds[np.maximum(pos - 1, 0)]], axis=1)
        m_c = np.clip(cand, lo[:, None], hi[:, None])
        sliver = np.abs(m_c - cand)
        best_c = sliver.argmin(axis=1)
        m_k = m_c[np.arange(ks.size), best_c]
        sliver_k = sliver[np.arange(ks.size), best_c]
    else:
        m_k = lo
        sliver_k = np.zeros(ks.size)
    i = np.lexsort((np.abs(2 * ks - L), sliver_k))[0]
    return int(ks[i]), int(m_k[i])


def _assign_leaf(P: np.ndarray, items: np.ndarray, rect, cols: int, method: str, n: int) -> np.ndarray:
    """Exact assignment of `items` to the used cells (flat index < n) of `rect`."""
    r0, c0, h, w = rect
    rr, cc = np.divmod(np.arange(h * w), w)
    keep = (r0 + rr) * cols + (c0 + cc) < n
    rr, cc = rr[keep], cc[keep]
    centres = np.stack([c0 + cc + 0.5, r0 + rr + 0.5], axis=1)
    p = P[items]
    # Two (m x cells) terms instead of an (m x cells x 2) temporary: half the peak memory.
    cost = np.subtract.outer(p[:, 0], centres[:, 0]) ** 2
    cost += np.subtract.outer(p[:, 1], centres[:, 1]) ** 2
    slot = solve_assignment(cost, method)
    return (r0 + rr[slot]) * cols + (c0 + cc[slot])


def _make_layout(cell_of, rows, cols, leaf_items, leaf_rects, name, seconds, notes, k, radius,
                 method) -> GridLayout:
    image_at = np.full(rows * cols, -1, dtype=np.int64)
    image_at[cell_of] = np.arange(cell_of.size)
    region_at = np.empty(rows * cols, dtype=np.int64)
    for rid, (r0, c0, h, w) in enumerate(leaf_rects):
        rr, cc = np.divmod(np.arange(h * w), w)
        region_at[(r0 + rr) * cols + c0 + cc] = rid
    return GridLayout(rows=rows, cols=cols, cell_of=cell_of, image_at=image_at, quality=float("nan"),
                      exact_quality=None, method=name, seconds=seconds, notes=notes, k=k,
                      radius=radius, region_at=region_at, solver=method)


def _score(layout: GridLayout, Xq: np.ndarray, is_descriptors: bool, knn: np.ndarray | None) -> np.ndarray:
    """Fill layout.quality; returns the neighbours used (to share with another layout)."""
    if np.shape(Xq)[0] != layout.n_images:
        raise LayerScopeError(
            f"X has {np.shape(Xq)[0]} rows but the embedding has {layout.n_images}; pass the same images."
        )
    if knn is None:
        knn = nearest_neighbours(Xq, layout.k)
    layout.quality = neighbourhood_preservation(None, layout.cell_of, layout.cols, layout.k, layout.radius, knn)
    layout.quality_space = "descriptors" if is_descriptors else "embedding"
    return knn
