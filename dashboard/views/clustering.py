"""Clustering: reduce each block (UMAP / PCA), HDBSCAN, compare the clusters with the labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from analysis.layouts.palette import css_map
from analysis.probes.chance import all_noise
from analysis.probes.report_store import cached_clustering, cluster_space
from dashboard.page_links import block_param, choice, integer, url_state
from dashboard.safe_io import show_images
from dashboard.state import guard, page_seed, require_store
from dashboard.widgets import CAMERA, block_select, download_csv, progress_bar

st.header("Clustering")
sel, model, ds, store = require_store()
label = sel.label
st.caption(f"Without using the labels: reduce each block's descriptors, let HDBSCAN find clusters, then score how well "
           f"the clusters match **{label}** (ARI / AMI: 0 = chance, 1 = the clusters are the classes).")

url_state({"reducer": choice("clu_reducer", ["umap", "pca"]), "dims": integer("clu_dims", 2, 64),
           "neighbors": integer("clu_neighbors", 2, 200), "mcs": integer("clu_mcs", 0, 10_000),
           "block": block_param("clu_block", store), "colour": choice("clu_colour_by", [label, "cluster"])})
c1, c2, c3, c4 = st.columns(4)
reducer = c1.radio("Reduce with", ["umap", "pca"], horizontal=True, key="clu_reducer",
                   help="UMAP (min_dist 0) keeps clusters tight; PCA is linear and fast")
n_components = c2.number_input("Dimensions", 2, 64, 5, key="clu_dims")
n_neighbors = c3.number_input("UMAP neighbours", 2, 200, 15, key="clu_neighbors", disabled=reducer != "umap")
mcs = c4.number_input("Min cluster size (0 = auto)", 0, 10_000, 0, key="clu_mcs",
                      help="auto: max(5, smallest class // 2)")
seed = page_seed()


@st.cache_data(show_spinner=False, max_entries=32)
def curve(key: str, label: str, reducer: str, d: int, nn: int, mcs: int, seed: int, _store) -> dict:
    """Scores per block plus each block's clusters (small: one int per image)."""
    rows, clusters, spaces = [], {}, {}
    with progress_bar("Clustering every block") as update:
        for i, b in enumerate(_store.blocks):
            update(i, len(_store.blocks), f"{b.name}: {reducer.upper()} + HDBSCAN")
            c = cached_clustering(_store, b.index, label, reducer, d, nn, mcs or None, seed)
            rows.append({"block": b.name, "ARI": float(c["ari"]), "AMI": float(c["ami"]),
                         **{k: float(c[k]) for k in ("ari_low", "ari_high", "ami_low", "ami_high")},
                         "silhouette": float(c["silhouette"]), "silhouette (labels)": float(c["silhouette_labels"]),
                         "noise fraction": float(c["noise_fraction"]), "clusters": int(c["n_clusters"]),
                         "min cluster size": int(c["min_cluster_size"])})
            clusters[b.index] = c["clusters"]
            spaces[b.index] = cluster_space(_store, b.index, reducer, d, nn, seed)[:, :2].astype(np.float32)
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
# A score whose 95 % interval reaches 0 is at chance: shown, never highlighted as best.
clear = {s_: shown[f"{s_.lower()}_low"] > 1e-9 for s_ in ("ARI", "AMI")}


def _best_style(col: pd.Series) -> list[str]:
    ok = clear[col.name]
    top = col[ok].max() if ok.any() else None
    return ["background-color: #c8f7c5" if (top is not None and ok[i] and v == top) else "" for i, v in col.items()]


noise_blocks = [b for b, row in shown.iterrows() if all_noise(row["clusters"], row["noise fraction"])]
if noise_blocks:
    st.warning(f"HDBSCAN left every image as noise on {', '.join(noise_blocks)}: 0 clusters, so silhouette is "
               "undefined (—) and ARI / AMI are 0. That says the clustering found no structure in this reduced "
               "space, not that the classes do not separate: try UMAP, fewer dimensions or a smaller min cluster "
               "size, and see kNN on the Block report.", icon="⚠️")
for s_ in ("ARI", "AMI"):
    if not clear[s_].any():
        st.warning(f"{s_} shows nothing for **{label}**: on every block its 95 % interval includes 0 (chance), "
                   "so no block is marked best.", icon="⚠️")
st.dataframe(shown.drop(columns=[c for c in shown.columns if c.endswith(("_low", "_high"))])
             .style.format({c: "{:.3f}" for c in ["ARI", "AMI", "silhouette", "silhouette (labels)", "noise fraction"]},
                           na_rep="—")
             .apply(_best_style, subset=["ARI", "AMI"]), width="stretch", key="clu_table")
c1, c2 = st.columns([1, 3])
with c1:
    download_csv(table, f"clustering_{label}_{reducer}{int(n_components)}", "clu_dl_table", index=False)
c2.caption(CAMERA + " Silhouette (labels) = silhouette of the true classes in the same reduced space; "
           "noise = images HDBSCAN left out (counted as one extra group in ARI / AMI).")

st.subheader("One block: clusters against classes")
ami = np.where(clear["AMI"].to_numpy(), table["AMI"].to_numpy(), -np.inf)
best = int(np.argmax(ami)) + 1 if np.isfinite(ami).any() else None
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
                     color_discrete_map=css_map(pts[by]), category_orders={by: sorted(pts[by].unique())},
                     title=f"block {block}: first two of the {int(n_components)} clustered dimensions")
    fig.update_traces(marker={"size": 6})
    st.plotly_chart(fig, width="stretch", key="clu_scatter")
with right:
    ct = pd.crosstab(pd.Series(labels, name=label), pd.Series(cluster_names, name="cluster"))
    fig = px.imshow(ct, text_auto=True, aspect="auto", color_continuous_scale="Purples", height=480,
                    title="Images per class (rows) and cluster (columns)")
    st.plotly_chart(fig, width="stretch", key="clu_crosstab")
    download_csv(ct, f"clusters_vs_{label}_block{block}", "clu_dl_crosstab")

st.subheader("Each cluster's images")
counts = pd.Series(cluster_names).value_counts()
options = sorted(counts.index, key=lambda c: (c == "noise", c))
majority = {c: pd.Series(labels[cluster_names == c]).value_counts() for c in options}
pick = st.selectbox("Cluster", options, key=f"clu_gallery_{block}",
                    format_func=lambda c: f"{c} · {counts[c]} images · mostly {majority[c].index[0]} "
                                          f"({majority[c].iloc[0] / counts[c]:.0%})")
idx = np.flatnonzero(cluster_names == pick)
st.caption(f"{pick}: " + ", ".join(f"{v} {n}" for v, n in majority[pick].items()) + f" (by {label}).")
shown_idx = idx[:48]
paths = store.paths
show_images([paths[i] for i in shown_idx], caption=[f"#{i} · {labels[i]}" for i in shown_idx], width=96)
if len(idx) > len(shown_idx):
    st.caption(f"First {len(shown_idx)} of {len(idx)} images shown.")
