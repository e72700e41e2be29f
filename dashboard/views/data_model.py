"""Data & model: class counts, thumbnails per class, the model's blocks, cache status, compute."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from dashboard.page_links import integer, url_state
from dashboard.safe_io import show_images
from dashboard.state import compute_store, current, get_store, guard, status_text, store_problem

st.header("Data & model")
sel, model, ds = current()

left, right = st.columns([3, 2])
with left:
    st.subheader(f"Dataset · {ds.name}")
    st.caption(f"{len(ds)} images · label columns: {', '.join(ds.label_columns)} · {ds.root}")
    for w in ds.warnings:
        st.warning(w)
    if ds.problems:
        with st.expander(f"⚠️ {len(ds.problems)} file(s) skipped — click to see which and why"):
            st.dataframe(pd.DataFrame([p.__dict__ for p in ds.problems]), hide_index=True, width="stretch")
    if sel.label:
        counts = ds.class_counts(sel.label).rename("images").reset_index()
        counts.columns = [sel.label, "images"]
        fig = px.bar(counts, x=sel.label, y="images", title=f"Images per class ({sel.label})", height=300)
        st.plotly_chart(fig, width="stretch")
with right:
    st.subheader(f"Model · {model.name}")
    st.caption(f"timm `{model.arch}` · weights `{model.weights_id}` · device `{model.device}` · input "
               f"{model.input_size}px, {model.data_config['interpolation']}, crop {model.data_config['crop_pct']}")
    blocks = pd.DataFrame([{
        "block": b.name, "module": b.module, "channels": b.channels, "stride": b.stride,
        "receptive field (px)": f"whole image (≥{b.receptive_field})" if b.rf_global else b.receptive_field,
    } for b in model.blocks])
    st.table(blocks.set_index("block"))

st.subheader("Descriptors")
store = get_store(model, ds)  # held by st.cache_resource: verified once, not on every rerun
if store is not None:
    prov = store.manifest["provenance"]
    engine = f"{prov['engine']} " if prov.get("engine") else ""  # entries made before engines had none
    st.success(f"Cached: {store.n} images × {len(store.blocks)} blocks · computed on {prov['device']} with "
               f"{engine}{prov['dtype']} ({prov['images_per_second']} img/s) · {prov['time']}")
    if prov.get("engine_notes"):  # why an engine was skipped, refused (fidelity) or fell back to torch
        st.caption("Engine choice: " + "; ".join(prov["engine_notes"]))
    for f in store.failures:
        st.warning(f"Unreadable, left out: {f['path']} — {f['reason']}")
else:
    status, note = status_text(model, ds)
    st.info({"partial": f"Partly computed ({note}). Press the button to finish.",
             "missing": "Not computed yet for this model and dataset."}.get(status, note or status))
    problem = store_problem(model, ds)
    if problem:
        st.warning(problem)
    if st.button("Compute descriptors", type="primary"):
        with guard():
            store = compute_store(model, ds)
        st.success(f"Done: {store.n} images.")
        st.rerun()

if sel.label:
    st.subheader(f"Thumbnails per class ({sel.label})")
    url_state({"per_class": integer("thumbs_per_class", 2, 16)})
    per_class = st.slider("Images per class", 2, 16, 8, key="thumbs_per_class")
    labels = ds.labels[sel.label]
    for cls in sorted(labels.unique())[:40]:
        idx = labels.index[labels == cls][:per_class]
        st.markdown(f"**{cls}** · {int((labels == cls).sum())} images")
        show_images([ds.paths[i] for i in idx], width=84)
