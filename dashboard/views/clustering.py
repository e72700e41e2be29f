"""Clustering: reduce each block (UMAP / PCA), HDBSCAN, compare the clusters with the labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from analysis.probes.clustering import cluster_block
from analysis.probes.report_store import cluster_space
from dashboard.state import guard, require_store
from dashboard.which_block import CAMERA, block_select, download_csv, progress_bar

st.header("Clustering")
sel, model, ds, store = require_store()
label = sel.label
st.caption(f"Without using the labels: reduce each block's descriptors, let HDBSCAN find clusters, then score how well "
           f"the clusters match **{label}** (ARI / AMI: 0 = chance, 1 = the clusters are the classes).")

c1, c2, c3, c4 = st.columns(4)
reducer = c1.radio("Reduce with", ["umap", "pca"], horizontal=True, key="clu_reducer",
                   help="UMAP (min_dist 0) keeps clusters tight; PCA is linear and fast")
n_components = c2.number_input("Dimensions", 2, 64, 5, key="clu_dims")
n_neighbors = c3.number_input("UMAP neighbours", 2, 200, 15, key="clu_neighbors", disabled=reducer != "umap")
mcs = c4.number_input("Min cluster size (0 = auto)", 0, 10_000, 0, key="clu_mcs",
                      help="auto: max(5, smallest class // 2)")
seed = 0


@st.cache_data(show_spinner=False, max_entries=32)
def curve(key: str, label: str, reducer: str, d: int, nn: int, mcs: int, seed: int, _store) -> dict:
    """Scores per block plus each block's clusters (small: one int per image)."""
    y = _store.labels[label].to_numpy()
    rows, clusters, spaces = [], {}, {}
    with progress_bar("Clustering every block") as update:
        for i, b in enumerate(_store.blocks):
            update(i / len(_store.blocks), f"{b.name}: {reducer.upper()} + HDBSCAN")
            E = cluster_space(_store, b.index, reducer, d, nn, seed)
            r = cluster_block(_store.descriptors(b.index), y, embedding=E, min_cluster_size=mcs or None,
                              random_state=seed)
            rows.append({"block": b.name, "ARI": r.ari, "AMI": r.ami, "silhouette": r.silhouette,
                         "silhouette (labels)": r.silhouette_labels, "noise fraction": r.noise_fraction,
                         "clusters": r.n_clusters, "min cluster size": r.params["min_cluster_size"]})
            clusters[b.index] = r.clusters
            spaces[b.index] = E[:, :2].astype(np.float32)
    return {"table": pd.DataFrame(rows), "clusters": clusters, "xy": spaces}


with guard():
    res = curve(store.key, label, reducer, int(n_components), int(n_neighbors), int(mcs), seed, store)
table = res["table"]

st.subheader("Scores over blocks")
long = table.melt(id_vars="block", value_vars=["ARI", "AMI", "silhouette", "silhouette (labels)", "noise fraction"],
                  var_name="score", value_name="value")
fig = px.line(long, x="block", y="value", color="score", markers=True, height=380,
              title=f"HDBSCAN on {reducer.upper()}-{int(n_components)} vs {label}, per block")
st.plotly_chart(fig, width="stretch", key="clu_curve")
shown = table.set_index("block")
st.dataframe(shown.style.format({c: "{:.3f}" for c in ["ARI", "AMI", "silhouette", "silhouette (labels)",
                                                       "noise fraction"]})
             .highlight_max(subset=["ARI", "AMI"], color="#c8f7c5"), width="stretch", key="clu_table")
c1, c2 = st.columns([1, 3])
with c1:
    download_csv(table, f"clustering_{label}_{reducer}{int(n_components)}", "clu_dl_table", index=False)
c2.caption(CAMERA + " Silhouette (labels) = silhouette of the true classes in the same reduced space; "
           "noise = images HDBSCAN left out (counted as one extra group in ARI / AMI).")

st.subheader("One block: clusters against classes")
best = int(np.argmax(table["AMI"].to_numpy())) + 1
block = block_select(store, "Block", "clu_block", default=best)
clusters = res["clusters"][block]
labels = store.labels[label].astype(str).to_numpy()
cluster_names = np.where(clusters < 0, "noise", np.char.add("cluster ", clusters.astype(str)))
left, right = st.columns(2)
with left:
    by = st.radio("Colour points by", [label, "cluster"], horizontal=True, key="clu_colour_by")
    xy = res["xy"][block]
    pts = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1] if xy.shape[1] > 1 else 0.0, label: labels,
                        "cluster": cluster_names, "image": [f"#{i}" for i in range(len(labels))]})
    fig = px.scatter(pts, x="x", y="y", color=by, hover_data=["image", label, "cluster"], height=440,
                     title=f"block {block}: first two of the {int(n_components)} clustered dimensions")
    fig.update_traces(marker={"size": 6})
    st.plotly_chart(fig, width="stretch", key="clu_scatter")
with right:
    ct = pd.crosstab(pd.Series(labels, name=label), pd.Series(cluster_names, name="cluster"))
    fig = px.imshow(ct, text_auto=True, aspect="auto", color_continuous_scale="Purples", height=480,
                    title="Images per class (rows) and cluster (columns)")
    st.plotly_chart(fig, width="stretch", key="clu_crosstab")
    download_csv(ct, f"clusters_vs_{label}_block{block}", "clu_dl_crosstab")
