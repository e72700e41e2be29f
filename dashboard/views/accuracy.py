"""Accuracy explorer: nearest prototype, kNN, kNN in UMAP spaces and a linear probe, per block."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from analysis.descriptors.results_cache import cached_json
from analysis.probes.classifiers import knn_cv, linear_probe_cv, prototype_cv, umap_knn_cv
from analysis.probes.folds import plan_folds
from analysis.probes.reduction import default_dims
from dashboard.page_links import block_param, choice, flag, integer, numbers, url_state
from dashboard.state import guard, page_seed, require_store
from dashboard.widgets import (
    CAMERA,
    block_select,
    download_csv,
    fold_note,
    parse_ints,
    progress_bar,
)

METRICS = ["euclidean", "cosine"]

st.header("Accuracy explorer")
sel, model, ds, store = require_store()
label = sel.label
st.caption(f"How well does each block's descriptor predict **{label}**? Stratified K-fold cross-validation: every "
           "image is predicted once by a probe that never saw it. Nothing is trained except the optional linear probe.")

url_state({"folds": integer("acc_folds", 2, 10), "ks": numbers("acc_ks"), "metric": choice("acc_metric", METRICS),
           "linear": flag("acc_linear"), "block": block_param("acc_block", store)})
c1, c2, c3, c4 = st.columns([1, 2, 2, 2])
folds = c1.number_input("Folds", 2, 10, 5, key="acc_folds")
ks_text = c2.text_input("k values (kNN)", "1, 2, 4, 8, 16", key="acc_ks", help="comma-separated, e.g. 1, 4, 16")
metric = c3.radio("Distance", METRICS, horizontal=True, key="acc_metric")
linear = c4.checkbox("Linear probe too (slower)", False, key="acc_linear",
                     help="StandardScaler + logistic regression fitted on each training fold")
seed = page_seed()

with guard():
    asked = parse_ints(ks_text, "k values")
    y = store.labels[label].to_numpy()
    plan = plan_folds(y, n_splits=int(folds), random_state=seed)
fold_note(plan.message)
ks = plan.usable_ks(asked)
if len(ks) < len(asked):
    st.warning(f"k = {', '.join(str(k) for k in asked if k not in ks)} left out: the smallest training fold has "
               f"{plan.min_train_size} images.")
if not ks:
    st.error("No usable k value: use smaller k values.")
    st.stop()


@st.cache_data(show_spinner=False, max_entries=32)
def over_blocks(key: str, label: str, n_splits: int, ks: tuple, metric: str, linear: bool, seed: int, _store) -> pd.DataFrame:
    """One row per (block, method): accuracy (mean over folds), fold std, top-5 for kNN."""
    y = _store.labels[label].to_numpy()
    plan = plan_folds(y, n_splits=n_splits, random_state=seed)
    rows = []
    with progress_bar("Accuracy per block") as update:
        blocks = _store.block_arrays()
        for i, (name, X) in enumerate(blocks.items()):
            update(2 * i, 2 * len(blocks), name)
            r = prototype_cv(X, y, metric, plan=plan)
            rows.append({"block": name, "method": "prototype", "k": np.nan, "accuracy": r.mean, "std": r.std})
            t = knn_cv(X, y, list(ks), [metric], plan=plan).table
            rows += [{"block": name, "method": f"kNN k={int(k)}", "k": k, "accuracy": a, "std": s, "top5": t5}
                     for k, a, s, t5 in zip(t["k"], t["accuracy"], t["std"], t["top5"])]
            if linear:
                update(2 * i + 1, 2 * len(blocks), f"{name}: linear probe")
                r = linear_probe_cv(X, y, plan=plan, random_state=seed)
                rows.append({"block": name, "method": "linear probe", "k": np.nan, "accuracy": r.mean, "std": r.std,
                             "converged": r.params["converged"]})
    return pd.DataFrame(rows)


@st.cache_data(show_spinner=False, max_entries=32)
def block_detail(key: str, label: str, block: int, n_splits: int, ks: tuple, metric: str, method: str, seed: int,
                 _store) -> dict:
    """Per-class accuracy and confusion matrix of one probe on one block, and the k × metric table."""
    X, y = _store.descriptors(block), _store.labels[label].to_numpy()
    plan = plan_folds(y, n_splits=n_splits, random_state=seed)
    knn = knn_cv(X, y, list(ks), plan=plan)
    if method == "prototype":
        r = prototype_cv(X, y, metric, plan=plan)
    elif method == "linear probe":
        with progress_bar("Linear probe") as update:
            r = linear_probe_cv(X, y, plan=plan, random_state=seed, progress=update)
    else:
        r = knn.results[(metric, int(method.split("=")[1]))]
    return {"per_class": r.per_class, "confusion": r.confusion, "classes": [str(c) for c in r.classes],
            "knn_table": knn.table, "accuracy": r.mean, "std": r.std}


@st.cache_data(show_spinner=False, max_entries=16)
def reduced_knn(key: str, label: str, block: int, dims: tuple, ks: tuple, n_splits: int, seed: int, _store) -> pd.DataFrame:
    """kNN in UMAP spaces fitted on each training fold; expensive, so also kept on disk."""
    parts = {"store": key, "label": label, "block": block, "dims": list(dims), "ks": list(ks), "folds": n_splits,
             "seed": seed, "v": 1}

    def compute():
        with progress_bar(f"UMAP + kNN, block {block}") as update:
            t = umap_knn_cv(_store.descriptors(block), _store.labels[label].to_numpy(), dims=list(dims),
                            ks=list(ks), n_splits=n_splits, random_state=seed, progress=update).table
        return t.to_dict(orient="list")

    return pd.DataFrame(cached_json("umap_knn", parts, compute))


st.subheader("Accuracy over blocks")
with guard():
    table = over_blocks(store.key, label, int(folds), tuple(ks), metric, linear, seed, store)
fig = px.line(table, x="block", y="accuracy", color="method", markers=True, error_y="std",
              title=f"{label}: cross-validated accuracy per block ({metric}; bars = fold std)", height=380)
fig.update_yaxes(range=[0, 1.02])
st.plotly_chart(fig, width="stretch", key="acc_curve")
wide = table.pivot(index="block", columns="method", values="accuracy").reindex([b.name for b in store.blocks])
wide = wide[[m for m in ["prototype"] + [f"kNN k={k}" for k in ks] + ["linear probe"] if m in wide]]
st.dataframe(wide.style.format("{:.3f}").highlight_max(axis=0, color="#c8f7c5"), width="stretch", key="acc_wide")
c1, c2 = st.columns([1, 3])
with c1:
    download_csv(table, f"accuracy_{label}_{metric}", "acc_dl_blocks", index=False)
c2.caption(CAMERA + " Best block per method highlighted.")
if linear and "converged" in table and not table["converged"].dropna().all():
    st.info("The linear probe did not fully converge on every fold (max_iter reached); its numbers are a lower bound.")

st.subheader("One block in detail")
# Default: the best (block, probe) cell of the table above.
best_row, best_col = np.unravel_index(int(np.nanargmax(wide.to_numpy())), wide.shape)
c1, c2 = st.columns(2)
with c1:
    block = block_select(store, "Block", "acc_block", default=int(best_row) + 1)
methods = ["prototype"] + [f"kNN k={k}" for k in ks] + (["linear probe"] if linear else [])
url_state({"probe": choice("acc_method", methods)})
method = c2.selectbox("Probe", methods, index=methods.index(wide.columns[best_col]), key="acc_method")
with guard():
    d = block_detail(store.key, label, block, int(folds), tuple(ks), metric, method, seed, store)
st.markdown(f"**block {block} · {method} ({metric})**: accuracy {d['accuracy']:.3f} ± {d['std']:.3f} (fold std)")
left, right = st.columns(2)
with left:
    pc = d["per_class"]
    fig = px.bar(pc, x="class", y="accuracy", hover_data=["n", "correct"], title="Per-class accuracy (recall)",
                 height=380)
    fig.update_yaxes(range=[0, 1.02])
    st.plotly_chart(fig, width="stretch", key="acc_per_class")
    download_csv(pc, f"per_class_block{block}_{label}", "acc_dl_per_class", index=False)
with right:
    cm = pd.DataFrame(d["confusion"], index=d["classes"], columns=d["classes"])
    fig = px.imshow(cm, text_auto=True, color_continuous_scale="Blues", aspect="auto", height=420,
                    labels={"x": "predicted", "y": "true", "color": "images"}, title="Confusion matrix (rows = true class)")
    st.plotly_chart(fig, width="stretch", key="acc_confusion")
    download_csv(cm, f"confusion_block{block}_{label}", "acc_dl_confusion")
with st.expander("kNN: every k × metric on this block (top-1 and top-5)"):
    kt = d["knn_table"]
    st.dataframe(kt.style.format({"accuracy": "{:.3f}", "std": "{:.3f}", "top5": "{:.3f}", "top5_std": "{:.3f}"}),
                 width="stretch", hide_index=True, key="acc_knn_table")
    download_csv(kt, f"knn_block{block}_{label}", "acc_dl_knn", index=False)

st.subheader("kNN in a UMAP-reduced space")
st.caption("UMAP fitted on the training folds only, test images transformed into it: how much of the accuracy "
           "survives in a few dimensions. One UMAP fit per fold and dimension, so it takes a while; results are "
           "kept on disk.")
channels = store.blocks[block - 1].channels
options = default_dims(channels, 1024, n_images=plan.min_train_size)  # fitted on a training fold
c1, c2 = st.columns([3, 1])
dims = c1.multiselect("Dimensions", options, default=[d for d in (2, 8, 32) if d in options][:3] or options[:1],
                      key="acc_dims")
run = c2.toggle("Compute", False, key="acc_umap_on", help="off by default: it fits one UMAP per fold and dimension")
if run and dims:
    uks = tuple(k for k in ks if k in (1, 4, 16)) or (ks[0],)
    with guard():
        red = reduced_knn(store.key, label, block, tuple(sorted(dims)), uks, int(folds), seed, store)
    fig = go.Figure()
    for k in sorted(red["k"].unique()):
        part = red[red["k"] == k]
        fig.add_scatter(x=part["dim"], y=part["accuracy"], mode="lines+markers", name=f"UMAP kNN k={int(k)}",
                        error_y={"type": "data", "array": part["std"]})
    ref = table[(table["block"] == f"block {block}") & (table["method"].str.startswith("kNN"))]["accuracy"].max()
    fig.add_hline(y=ref, line_dash="dash", annotation_text=f"original space, best kNN ({metric}) {ref:.3f}")
    fig.update_layout(title=f"block {block}: kNN accuracy after UMAP to d dimensions", height=380,
                      xaxis={"title": "UMAP dimensions", "type": "log"}, yaxis={"title": "accuracy", "range": [0, 1.02]})
    st.plotly_chart(fig, width="stretch", key="acc_umap")
    download_csv(red, f"umap_knn_block{block}_{label}", "acc_dl_umap", index=False)
