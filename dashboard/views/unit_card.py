"""Unit card: one channel of one block — its top dataset images with masks, neuron feature,
colour / class selectivity, activation histogram, activation-maximisation image and a permalink."""
from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.inspect.featureviz.channel_images import AMSettings, is_cached
from analysis.inspect.masks import DEFAULT_LEVELS
from analysis.inspect.units import card_masks, unit_card
from analysis.pictures import hstack_images
from dashboard import links
from dashboard.channel_shared import (
    FULL_STEPS,
    am_caption,
    am_table,
    am_units,
    mask_reference,
    png_button,
    preview_steps,
)
from dashboard.page_links import link_values, sidebar_query, write_url
from dashboard.query import warn_ignored
from dashboard.state import guard, require_store

st.header("Unit card")
sel, model, ds, store = require_store()
n_blocks = len(model.blocks)
columns = list(store.labels.columns)
KEYS = {"block": "uc_block", "channel": "uc_channel", "label": "uc_label"}

# --- Permalink in: apply a link's block / channel / label (only values this app did not write itself).
url_now = link_values(KEYS)
if url_now:
    link = links.parse_unit_link(url_now, [b.channels for b in model.blocks], columns)
    if link.problems:
        warn_ignored(link.problems)  # URL values echoed as plain text, never markdown
    for name, value in (("block", link.block), ("channel", link.channel), ("label", link.label)):
        if value is not None:
            st.session_state[KEYS[name]] = value
st.session_state.setdefault("uc_block", n_blocks)
st.session_state.setdefault("uc_label", sel.label if sel.label in columns else columns[0])
if st.session_state["uc_label"] not in columns:
    st.session_state["uc_label"] = columns[0]


@st.cache_data(max_entries=16, show_spinner="Building the unit card…")
def card_of(store_key: str, block: int, channel: int, label: str, k: int, q: float, nf_mode: str, _model, _store,
            _ref):
    lab = _store.labels[label].tolist()
    card = unit_card(_model, block, channel, np.asarray(_store.descriptors(block)[:, channel]), _store.paths,
                     labels=lab, k=k, quantile=q, reference=_ref, nf_mode=nf_mode)
    # The upsample-and-threshold masks of the same maps and threshold, shown beside the true-RF ones.
    return (card, *card_masks(card, _model.block(block), "upsample"))


c1, c2, c3, c4, c5 = st.columns([1.4, 1, 1.2, 1.2, 1.2])
block = c1.selectbox("Block", range(1, n_blocks + 1), key="uc_block",
                     format_func=lambda b: f"block {b} · {model.blocks[b - 1].channels} channels")
blk = model.block(block)
if st.session_state.get("uc_channel", 0) >= blk.channels or "uc_channel" not in st.session_state:
    st.session_state["uc_channel"] = min(st.session_state.get("uc_channel", 0), blk.channels - 1)  # block changed
channel = int(c2.number_input("Channel", 0, blk.channels - 1, key="uc_channel"))
label = c3.selectbox("Label column (class selectivity)", columns, key="uc_label")
k = int(c4.slider("Top images", 4, 16, 9, key="uc_k"))
q = c5.select_slider("Mask threshold (dataset quantile)", DEFAULT_LEVELS, value=0.9, key="uc_q")
nf_mode = st.session_state.get("uc_nf", "image")  # its radio sits under the neuron feature

# --- Permalink out: the URL always holds the card on screen.
query = links.unit_query(block, channel, label)
write_url(query)
base = (st.context.url or "").split("?")[0] or "/unit_card"
st.markdown("**Permalink** — reopens this card, with this model and dataset:")
st.code(f"{base}?" + urlencode({**query, **sidebar_query()}, safe=":,"), language=None)

with guard():
    ref = mask_reference(model, store, block)
    card, up_masks, up_masked = card_of(store.key, block, channel, label, k, float(q), nf_mode, model, store, ref)

st.subheader(f"block {block} · channel {channel}")
st.caption(f"{blk.module} · {blk.channels} channels · stride {blk.stride} · receptive field {blk.receptive_field} px"
           f"{' (whole image)' if blk.rf_global else ''} · {store.n} images · model {model.name}")
m = st.columns(5)
m[0].metric("Colour selectivity", f"{card.colour_index:.2f}",
            help="Mean relative chroma of the neuron feature: 0 = grey, 1 = fully saturated colour.")
m[1].metric(f"Class selectivity ({label})", "n/a" if np.isnan(card.class_index) else f"{card.class_index:.2f}",
            help="1 − normalised entropy of the classes of the top images: 1 = all one class, 0 = evenly spread.")
m[2].metric("Dataset max", f"{card.dataset_max:.3f}", help="Largest descriptor (mean activation) over the dataset.")
m[3].metric("Dataset mean", f"{card.dataset_mean:.3f}")
m[4].metric("Mask threshold", f"{card.threshold:.3f}", help=f"The {q:g} quantile of this channel's activations "
            f"over {ref.n_images} dataset images.")

st.markdown(f"**Top {len(card.top_indices)} dataset images** (index · mean activation · {label}) and their binary "
            f"masks: positions above {card.threshold:.3g} uncover their receptive field ({blk.receptive_field} px), "
            "then the same map upsampled and thresholded")
tops = [f"#{int(i)} · {v:.2f} · {lab}" for i, v, lab in zip(card.top_indices, card.top_values, card.top_labels)]
st.image(list(card.images), caption=tops, width=112)
st.image(list(card.masked), caption=[f"receptive fields · {mk.mean():.0%}" for mk in card.masks], width=112)
st.image(list(up_masked), caption=[f"upsample · {mk.mean():.0%}" for mk in up_masks], width=112)

left, mid, right = st.columns([1, 1, 1.4])
with left:
    st.image(card.neuron_feature, caption=f"Neuron feature: activation-weighted mean of the top {len(card.top_indices)}"
             + (" (whole crops)" if nf_mode == "image" else " (receptive-field patches at each peak)"), width="stretch")
    st.radio("Neuron feature from", ["image", "patch"], horizontal=True, key="uc_nf",
             format_func={"image": "whole crops", "patch": "peak patches"}.get,
             help="Patches: the receptive field around each top image's strongest position (Rafegas et al.); "
                  "sharper for early blocks.")
with mid:
    with guard():
        full_s = AMSettings(steps=FULL_STEPS)
        have_full = is_cached(model, block, [channel], full_s)
        if not have_full and st.button(f"Full render ({FULL_STEPS} steps)", key="uc_full"):
            am_units(model, block, [channel], full_s, "Full render")
            have_full = True
        settings = full_s if have_full else AMSettings(steps=preview_steps())
        unit = am_units(model, block, [channel], settings, "Activation maximization")[0]
        row = am_table(store, block, [unit]).iloc[0]
    st.image(unit.image, caption=f"Activation maximization ({settings.steps} steps) · {am_caption(row)}",
             width="stretch")
with right:
    if card.class_counts is not None:
        counts = card.class_counts.sort_values(ascending=True)
        fig = go.Figure(go.Bar(x=counts.values, y=[str(i) for i in counts.index], orientation="h"))
        fig.update_layout(height=260, margin={"t": 40, "b": 30, "l": 10}, title=f"{label} of the top images",
                          title_font_size=13, xaxis_title="images")
        st.plotly_chart(fig, width="stretch")

edges, counts = card.hist_edges, card.hist_counts
hist = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), name="images",
                        marker_color="#4c78a8"))
hist.add_vline(x=float(card.top_values.min()), line_dash="dash", line_color="#e45756",
               annotation_text=f"top {len(card.top_values)}")
hist.add_vline(x=float(unit.activation), line_dash="dot", line_color="#54a24b", annotation_text="AM image",
               annotation_position="top left")
hist.update_layout(height=280, margin={"t": 40, "b": 40}, title=f"Mean activation of channel {channel} over "
                   f"the {store.n} dataset images", xaxis_title="mean activation (descriptor)",
                   yaxis_title="images", title_font_size=13, bargap=0)
st.plotly_chart(hist, width="stretch")
st.caption("Figures: PNG via the chart's camera button.")

table = pd.DataFrame({"index": card.top_indices, "activation": card.top_values, label: card.top_labels,
                      "rf_mask_coverage": card.masks.mean(axis=(1, 2)),
                      "upsample_mask_coverage": up_masks.mean(axis=(1, 2)), "path": card.top_paths})
d1, d2, d3 = st.columns(3)
with d1:
    st.download_button("Top images (CSV)", table.to_csv(index=False), f"unit_b{block}_c{channel}.csv", "text/csv")
with d2:
    png_button("Top images + masks (PNG)", np.concatenate([hstack_images(list(rows), 112) for rows in
                                                           (card.images, card.masked, up_masked)]),
               f"unit_b{block}_c{channel}_top.png", "uc_png_top")
with d3:
    png_button("Neuron feature + AM (PNG)", hstack_images([card.neuron_feature, unit.image], 224),
               f"unit_b{block}_c{channel}_nf_am.png", "uc_png_nf")
st.page_link("views/channels.py", label=f"Channel explorer at block {block} · channel {channel}", icon="🔬",
             query_params={"block": str(block), "channel": str(channel), "view": "masks"})
