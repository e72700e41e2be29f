"""GridCut, the exact grid, the assignment solvers, the quality metric and the composite render."""
import numpy as np
import pytest
from PIL import Image

from analysis.errors import LayerScopeError
from analysis.layouts.assignment import assignment_cost, solve_assignment
from analysis.layouts.gridcut import (
    exact_grid,
    grid_shape,
    gridcut,
    neighbourhood_preservation,
    neighbourhood_scores,
)
from analysis.layouts.thumbgrid import label_colours, render_grid


def blobs(n, seed=0, k=5):
    """A clustered 2-D embedding plus 12-D 'descriptors' that it was projected from."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 12)) * 4
    y = rng.integers(0, k, n)
    X = centres[y] + rng.normal(size=(n, 12))
    emb = X @ rng.normal(size=(12, 2))
    return emb, X.astype(np.float32), y


def assert_bijection(layout, n):
    assert layout.rows * layout.cols >= n
    assert layout.cell_of.shape == (n,)
    assert len(np.unique(layout.cell_of)) == n, "two images share a cell"
    assert layout.cell_of.min() >= 0 and layout.cell_of.max() < layout.rows * layout.cols
    assert layout.image_at.shape == (layout.rows * layout.cols,)
    filled = layout.image_at >= 0
    assert filled.sum() == n
    assert np.array_equal(layout.image_at[layout.cell_of], np.arange(n))
    assert (~filled).sum() == layout.rows * layout.cols - n


# ----------------------------------------------------------------------------- grid shape


def test_grid_shape_is_near_square_with_fewer_empty_cells_than_a_row():
    for n in range(1, 400):
        rows, cols = grid_shape(n)
        assert cols == int(np.ceil(np.sqrt(n)))
        assert rows * cols >= n and rows * cols - n < cols
    assert grid_shape(1) == (1, 1) and grid_shape(2) == (1, 2) and grid_shape(10) == (3, 4)
    with pytest.raises(LayerScopeError):
        grid_shape(0)


# ----------------------------------------------------------------------------- assignment


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (7, 7), (50, 50), (5, 9), (40, 64)])
def test_lapjv_and_scipy_reach_the_same_optimal_cost(shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    for _ in range(3):
        cost = rng.random(shape) * 10
        a_s = solve_assignment(cost, "scipy")
        a_l = solve_assignment(cost, "lapjv")
        for a in (a_s, a_l):
            assert len(np.unique(a)) == shape[0] and a.max() < shape[1]
        assert assignment_cost(cost, a_l) == pytest.approx(assignment_cost(cost, a_s), rel=1e-5)
        assert np.array_equal(solve_assignment(cost, "auto"), a_s)


def test_solve_assignment_finds_the_obvious_optimum():
    cost = np.array([[5.0, 1.0, 9.0], [1.0, 5.0, 9.0]])
    for method in ("scipy", "lapjv"):
        assert solve_assignment(cost, method).tolist() == [1, 0]


@pytest.mark.parametrize(
    "cost, method",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "scipy"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "lapjv"),
        (np.ones((3, 2)), "scipy"),  # more items than slots
        (np.ones(3), "scipy"),
        (np.ones((2, 2)), "hungarian"),
    ],
)
def test_solve_assignment_rejects_bad_costs(cost, method):
    with pytest.raises(LayerScopeError):
        solve_assignment(cost, method)


def test_solve_assignment_of_nothing_is_empty():
    assert solve_assignment(np.zeros((0, 3))).shape == (0,)


# ----------------------------------------------------------------------------- quality metric


def test_quality_metric_matches_a_hand_computed_line():
    # 1-D descriptors 0, 1, 3, 10 in one grid row of 4 cells: images in columns 0, 3, 1, 2.
    X = np.array([[0.0], [1.0], [3.0], [10.0]])
    cells = np.array([0, 3, 1, 2])
    # k=1: nearest neighbours 0->1, 1->0, 2->1, 3->2; grid distances 3, 3, 2, 1.
    assert neighbourhood_scores(X, cells, cols=4, k=1, radius=1).tolist() == [0, 0, 0, 1]
    assert neighbourhood_preservation(X, cells, cols=4, k=1, radius=1) == pytest.approx(0.25)
    assert neighbourhood_preservation(X, cells, cols=4, k=1, radius=2) == pytest.approx(0.5)
    # k=2: {1,2}->1 of 2 within 1 cell; {0,2}->0; {1,0}->1 of 2; {2,1}->2 of 2: mean 0.5.
    assert neighbourhood_scores(X, cells, cols=4, k=2, radius=1).tolist() == [0.5, 0, 0.5, 1]
    assert neighbourhood_preservation(X, cells, cols=4, k=2, radius=1) == pytest.approx(0.5)


def test_quality_metric_uses_chebyshev_distance_on_the_grid():
    # 3x3 grid; image 0 in the corner (0,0), its nearest neighbour image 1 diagonal at (1,1)
    # counts at radius 1; image 2 at (2,2) is 2 cells away from image 0.
    X = np.array([[0.0], [1.0], [2.5]])
    cells = np.array([0, 4, 8])
    s = neighbourhood_scores(X, cells, cols=3, k=1, radius=1)
    assert s.tolist() == [1.0, 1.0, 1.0]  # 0->1 diagonal, 1->0 diagonal, 2->1 diagonal
    s = neighbourhood_scores(X, cells, cols=3, k=2, radius=1)
    assert s.tolist() == [0.5, 1.0, 0.5]  # image 0's 2nd neighbour (2) is 2 cells away


def test_quality_metric_handles_one_image_and_duplicates():
    assert neighbourhood_preservation(np.zeros((1, 3)), np.array([0]), cols=1) == 1.0
    X = np.zeros((5, 3))  # all identical: every other image is a nearest neighbour
    q = neighbourhood_preservation(X, np.arange(5), cols=3, k=8)  # k clamped to 4
    assert 0.0 <= q <= 1.0
    with pytest.raises(LayerScopeError):
        neighbourhood_preservation(X, np.arange(4), cols=3)


# ----------------------------------------------------------------------------- layouts


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 10, 13, 17, 99])
def test_gridcut_and_exact_are_bijections_for_any_count(n):
    emb, X, _ = blobs(n, seed=n)
    for layout in (gridcut(emb, X=X), exact_grid(emb, X)):
        assert_bijection(layout, n)
        assert (layout.rows, layout.cols) == grid_shape(n)
        assert 0.0 <= layout.quality <= 1.0


def test_gridcut_with_many_regions_is_a_bijection_with_regions_holding_their_images():
    emb, X, y = blobs(700, seed=1)
    layout = gridcut(emb, X=X, leaf_size=40)
    assert_bijection(layout, 700)
    assert len(np.unique(layout.region_at)) > 10
    # Every region is a rectangle of cells that never holds more images than cells.
    for rid in np.unique(layout.region_at):
        r, c = np.divmod(np.flatnonzero(layout.region_at == rid), layout.cols)
        assert (r.max() - r.min() + 1) * (c.max() - c.min() + 1) == r.size
    assert_bijection(gridcut(emb, y, X=X, leaf_size=40), 700)


def test_one_image_two_images_and_identical_descriptors():
    one = gridcut(np.zeros((1, 2)))
    assert (one.rows, one.cols, one.cell_of.tolist(), one.quality) == (1, 1, [0], 1.0)
    two = gridcut(np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert (two.rows, two.cols) == (1, 2) and two.cell_of.tolist() == [0, 1]  # left stays left
    same = gridcut(np.ones((30, 2)), X=np.ones((30, 5)), leaf_size=8)  # all duplicates, cut too
    assert_bijection(same, 30)
    dup_emb, dup_X, _ = blobs(40)
    dup_emb[:20] = dup_emb[0]
    dup_X[:20] = dup_X[0]
    assert_bijection(gridcut(dup_emb, X=dup_X, leaf_size=10), 40)


def test_gridcut_equals_exact_when_everything_fits_one_region():
    emb, X, y = blobs(150, seed=3)
    exact = exact_grid(emb, X)
    for groups in (None, np.zeros(150), y):  # one group, or several: one region either way
        g = gridcut(emb, groups, X=X, leaf_size=256)
        assert np.array_equal(g.cell_of, exact.cell_of)
        assert g.quality == exact.quality == g.exact_quality


def test_gridcut_is_deterministic_for_a_seed():
    emb, X, _ = blobs(500, seed=4)
    a = gridcut(emb, X=X, leaf_size=50, n_groups=6, random_state=7)
    b = gridcut(emb, X=X, leaf_size=50, n_groups=6, random_state=7)
    assert np.array_equal(a.cell_of, b.cell_of) and a.quality == b.quality


def test_gridcut_keeps_most_of_the_exact_quality():
    emb, X, _ = blobs(900, seed=5)
    g = gridcut(emb, X=X, leaf_size=64, compare_exact=True)
    assert g.exact_quality is not None
    assert g.quality >= 0.9 * g.exact_quality
    assert g.quality_ratio == pytest.approx(g.quality / g.exact_quality)


def test_label_groups_get_their_own_side_of_the_first_cut():
    # 64 images (8x8, no spare cell), two interleaved labels of 32: the first cut falls on the
    # group boundary, so each label fills one half of the grid.
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(64, 2))
    y = np.repeat(["a", "b"], 32)
    rng.shuffle(y)
    layout = gridcut(emb, y, leaf_size=16)
    cols_of = layout.row_col()[:, 1]
    halves = {lab: set(cols_of[y == lab] // 4) for lab in ("a", "b")}
    assert halves["a"] != halves["b"] and all(len(h) == 1 for h in halves.values())


def test_layout_follows_the_embedding_orientation():
    # x -> columns, high y -> top row.
    emb = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    g = exact_grid(emb)
    assert g.cell_of.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "emb, kwargs",
    [
        (np.zeros((0, 2)), {}),
        (np.zeros((5, 3)), {}),
        (np.array([[0.0, np.nan], [1.0, 1.0]]), {}),
        (np.zeros((5, 2)), {"groups": [1, 2]}),
        (np.zeros((5, 2)), {"X": np.zeros((4, 3))}),
        (np.zeros((5, 2)), {"leaf_size": 0}),
        (np.zeros((5, 2)), {"scaling": "log"}),
    ],
)
def test_gridcut_rejects_bad_inputs_with_a_layerscope_error(emb, kwargs):
    with pytest.raises(LayerScopeError):
        gridcut(emb, **kwargs)


def test_exact_grid_refuses_sizes_beyond_its_limit():
    with pytest.raises(LayerScopeError, match="gridcut"):
        exact_grid(np.zeros((50, 2)), max_n=20)


def test_layouts_accept_read_only_memmaps(tmp_path):
    emb, X, _ = blobs(60)
    path = tmp_path / "x.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    em = np.require(emb, requirements="C")
    em.setflags(write=False)
    g = gridcut(em, X=Xm, leaf_size=16)
    assert_bijection(g, 60)
    assert np.array_equal(np.load(path), X)


# ----------------------------------------------------------------------------- render


def solid(i):
    return np.full((20, 30, 3), (i * 13) % 256, dtype=np.uint8)


def test_render_grid_shape_borders_and_empty_cells():
    emb, _, y = blobs(7)
    layout = gridcut(emb)  # 3 x 3 grid, 2 empty cells
    colours = label_colours(y)
    img = render_grid(layout, solid, thumb=10, border_colours=colours, border=2, background=(1, 2, 3))
    assert img.shape == (30, 30, 3) and img.dtype == np.uint8
    for i in range(7):
        r, c = divmod(int(layout.cell_of[i]), layout.cols)
        tile = img[r * 10:(r + 1) * 10, c * 10:(c + 1) * 10]
        assert tuple(tile[0, 0]) == colours[i] and tuple(tile[9, 9]) == colours[i]
        assert (tile[2:8, 2:8] == (i * 13) % 256).all()
    for cell in np.flatnonzero(layout.image_at < 0):
        r, c = divmod(int(cell), layout.cols)
        assert (img[r * 10:(r + 1) * 10, c * 10:(c + 1) * 10] == (1, 2, 3)).all()


def test_render_accepts_pil_and_array_thumbnails_and_checks_colours():
    emb, _, _ = blobs(30)
    layout = gridcut(emb)  # 5 x 6
    calls = []

    def loader(i):
        calls.append(i)
        return Image.new("L", (50, 40), color=i) if i % 2 else np.full((9, 9), i, np.uint8)

    img = render_grid(layout, loader, thumb=8, border=1)
    assert img.shape == (layout.rows * 8, layout.cols * 8, 3)
    assert sorted(calls) == list(range(30))
    r, c = divmod(int(layout.cell_of[3]), layout.cols)
    assert (img[r * 8 + 1:r * 8 + 7, c * 8 + 1:c * 8 + 7] == 3).all()  # grey PIL tile, centre-cropped
    with pytest.raises(LayerScopeError):
        render_grid(layout, solid, border_colours=[(0, 0, 0)])


def test_precomputed_neighbours_give_the_same_quality_and_are_reused():
    from analysis.layouts.gridcut import nearest_neighbours

    emb, X, _ = blobs(300, seed=8)
    knn = nearest_neighbours(X, 8)
    assert knn.shape == (300, 8) and not (knn == np.arange(300)[:, None]).any()
    a = gridcut(emb, X=X, leaf_size=64, compare_exact=True)
    b = gridcut(emb, X=X, leaf_size=64, compare_exact=True, knn=knn)
    assert (a.quality, a.exact_quality) == (b.quality, b.exact_quality)
    assert neighbourhood_preservation(None, a.cell_of, a.cols, knn=knn) == a.quality
    with pytest.raises(LayerScopeError):
        neighbourhood_preservation(None, a.cell_of, a.cols)
    with pytest.raises(LayerScopeError):
        gridcut(emb, X=X, knn=knn[:, :3])


@pytest.mark.parametrize("n", [3, 10, 50, 1000, 1030])
def test_spare_cells_are_the_end_of_the_bottom_row_never_holes(n):
    emb = np.random.default_rng(n).normal(size=(n, 2))
    for layout in (gridcut(emb, leaf_size=64), exact_grid(emb)):
        used = layout.image_at >= 0
        assert used.sum() == n and used[:n].all() and not used[n:].any()
