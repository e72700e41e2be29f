"""AppTest of the layout pages (UMAP per block, GridCut) on the 200-image demo set."""
import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from tests.apptest_util import ensure_small_store, errors, plotly_specs, run_page

UMAP, GRID = "views/umap_view.py", "views/gridcut.py"
COLOURS = ["black", "blue", "brown", "green", "grey", "orange", "pink", "purple", "red", "yellow"]


@pytest.fixture(scope="module")
def store():
    return ensure_small_store()


def arr(v):
    """A plotly JSON array: a plain list or plotly's typed {'dtype', 'bdata'} encoding."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape(v["shape"]) if "shape" in v and isinstance(v["shape"], list) else a
    return np.asarray(v, dtype=object)


def ids(trace):
    """Image index of every point of a trace (customdata[0])."""
    cd = arr(trace["customdata"])
    return np.array([int(row[0]) for row in cd]) if cd.ndim == 2 else cd.astype(int)


def scores(at) -> dict[str, str]:
    """GridCut's scores, label -> value: markdown "label", blank line, "## value" (drawn as it arrives,
    where st.metric waits for its script on a first visit)."""
    found = (re.fullmatch(r"(.+)\n\n## (.+)", m.value) for m in at.markdown)
    return {f.group(1): f.group(2) for f in found if f}


def main_map(at):
    specs = plotly_specs(at)
    return specs[0], specs[1]


def test_umap_page_plots_every_image_once_coloured_by_label(store):
    at = run_page(UMAP)
    assert not errors(at), errors(at)
    fig, grid = main_map(at)
    traces = fig["data"]
    assert [t["name"] for t in traces] == COLOURS  # one trace per label, no selection yet
    assert sorted(np.concatenate([ids(t) for t in traces]).tolist()) == list(range(store.n))
    assert sum(len(arr(t["x"])) for t in traces) == store.n
    # Colour names are drawn in their own colour, one distinct colour per label.
    colours = {t["name"]: t["marker"]["color"] for t in traces}
    assert colours["red"] == "rgb(255,0,0)" and colours["black"] == "rgb(0,0,0)"
    assert len(set(colours.values())) == len(COLOURS)
    labels = store.labels["colour"].to_numpy()
    for t in traces:
        assert set(labels[ids(t)]) == {t["name"]}
    assert "block 2" in fig["layout"]["title"]["text"]  # colour separates early: block 2 first
    # Small multiples: every block, every image.
    assert len(grid["data"]) == len(store.blocks) * len(COLOURS)
    assert sum(len(arr(t["x"])) for t in grid["data"]) == len(store.blocks) * store.n
    assert any("Map coordinates" in b.label for b in at.get("download_button"))


def test_selection_in_session_state_is_highlighted_in_another_block(store):
    chosen = [3, 17, 42]
    at = run_page(UMAP, **{f"layout_selection::{store.key}": chosen, "layout_params": {"block": "block 4"}})
    assert not errors(at), errors(at)
    fig, grid = main_map(at)
    assert "block 4" in fig["layout"]["title"]["text"]
    sel = [t for t in fig["data"] if t["name"].startswith("selected")]
    assert len(sel) == 1 and sel[0]["name"] == "selected (3)"
    assert ids(sel[0]).tolist() == chosen

    def position(fig_data, i):  # where image i is drawn by the label traces
        for t in fig_data:
            if not t["name"].startswith("selected") and i in ids(t):
                k = ids(t).tolist().index(i)
                return float(arr(t["x"])[k]), float(arr(t["y"])[k])

    x, y = arr(sel[0]["x"]), arr(sel[0]["y"])
    for k, i in enumerate(chosen):  # the rings sit on the selected images
        assert (float(x[k]), float(y[k])) == pytest.approx(position(fig["data"], i))
    # Every small multiple highlights the same images.
    rings = [t for t in grid["data"] if t.get("legendgroup") == "selected"]
    assert len(rings) == len(store.blocks) and all(ids(t).tolist() == chosen for t in rings)
    assert any("3 image(s) selected" in m.value for m in at.markdown)
    # Switch block: the selection stays, drawn at the images' places in that block's map.
    at.radio(key="umap_block").set_value("block 1").run()
    fig, _ = main_map(at)
    assert "block 1" in fig["layout"]["title"]["text"]
    sel1 = [t for t in fig["data"] if t["name"].startswith("selected")]
    assert ids(sel1[0]).tolist() == chosen
    assert not np.allclose(arr(sel1[0]["x"]).astype(float), x.astype(float))
    # Clear empties it.
    [b for b in at.button if b.label == "Clear selection"][0].click().run()
    fig, _ = main_map(at)
    assert not any(t["name"].startswith("selected") for t in fig["data"])


def test_umap_colour_by_hdbscan_clusters_reports_ari(store):
    at = run_page(UMAP)
    at.selectbox(key="umap_colour").set_value("HDBSCAN cluster (on this map)").run()
    assert not errors(at), errors(at)
    fig, _ = main_map(at)
    names = [t["name"] for t in fig["data"]]
    assert names and all(n.startswith("cluster ") or n == "noise" for n in names)
    assert sum(len(arr(t["x"])) for t in fig["data"]) == store.n
    assert any("ARI" in c.value and "AMI" in c.value for c in at.caption)


def test_umap_parameters_change_the_map(store):
    at = run_page(UMAP)
    before = main_map(at)[0]["data"][0]
    at.slider(key="umap_n_neighbors").set_value(6).run()
    assert not errors(at), errors(at)
    after = main_map(at)[0]["data"][0]
    assert ids(before).tolist() == ids(after).tolist()
    assert not np.allclose(arr(before["x"]).astype(float), arr(after["x"]).astype(float))


def decode_grid(fig):
    img = [t for t in fig["data"] if t["type"] == "image"]
    assert len(img) == 1
    src = img[0]["source"]
    assert src.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def test_gridcut_page_shows_the_grid_its_quality_and_a_legend(store):
    at = run_page(GRID)
    assert not errors(at), errors(at)
    metrics = scores(at)
    q = float(metrics["Neighbourhood preservation"])
    assert 0.0 < q <= 1.0
    assert float(metrics["Exact assignment"]) == pytest.approx(q)  # 200 images: GridCut is exact
    assert 0.0 < float(metrics["Same score in the 2-D map"]) <= 1.0
    (fig,) = plotly_specs(at)
    pic = decode_grid(fig)
    rows, cols = 14, 15  # near-square grid for 200 images
    assert pic.shape == (rows * 48, cols * 48, 3)
    legend = [t for t in fig["data"] if t["type"] == "scatter" and t.get("showlegend")]
    assert [t["name"] for t in legend] == COLOURS
    colour_of = {t["name"]: t["marker"]["color"] for t in legend}
    cells = [t for t in fig["data"] if t.get("name") == "cells"][0]
    assert sorted(ids(cells).tolist()) == list(range(store.n))
    # Each image's cell border has its label's legend colour, and sits where the click layer says.
    labels = store.labels["colour"].to_numpy()
    xs, ys = arr(cells["x"]).astype(float), arr(cells["y"]).astype(float)
    for k, i in enumerate(ids(cells)[:40]):
        r, c = int(ys[k] // 48), int(xs[k] // 48)
        assert "rgb({},{},{})".format(*pic[r * 48, c * 48]) == colour_of[labels[i]]
    # The PNG and CSV are made when clicked (deferred): a file handed over up front is fetched by the
    # browser as soon as the button is drawn. The Chromium test downloads the PNG.
    downloads = {b.label: b.proto for b in at.get("download_button")}
    assert downloads["Download the grid (PNG, with legend)"].deferred_file_id
    assert downloads["Cell of every image (CSV)"].deferred_file_id
    # Grouping by label keeps a valid grid with its score.
    at.checkbox(key="gridcut_grouped").check().run()
    assert not errors(at), errors(at)
    assert 0.0 < float(scores(at)["Neighbourhood preservation"]) <= 1.0
    assert decode_grid(plotly_specs(at)[0]).shape == pic.shape


def test_gridcut_exact_mode_any_label_column_and_selection_outline(store):
    at = run_page(GRID, **{f"layout_selection::{store.key}": [5]})
    at.radio(key="gridcut_mode").set_value("Exact assignment (one global assignment)")
    at.selectbox(key="gridcut_colour").set_value("pattern")
    at.radio(key="gridcut_block").set_value("block 4").run()
    assert not errors(at), errors(at)
    metrics = scores(at)
    assert "This is the exact assignment" in metrics
    (fig,) = plotly_specs(at)
    legend = [t["name"] for t in fig["data"] if t["type"] == "scatter" and t.get("showlegend")]
    assert legend == sorted(store.labels["pattern"].astype(str).unique())
    shapes = fig["layout"].get("shapes", [])
    assert len(shapes) == 2  # the linked selection is outlined (white halo + black line)
    cells = [t for t in fig["data"] if t.get("name") == "cells"][0]
    k = ids(cells).tolist().index(5)
    x, y = float(arr(cells["x"])[k]), float(arr(cells["y"])[k])
    assert shapes[0]["x0"] < x < shapes[0]["x1"] and shapes[0]["y0"] < y < shapes[0]["y1"]
    assert any("1 image(s) selected" in m.value for m in at.markdown)
    assert len(at.get("image")) == 1  # the selected image, shown with its labels


def test_gridcut_default_cell_keeps_the_first_picture_within_1024_px():
    from analysis.layouts.gridcut import grid_shape
    from dashboard.layouts_shared import GRID_CELLS, GRID_FIRST_SIDE, grid_default_cell

    assert grid_default_cell(200) == 48  # the demo set: 15 columns, 720 px
    assert grid_default_cell(1000) == 32  # the built-in set: 32 columns, 1024 px (not 1536)
    assert (grid_default_cell(441), grid_default_cell(442)) == (48, 32)  # 21 columns fit at 48 px, 22 do not
    assert grid_default_cell(10_000) == GRID_CELLS[0]  # 100 columns: none fits, the smallest
    for n in (2, 50, 300, 900, 2000, 4000):
        cell = grid_default_cell(n)
        assert cell in GRID_CELLS and cell * max(grid_shape(n)) <= GRID_FIRST_SIDE
