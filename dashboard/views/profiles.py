"""Class profiles: mean activation per channel for each class, top channels, shared channels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.layouts.palette import css_map
from analysis.probes.profiles import class_profiles
from dashboard.links import unit_query
from dashboard.page_links import block_param, choice, integer, items, number, url_state
from dashboard.state import guard, require_store
from dashboard.widgets import CAMERA, block_select, download_csv

st.header("Class profiles")
sel, model, ds, store = require_store()
label = sel.label
st.caption(f"The mean descriptor (pooled activation per channel) of each class of **{label}**. The heatmap shows "
           "each class's most distinctive channels; click one to open its unit card. Channels high for every "
           "class (background, fabric, lighting) are flagged as shared.")

classes_all = sorted(store.labels[label].astype(str).unique())
url_state({"block": block_param("prof_block", store), "classes": items(f"prof_classes_{label}", classes_all),
           "by": choice("prof_by", ["contrast", "mean"]), "top": integer("prof_top", 1, 50),
           "shared": number("prof_quantile", 0.5, 0.99)})
c1, c2, c3, c4 = st.columns(4)
with c1:
    block = block_select(store, "Block", "prof_block")
shown = c2.multiselect("Classes shown", classes_all, default=classes_all[:10], key=f"prof_classes_{label}")
by = c3.radio("Top channels by", ["contrast", "mean"], horizontal=True, key="prof_by",
              help="contrast = class mean − mean of the other classes' means (distinctive); mean = raw mean")
n_top = c4.number_input("Top channels per class", 1, 50, 3, key="prof_top")
quantile = st.slider("Shared channel: in the top … of channels for every class", 0.5, 0.99, 0.9, 0.01,
                     key="prof_quantile", format="%.2f", help="0.90 = the top 10 % of channels of each class")


@st.cache_data(show_spinner=False, max_entries=32)
def profiles(key: str, label: str, block: int, quantile: float, _store) -> dict:
    p = class_profiles(_store.descriptors(block), _store.labels[label].astype(str).to_numpy(), shared_quantile=quantile)
    return {"classes": [str(c) for c in p.classes], "counts": p.counts, "means": p.means, "channels": p.channels,
            "top_contrast": p.top_channels(50, "contrast"), "top_mean": p.top_channels(50, "mean")}


with guard():
    p = profiles(store.key, label, block, float(quantile), store)
means = p["means"]
channels = p["channels"]
shared = channels.index[channels["shared"]].to_numpy()
x = np.arange(means.shape[1])

cmap = css_map(p["classes"])
top = p["top_contrast" if by == "contrast" else "top_mean"]
top = top[top["rank"] <= int(n_top)]
# Heatmap: classes (rows) x the union of every class's top channels (columns), each channel's class
# means z-scored across classes, so at 320 channels you still read "which class drives which channel".
cols = list(dict.fromkeys(int(c) for c in top.sort_values(["class", "rank"])["channel"]))
rows = [c for c, name in enumerate(p["classes"]) if name in shown] or list(range(len(p["classes"])))
sub = means[np.ix_(rows, cols)]
z = (sub - sub.mean(axis=0)) / (sub.std(axis=0) + 1e-12)
names = [p["classes"][c] for c in rows]
heat = go.Figure(go.Heatmap(z=z, x=[f"ch {j}" for j in cols], y=names, colorscale="RdBu_r", zmid=0,
                            colorbar={"title": "z across<br>classes"}, customdata=sub,
                            hovertemplate="%{y} · %{x}<br>class mean %{customdata:.3g} · z %{z:.2f}<extra></extra>"))
heat.update_layout(height=max(300, 34 * len(names) + 140), margin={"l": 10, "r": 10, "t": 50, "b": 10},
                   title=f"block {block}: the top {int(n_top)} channels of each class (by {by}), "
                         f"{len(cols)} of {means.shape[1]} channels",
                   xaxis={"type": "category", "tickangle": -60}, yaxis={"autorange": "reversed"})
st.plotly_chart(heat, width="stretch", key="prof_heat")
st.caption("Red: the class drives the channel more than the other classes do; blue: less. " + CAMERA)

st.markdown("**Open a top channel's unit card** (its top images, masks and what it responds to):")
for name in names:
    chans = top[top["class"] == name].sort_values("rank")["channel"].astype(int).tolist()
    row = st.columns([1.4] + [1] * len(chans))
    row[0].markdown(f"<span style='color:{cmap[name]};font-size:1.3em'>■</span> **{name}**", unsafe_allow_html=True)
    for c, j in zip(row[1:], chans):
        c.page_link("views/unit_card.py", label=f"ch {j}", query_params=unit_query(block, j, label))

with st.expander("Every channel as lines (one per class)"):
    fig = go.Figure()
    for c, name in enumerate(p["classes"]):
        if name in shown:
            fig.add_scatter(x=x, y=means[c], mode="lines", name=f"{name} ({int(p['counts'][c])})",
                            line={"width": 1.4, "color": cmap[name]})
    for j in shared:
        fig.add_vline(x=int(j), line={"color": "rgba(120,120,120,0.35)", "width": 6})
    fig.update_layout(height=440, title=f"block {block}: mean activation per channel and class"
                      + (f" · grey bands = {len(shared)} shared channel(s)" if len(shared) else ""),
                      xaxis_title="channel", yaxis_title="mean pooled activation", hovermode="x unified")
    st.plotly_chart(fig, width="stretch", key="prof_lines")

left, right = st.columns(2)
with left:
    st.markdown(f"**Top {int(n_top)} channels per class** (by {by})")
    wide = top.pivot(index="class", columns="rank", values="channel")
    wide.columns = [f"#{r}" for r in wide.columns]
    st.dataframe(wide, width="stretch", key="prof_top_table")
    download_csv(top, f"top_channels_block{block}_{label}_{by}", "prof_dl_top", index=False)
with right:
    st.markdown(f"**Shared channels** (top {100 * (1 - quantile):.0f} % for every class): {len(shared)}")
    if len(shared):
        st.dataframe(channels.loc[shared, ["channel", "overall_mean", "selectivity", "eta_squared"]]
                     .style.format({"overall_mean": "{:.3g}", "selectivity": "{:.2f}", "eta_squared": "{:.2f}"}),
                     hide_index=True, width="stretch", key="prof_shared")
    else:
        st.caption("No channel is in the top group for every class at this threshold; lower it to find "
                   "the ones that fire for everything.")

with st.expander("Every channel: preferred class, selectivity, η² (share of variance explained by the class)"):
    table = channels.sort_values("eta_squared", ascending=False, na_position="last")
    st.dataframe(table.style.format({"overall_mean": "{:.3g}", "selectivity": "{:.2f}", "eta_squared": "{:.3f}"}),
                 hide_index=True, width="stretch", height=320, key="prof_channels")
    download_csv(channels, f"channels_block{block}_{label}", "prof_dl_channels", index=False)
    means_df = pd.DataFrame(means, index=p["classes"], columns=[f"ch{j}" for j in x])
    download_csv(means_df, f"class_means_block{block}_{label}", "prof_dl_means", "⬇️ Class means (CSV)")
