"""UMAP per block: a seeded 2-D map of each block's descriptors, aligned across blocks, coloured
by any label column or by HDBSCAN clusters, with a selection linked across blocks and pages."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from analysis.layouts.palette import colour_map, rgb_css
from dashboard import layouts_shared as L
from dashboard.page_links import layout_url_state
from dashboard.state import guard, require_store

PAGE = "umap"
SELECTED = "selected"

st.header("UMAP per block")
sel, model, ds, store = require_store()
st.caption("Each point is one image, placed by a 2-D UMAP of the block's pooled descriptors. Blocks are "
           "aligned (each map starts from the previous block's map, then is rotated onto it), so switching "
           "block does not flip or spin the picture. Hover for labels; click, box or lasso to select.")

layout_url_state(PAGE, store, sel.label, allow_clusters=True)
with guard():
    top = st.columns([3, 2])
    with top[0]:
        block, b_index = L.block_choice(store, PAGE)
    with top[1]:
        colour = L.colour_choice(store, sel.label, PAGE, allow_clusters=True)
    params = L.umap_params(PAGE)
    maps = L.aligned_maps(store, params)
    coords = maps[block]
    values, cluster_caption = L.colour_values(store, colour, block, params, coords, sel.label)
    cmap = colour_map(values)
    selection = np.asarray(L.get_selection(store), dtype=np.int64)
    n = store.n
    big = n > 3000
    Scatter = go.Scattergl if big else go.Scatter
    size = 7 if n <= 1000 else 5 if n <= 5000 else 3

    def label_traces(xy: np.ndarray, marker_size: float, show_legend: bool, with_hover: bool):
        """One trace per label value (sorted, palette colours), customdata[0] = image index."""
        out = []
        dim = 0.3 if selection.size else 0.9  # a selection fades the rest
        for name, rgb in cmap.items():
            idx = np.flatnonzero(values == name)
            if idx.size == 0:
                continue
            kw = {}
            if with_hover:
                cd, template = L.hover_data(store, idx)
                kw = {"customdata": cd, "hovertemplate": template}
            else:
                kw = {"customdata": idx[:, None], "hoverinfo": "skip"}
            out.append(Scatter(x=xy[idx, 0], y=xy[idx, 1], mode="markers", name=name, legendgroup=name,
                               showlegend=show_legend,
                               marker={"color": rgb_css(rgb), "size": marker_size, "opacity": dim,
                                       # a thin dark rim keeps yellow / pink / white visible on white
                                       "line": {"width": 0.5, "color": "rgba(0,0,0,0.45)"}}, **kw))
        return out

    def selection_trace(xy: np.ndarray, marker_size: float, show_legend: bool, with_hover: bool, rim: float = 2.0):
        """The selected images on top: their own colour, full opacity, a black rim."""
        if not selection.size:
            return []
        cd = L.hover_data(store, selection)[0] if with_hover else selection[:, None]
        fill = [rgb_css(cmap[v]) for v in values[selection]]
        return [Scatter(x=xy[selection, 0], y=xy[selection, 1], mode="markers", name=f"{SELECTED} ({selection.size})",
                        legendgroup=SELECTED, showlegend=show_legend, customdata=cd, hoverinfo="skip",
                        marker={"color": fill, "size": marker_size + 3, "opacity": 1.0,
                                "line": {"color": "black", "width": rim}})]

    fig = go.Figure(label_traces(coords, size, True, True) + selection_trace(coords, size, True, False))
    fig.update_layout(
        title=f"{block} · {store.n} images · coloured by {colour}", height=620, dragmode="lasso",
        legend={"title": {"text": colour}, "itemsizing": "constant"}, margin={"l": 10, "r": 10, "t": 50, "b": 10},
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"}, plot_bgcolor="white",
    )
    if cluster_caption:
        st.caption(cluster_caption)
    left, right = st.columns([3, 1])
    with left:
        event = st.plotly_chart(fig, key=f"{PAGE}_plot", on_select="rerun", selection_mode=("points", "box", "lasso"),
                                config={"displaylogo": False, "toImageButtonOptions": {"filename": f"umap_{block}"}})
        st.caption("PNG: use the camera button of the chart (\"Download plot as png\"). Legend: click a label "
                   "to hide it, double-click to show it alone.")
    if L.absorb_selection(store, event):
        st.rerun()
    with right:
        L.show_selection(store, PAGE, max_images=30, many=72)

    st.subheader("All blocks side by side")
    names = list(maps)
    ncols = min(len(names), 5)
    nrows = math.ceil(len(names) / ncols)
    titles = []
    for nm in names:
        r = maps.residuals[nm]
        titles.append(nm if not np.isfinite(r) else f"{nm} · change {r:.2f}")
    grid = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles, horizontal_spacing=0.02,
                         vertical_spacing=0.08)
    for i, nm in enumerate(names):
        r, c = divmod(i, ncols)
        for tr in label_traces(maps[nm], 4 if n <= 2000 else 2, False, False) + \
                selection_trace(maps[nm], 3, False, False, rim=1.0):
            grid.add_trace(tr, row=r + 1, col=c + 1)
    grid.update_xaxes(visible=False)
    grid.update_yaxes(visible=False)
    grid.update_layout(height=260 * nrows + 40, margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="white",
                       showlegend=False)
    st.plotly_chart(grid, key=f"{PAGE}_grid", config={"displaylogo": False})
    st.caption("\"change\" = Procrustes residual to the previous block's map (0: same picture, about 1: "
               "unrelated). The selection (black rims, the rest faded) is the same images in every block.")

    for note in maps.notes:
        st.info(note)
    st.download_button("Map coordinates of all blocks (CSV)", L.coords_table(store, maps).to_csv(index=False),
                       file_name=f"umap_{store.key}.csv", mime="text/csv")
