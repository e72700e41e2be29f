"""Compare models: the block report of several models on the same images, over normalised depth."""
from __future__ import annotations

import numpy as np
import plotly.express as px
import streamlit as st

from analysis.models.model import BUILTIN
from analysis.probes.compare import compare_models
from analysis.probes.report_store import LABELS
from dashboard.page_links import choice, items, url_state
from dashboard.state import compute_store, current, get_model, get_store, guard
from dashboard.widgets import CAMERA, download_csv, progress_bar

PRIMARY = ["knn", "prototype_euclidean", "prototype_cosine", "precision", "logme"]

st.header("Compare models")
sel, model, ds = current()
st.caption(f"{ds.name} · {len(ds)} images. Every model's block report on the same images and label columns "
           "(kNN, prototypes, P@10 with 95 % bootstrap intervals, LogME), blocks placed at depth i / N so models "
           "with different numbers of blocks share one axis. Clustering is off here (it is on the Block report page).")

choices = list(dict.fromkeys([sel.model, *BUILTIN]))
columns = list(ds.label_columns)
url_state({"models": items("cmp_models", choices), "labels": items("cmp_labels", columns),
           "score": choice("cmp_primary", PRIMARY)})
st.session_state.setdefault("cmp_models", choices[:2])
st.session_state.setdefault("cmp_labels", [sel.label] if sel.label in columns else columns[:1])
st.session_state.setdefault("cmp_primary", "knn")
# The sidebar model or dataset may have changed since: keep only what is still offered.
st.session_state["cmp_models"] = [m for m in st.session_state["cmp_models"] if m in choices]
st.session_state["cmp_labels"] = [c for c in st.session_state["cmp_labels"] if c in columns]

c1, c2, c3 = st.columns([3, 3, 2])
names = c1.multiselect("Models (the sidebar model and the offline built-ins)", choices, key="cmp_models")
labels = c2.multiselect("Label columns", columns, key="cmp_labels")
primary = c3.selectbox("Best by", PRIMARY, format_func=LABELS.get, key="cmp_primary")

if len(names) < 2 or not labels:
    st.info("Pick at least two models and one label column.")
    st.stop()

with guard():
    models = {n: (model if n == sel.model else get_model(n, None)) for n in names}
stores = {n: get_store(m, ds) for n, m in models.items()}
missing = [n for n, s in stores.items() if s is None]
if missing:
    st.info(f"No descriptors yet for {', '.join(missing)} on this dataset.")
    if st.button(f"Compute descriptors for {len(missing)} model(s)", type="primary", key="cmp_compute"):
        with guard():
            for n in missing:
                stores[n] = compute_store(models[n], ds)
        st.rerun()
    st.stop()


@st.cache_data(show_spinner=False, max_entries=16)
def comparison(keys: tuple, labels: tuple, primary: str, _stores: dict):
    with progress_bar("Block reports") as update:
        return compare_models(_stores, list(labels), primary=primary, progress=update)


with guard():
    cmp = comparison(tuple(s.key for s in stores.values()), tuple(labels), primary, stores)

name = LABELS[primary]
t = cmp.table
for label in labels:
    st.subheader(f"`{label}`")
    sub = t[t["label"] == label].copy()
    has_ci = sub[f"{primary}_low"].notna().any()
    sub["plus"] = sub[f"{primary}_high"] - sub[primary]
    sub["minus"] = sub[primary] - sub[f"{primary}_low"]
    fig = px.line(sub, x="depth", y=primary, color="model", markers=True, hover_data=["block", "channels"],
                  error_y="plus" if has_ci else None, error_y_minus="minus" if has_ci else None, height=360,
                  title=f"{name} over normalised depth (block i of N) · {label}")
    fig.update_xaxes(title="depth (block i / N)", range=[0, 1.05])
    fig.update_yaxes(title=name)
    st.plotly_chart(fig, width="stretch", key=f"cmp_curve_{label}")
    b = cmp.best[cmp.best["label"] == label].iloc[0]
    ci = f" [{b['low']:.3f}, {b['high']:.3f}]" if np.isfinite(b["low"]) else ""
    st.success(f"Best for `{label}` by {name}: **{b['model']} · {b['block']}** ({b['channels']} channels) — "
               f"{b['value']:.3f}{ci}" + (f". Not clearly worse (intervals overlap): {b['not_clearly_worse']}."
                                         if b["not_clearly_worse"] else ". No other (model, block) overlaps it."))
    if primary != "logme" and "logme" in sub:
        r = cmp.rank[cmp.rank["label"] == label]
        rho = float(r.iloc[0, 1]) if len(r) else float("nan")
        st.caption(f"LogME (no training) vs {name} over all {len(sub)} (model, block) pairs: Spearman ρ = {rho:.2f}."
                   if np.isfinite(rho) else "LogME rank correlation needs 3 or more (model, block) pairs.")

st.subheader("Cost per model")
cost = cmp.cost.rename(columns={"chosen_blocks": "chosen block(s)", "channels_of_chosen": "channels",
                                "images_per_second": "img/s at extraction", "extraction_seconds": "extraction s"})
# Static tables: a few rows per model need no data grid (a heavy script for the browser to load and draw).
st.table(cost.style.format({"img/s at extraction": "{:.1f}", "extraction s": "{:.1f}"}, na_rep="—"), hide_index=True)
st.caption("img/s is what the extraction measured (cache manifest): on the device and precision shown; "
           "re-extract on the same device to compare speed fairly. " + CAMERA)
shown = ["label", "model", "block", "depth", "channels"] + [c for c in ("knn", "knn_low", "knn_high", "prototype_euclidean",
                                                                        "precision", "logme") if c in t]
st.table(t[shown].style.format("{:.3f}", subset=shown[5:], na_rep="—").format("{:.2f}", subset=["depth"]),
         hide_index=True, height="content" if len(t) <= 20 else 600)  # many models: scroll
d1, d2 = st.columns(2)
with d1:
    download_csv(t, "compare_models", "cmp_dl", label="⬇️ every score (CSV)", index=False)
with d2:
    download_csv(cmp.cost, "compare_cost", "cmp_dl_cost", label="⬇️ cost (CSV)", index=False)
