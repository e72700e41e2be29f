"""Distances: same-class vs different-class pair distances, in the block's space and in UMAP spaces."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st
from plotly.subplots import make_subplots

from analysis.probes.distances import distance_distributions
from analysis.probes.reduction import default_dims
from analysis.probes.report_store import reduced_space
from dashboard.page_links import block_param, choice, integer, items, url_state
from dashboard.state import guard, page_seed, require_store
from dashboard.widgets import CAMERA, block_select, download_csv, progress_bar

st.header("Distances")
sel, model, ds, store = require_store()
label = sel.label
st.caption(f"For each class of **{label}**: distances between two images of the class (positive pairs) and between an "
           "image of the class and one of another class (negative pairs). The less the two histograms overlap, the "
           "better distances in that space separate the classes.")

url_state({"block": block_param("dist_block", store), "metric": choice("dist_metric", ["euclidean", "cosine"]),
           "pairs": integer("dist_pairs", 100, 20_000)})
c1, c2, c3 = st.columns(3)
with c1:
    block = block_select(store, "Block", "dist_block")
metric = c2.radio("Distance", ["euclidean", "cosine"], horizontal=True, key="dist_metric")
per_class = c3.number_input("Pairs per class (each kind)", 100, 20_000, 3000, step=500, key="dist_pairs")
channels = store.blocks[block - 1].channels
options = default_dims(channels, 1024, n_images=store.n)
url_state({"dims": items("dist_dims", options)})
dims = st.multiselect("UMAP spaces (dimensions)", options, default=[d for d in (2, 8, 32) if d in options],
                      key="dist_dims", help="each is one UMAP fit of this block (kept on disk)")
seed = page_seed()


def umap_space(store, block: int, d: int) -> np.ndarray:
    return reduced_space(store, block, "umap", d, n_neighbors=15, min_dist=0.1, random_state=seed)


@st.cache_data(show_spinner=False, max_entries=32)
def spaces(key: str, label: str, block: int, dims: tuple, metric: str, per_class: int, seed: int, _store) -> dict:
    """Histograms and separation numbers of the same pairs in the original space and each UMAP space."""
    named = {"original": _store.descriptors(block)}
    with progress_bar(f"UMAP spaces of block {block}") as update:
        for i, d in enumerate(dims):
            update(i, len(dims), f"UMAP to {d} dimensions")
            named[f"UMAP-{d}"] = umap_space(_store, block, d)
    dists, summary = distance_distributions(named, _store.labels[label].to_numpy(), n_per_class=per_class,
                                            metric=metric, random_state=seed)
    hists = {name: (r.bin_edges, r.positive_hist, r.negative_hist) for name, r in dists.items()}
    return {"summary": summary, "hists": hists}


@st.cache_data(show_spinner=False, max_entries=32)
def per_block(key: str, label: str, metric: str, per_class: int, seed: int, _store) -> pd.DataFrame:
    """Overlap / AUC / d' of the original space of every block (same pairs everywhere)."""
    blocks = _store.block_arrays()
    _, summary = distance_distributions(blocks, _store.labels[label].to_numpy(), n_per_class=per_class,
                                        metric=metric, random_state=seed)
    return summary.rename(columns={"space": "block"})


with guard():
    res = spaces(store.key, label, block, tuple(sorted(dims)), metric, int(per_class), seed, store)
    over = per_block(store.key, label, metric, int(per_class), seed, store)

summary = res["summary"]
st.subheader(f"block {block}: positive vs negative pairs")
names = list(res["hists"])
cols = min(3, len(names))
rows = -(-len(names) // cols)
titles = [f"{n} · overlap {o:.2f} · AUC {a:.2f}" for n, o, a in zip(summary["space"], summary["overlap"], summary["auc"])]
fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.06, vertical_spacing=0.14)
for i, name in enumerate(names):
    edges, pos, neg = res["hists"][name]
    centres = (edges[:-1] + edges[1:]) / 2
    r, c = i // cols + 1, i % cols + 1
    for values, kind, colour in ((pos, "same class", "#1f77b4"), (neg, "different class", "#ff7f0e")):
        fig.add_bar(x=centres, y=values, width=np.diff(edges), name=kind, marker_color=colour, opacity=0.55,
                    legendgroup=kind, showlegend=i == 0, row=r, col=c)
fig.update_layout(barmode="overlay", height=300 * rows + 60, bargap=0,
                  title=f"Pair distances ({metric}), share of pairs per bin · {label}")
fig.update_annotations(font_size=12)
st.plotly_chart(fig, width="stretch", key="dist_hists")
st.dataframe(summary.style.format({"overlap": "{:.3f}", "auc": "{:.3f}", "d_prime": "{:.2f}",
                                   "mean_positive": "{:.3g}", "mean_negative": "{:.3g}"}),
             width="stretch", hide_index=True, key="dist_summary")
c1, c2 = st.columns([1, 3])
with c1:
    download_csv(summary, f"distances_block{block}_{label}_{metric}", "dist_dl_summary", index=False)
c2.caption("**overlap** = Σ min(p, q) over shared bins (1 = same distribution, 0 = disjoint); **AUC** = chance that a "
           "different-class pair is farther apart than a same-class pair; **d′** = mean gap in pooled standard "
           "deviations. " + CAMERA)

st.subheader("Separation in each block's own space")
long = over.melt(id_vars="block", value_vars=["overlap", "auc"], var_name="number", value_name="value")
fig = px.line(long, x="block", y="value", color="number", markers=True, height=340,
              title=f"Overlap (lower is better) and AUC (higher is better) per block · {metric}")
st.plotly_chart(fig, width="stretch", key="dist_blocks")
download_csv(over, f"distances_per_block_{label}_{metric}", "dist_dl_blocks", index=False)
