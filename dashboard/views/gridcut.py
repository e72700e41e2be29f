"""GridCut: every image in one cell of a near-square grid, neighbours in descriptor space next to
each other in the grid; thin borders coloured by label, the neighbourhood-preservation score,
zoom, click a cell for the image, PNG export."""
from __future__ import annotations

from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from analysis.layouts.cached import grid_layout as cached_grid_layout
from analysis.layouts.gridcut import (
    AUTO_EXACT_COMPARE_MAX_N,
    EXACT_MAX_N,
    GridLayout,
)
from analysis.layouts.palette import colour_map, rgb_css
from analysis.layouts.thumbgrid import render_grid
from analysis.pictures import display_uri, legend_strip, png_bytes, stack_with_legend
from dashboard import layouts_shared as L
from dashboard.page_links import choice, flag, layout_url_state, url_state
from dashboard.state import guard, require_store

PAGE = "gridcut"
MAX_SIDE = 4096  # composite side cap (pixels): a bigger picture is slow to send and to draw
CELLS = list(L.GRID_CELLS)
MODES = {"GridCut (fast, any size)": "gridcut", "Exact assignment (one global assignment)": "exact"}

st.header("GridCut: the map as a grid of thumbnails")
sel, model, ds, store = require_store()
st.caption("Every image gets its own cell of a near-square grid, placed so that images close in the block's "
           "UMAP map (hence in descriptor space) are close in the grid: clusters without overlap. The border "
           "colour is the label. Zoom with the mouse (drag a box; double-click to reset); click a cell for "
           "the image.")


def grid_layout(block: str, b_index: int, params: dict, maps: L.Maps, mode: str, group_col: str | None,
                compare: bool) -> tuple[GridLayout, float]:
    """The layout (cached on disk by the library, and in process) and its quality in the 2-D map."""
    key = (store.key, block, tuple(sorted(params.items())), mode, group_col, compare)
    hit = L.memo("grids", 16).get(key)
    if hit is not None:
        return hit
    with st.spinner("Placing the images on the grid…"):
        out = cached_grid_layout(store, block, params, maps, mode, group_col, compare)
    L.memo("grids", 16).put(key, out)
    return out


def composite(layout_key: tuple, layout: GridLayout, colour: str, values: np.ndarray, cmap: dict, cell: int):
    """(picture, display data URI) for colour column `colour`, cached in process."""
    key = (store.key, layout_key, cell, colour, tuple(cmap.items()))
    hit = L.memo("composites", 6).get(key)
    if hit is not None:
        return hit
    thumbs = L.thumbs(store)
    with st.spinner("Drawing the grid…"):
        border = max(2, cell // 16)
        pic = render_grid(layout, lambda i: thumbs[i], thumb=cell, border_colours=[cmap[v] for v in values],
                          border=border)
        uri = display_uri(pic)
    out = (pic, uri)
    L.memo("composites", 6).put(key, out)
    return out


def score(where: DeltaGenerator, label: str, value: str, help: str | None = None) -> None:
    """A number under its label, as st.metric draws it, but as markdown. st.metric is a lazily loaded
    element: on a first visit the browser reveals it with the page's other lazily loaded parts once
    their scripts have come from the server, the plotly chart's 4.7 MB among them (measured with the
    1000 built-in images: the scores showed after 4-5 s as metrics, after ~1.7 s as markdown, the
    grid itself after ~4 s either way)."""
    where.markdown(f"{label}\n\n## {value}", help=help, anchors=False)


def png_with_legend(pic: np.ndarray, colour: str, cmap: dict) -> bytes:
    """The grid with its colour legend below, as PNG file contents (made when the button is clicked)."""
    legend = legend_strip(list(cmap), list(cmap.values()), width=max(pic.shape[1], 400), title=f"{colour}:")
    return png_bytes(stack_with_legend(pic, legend))


def cells_csv(rc: np.ndarray) -> str:
    """Row and column of every image, with its labels and path (made when the button is clicked)."""
    cells = store.labels.copy()
    cells.insert(0, "image", np.arange(store.n))
    cells.insert(1, "row", rc[:, 0])
    cells.insert(2, "col", rc[:, 1])
    cells["path"] = store.paths
    return cells.to_csv(index=False)


layout_url_state(PAGE, store, sel.label, allow_clusters=False)
url_state({"mode": choice(f"{PAGE}_mode", list(MODES), show=MODES.get), "compare": flag(f"{PAGE}_compare"),
           "grouped": flag(f"{PAGE}_grouped"), "cell": choice(f"{PAGE}_cell", CELLS)})
with guard():
    top = st.columns([3, 2])
    with top[0]:
        block, b_index = L.block_choice(store, PAGE)
    with top[1]:
        colour = L.colour_choice(store, sel.label, PAGE, allow_clusters=False)
    n = store.n
    opts = st.columns([2, 2, 2, 2])
    with opts[0]:
        modes = list(MODES) if n <= EXACT_MAX_N else list(MODES)[:1]
        mode = MODES[st.radio("Assignment", modes, key=f"{PAGE}_mode",
                              help="GridCut cuts the map into regions of at most 256 images and solves each "
                                   "exactly; the exact mode solves one assignment of all images to all cells "
                                   f"(O(n³): fine up to ~2 500 images, offered up to {EXACT_MAX_N}).")]
    with opts[1]:
        compare = False
        if mode == "gridcut" and n <= EXACT_MAX_N:
            compare = st.checkbox("Compare with the exact assignment", value=n <= AUTO_EXACT_COMPARE_MAX_N,
                                  key=f"{PAGE}_compare", help="Also computes the exact layout's score "
                                  "(under a second up to ~1 200 images, seconds at 2 500).")
        grouped = mode == "gridcut" and st.checkbox(
            "Keep each label together", value=False, key=f"{PAGE}_grouped",
            help="Uses the colour column as groups: each label gets its own block of the grid where the "
                 "spare cells allow. Off: the grid follows the map only (unsupervised).")
    with opts[2]:
        cell = st.select_slider("Cell size (px) — sharper when zoomed", CELLS, value=L.grid_default_cell(n),
                                key=f"{PAGE}_cell", help=f"Starts at {L.GRID_CELL} px, or less when the grid would "
                                f"be over {L.GRID_FIRST_SIDE} px a side (quicker to open). The PNG download is "
                                "drawn at the size chosen here.")
    params = L.umap_params(PAGE)
    maps = L.aligned_maps(store, params)
    group_col = colour if grouped else None
    layout, q_map = grid_layout(block, b_index, params, maps, mode, group_col, compare)
    layout_key = (block, tuple(sorted(params.items())), mode, group_col, compare)

    side = max(layout.rows, layout.cols)
    eff_cell = min(cell, max(8, MAX_SIDE // side))
    if eff_cell < cell:
        st.caption(f"Cells drawn at {eff_cell} px so the picture stays under {MAX_SIDE} px a side "
                   f"({layout.rows} × {layout.cols} cells).")

    m = st.columns(4)
    score(m[0], "Neighbourhood preservation", f"{layout.quality:.3f}",
          f"Share of each image's {layout.k} nearest neighbours (in the block's descriptors) that lie in the "
          f"{layout.k} cells around it, averaged over images. 1 = perfect.")
    if layout.exact_quality is not None:
        label = "Exact assignment" if mode == "gridcut" else "This is the exact assignment"
        score(m[1], label, f"{layout.exact_quality:.3f}")
        if mode == "gridcut" and layout.quality_ratio is not None:
            score(m[2], "GridCut keeps", f"{layout.quality_ratio:.1%}", "of the exact assignment's score")
    else:
        score(m[1], "Exact assignment", "—", "Not computed: tick 'Compare with the exact assignment' "
              f"(offered up to {EXACT_MAX_N} images).")
    score(m[3], "Same score in the 2-D map", f"{q_map:.3f}",
          "Neighbours taken in the UMAP map instead of the descriptors: what the grid itself loses; the gap to "
          "the first number is lost by the 2-D map.")
    st.caption(f"{layout.rows} × {layout.cols} cells for {n} images · {layout.method} · laid out in "
               f"{layout.seconds:.2f} s · {block} · UMAP n_neighbors={params['n_neighbors']}, "
               f"min_dist={params['min_dist']}, {params['metric']}")

    values = store.labels[colour].astype(str).to_numpy(dtype=object)
    cmap = colour_map(values)
    pic, uri = composite(layout_key, layout, colour, values, cmap, eff_cell)
    H, W = pic.shape[:2]
    rc = layout.row_col()
    cx, cy = (rc[:, 1] + 0.5) * eff_cell, (rc[:, 0] + 0.5) * eff_cell
    cd, template = L.hover_data(store, np.arange(n))
    fig = go.Figure()
    fig.add_trace(go.Image(source=uri, x0=0, dx=1, y0=0, dy=1, hoverinfo="skip", name="grid"))
    # Invisible points on the cell centres: hover text, click / box / lasso selection.
    fig.add_trace(go.Scatter(x=cx, y=cy, mode="markers", customdata=cd, hovertemplate=template, showlegend=False,
                             name="cells", marker={"size": max(6, min(30, 900 // max(layout.cols, 1))),
                                                   "color": "rgba(0,0,0,0)", "symbol": "square"}))
    for name, rgb in cmap.items():  # legend: label -> border colour
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, showlegend=True,
                                 marker={"size": 12, "symbol": "square", "color": rgb_css(rgb),
                                         "line": {"color": "#444", "width": 1}}, hoverinfo="skip"))
    chosen = L.get_selection(store)
    for i in chosen[:300]:  # outline the linked selection: white halo + black line, unlike any label border
        r, c = rc[i]
        for colour_, width in (("white", 7), ("black", 2.5)):
            fig.add_shape(type="rect", x0=c * eff_cell, x1=(c + 1) * eff_cell, y0=r * eff_cell,
                          y1=(r + 1) * eff_cell, line={"color": colour_, "width": width}, fillcolor="rgba(0,0,0,0)")
    height = int(min(1000, max(420, 760 * H / max(W, 1))))
    fig.update_layout(
        height=height, dragmode="zoom", margin={"l": 0, "r": 0, "t": 36, "b": 0}, plot_bgcolor="white",
        legend={"title": {"text": colour}, "itemsizing": "constant", "itemclick": False, "itemdoubleclick": False},
        xaxis={"visible": False, "range": [0, W], "constrain": "domain"},
        yaxis={"visible": False, "range": [H, 0], "scaleanchor": "x", "constrain": "domain"},
    )
    left, right = st.columns([4, 1])
    with left:
        event = st.plotly_chart(fig, key=f"{PAGE}_plot", on_select="rerun", selection_mode=("points", "box", "lasso"),
                                config={"displaylogo": False, "scrollZoom": True})
    if L.absorb_selection(store, event):
        st.rerun()
    with right:
        L.show_selection(store, PAGE, max_images=24, single=220, many=64)

    # Both files are made when their button is clicked (Streamlit's deferred download): a file handed
    # over up front is also fetched by the browser as soon as the button is drawn (a 3.5 MB PNG for
    # the 1000 built-in images), competing with the grid picture on a first visit.
    d = st.columns(3)
    d[0].download_button("Download the grid (PNG, with legend)", partial(png_with_legend, pic, colour, cmap),
                         file_name=f"gridcut_{block.replace(' ', '')}.png", mime="image/png", key=f"{PAGE}_png")
    d[1].download_button("Cell of every image (CSV)", partial(cells_csv, rc), file_name="gridcut_cells.csv",
                         mime="text/csv", key=f"{PAGE}_csv")
    for note in layout.notes + maps.notes:
        st.caption(f"ℹ️ {note}")
