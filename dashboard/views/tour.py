"""Tour: the study's finding in five steps on the built-in model and data, each a short text and
the one live view that proves it. Every number is computed (analysis.tour + the cached results
the other pages use), never written in."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analysis.data.images import load_image
from analysis.inspect.featureviz.channel_images import AMSettings, cached_units
from analysis.inspect.units import unit_card
from analysis.layouts.cached import UMAP_DEFAULTS, aligned_maps, grid_layout, store_thumbnails
from analysis.layouts.palette import PALETTE, colour_map, rgb_css
from analysis.layouts.thumbgrid import render_grid
from analysis.probes.report_store import cached_block_report
from analysis.tour import (
    BUILTIN_MODEL,
    TOUR_DATA,
    most_telling_channel,
    neighbours_row,
    peak,
    report_settings,
    rf_picture,
    typical_query,
)
from analysis.warm import TOUR_AM_STEPS as AM_STEPS  # the unit card preview's: one cached image
from dashboard.links import unit_query
from dashboard.page_links import integer, url_state
from dashboard.safe_io import show_images
from dashboard.state import compute_store, get_dataset, get_model, get_store, guard

STEPS = ("What a block is", "Colour separates early", "Pattern separates late", "What one channel responds to",
         "Choose a block for your own data")

st.header("Tour: what the blocks of a network see")
sel = st.session_state.get("selection")
# The built-in model and data; the sidebar's garments variant (e.g. the 200-image demo) when one is chosen.
spec = sel.data if sel is not None and str(sel.data).startswith("garments") else TOUR_DATA
with guard():
    model = get_model(BUILTIN_MODEL, None)
    ds = get_dataset(spec)
    store = get_store(model, ds)
if store is None:
    st.info(f"The tour needs the descriptors of {BUILTIN_MODEL} on `{spec}` ({len(ds)} images). `run.sh` "
            "computes them before the app opens; here it takes a minute or two on a laptop.")
    if st.button("Compute them now", key="tour_compute", type="primary"):
        with guard():
            compute_store(model, ds)
        st.rerun()
    st.stop()

url_state({"step": integer("tour_step", 1, len(STEPS), shift=-1)})  # ?step=1..5
step = int(st.session_state.setdefault("tour_step", 0))
step = min(max(step, 0), len(STEPS) - 1)


def go_to(i: int) -> None:
    st.session_state["tour_step"] = min(max(i, 0), len(STEPS) - 1)


# The step's title as markdown above a bare bar: markdown is drawn as soon as it arrives, while the
# bar is a lazily loaded element (on a first visit revealed only once the page's other lazily loaded
# parts, the picture among them, have come from the server).
st.markdown(f"Step {step + 1} of {len(STEPS)}: **{STEPS[step]}**")
st.progress((step + 1) / len(STEPS))
nav = st.columns([1, 1, 6])
nav[0].button("← Previous", key="tour_prev", disabled=step == 0, on_click=go_to, args=(step - 1,), width="stretch")
nav[1].button("Next →", key="tour_next", disabled=step == len(STEPS) - 1, on_click=go_to, args=(step + 1,),
              type="primary", width="stretch")
nav[2].caption(f"{model.name} · `{ds.name}` · {store.n} images · {len(store.blocks)} blocks")
labels = list(store.labels.columns)
COLOUR = "colour" if "colour" in labels else labels[0]
PATTERN = "pattern" if "pattern" in labels else labels[-1]


@st.cache_data(show_spinner="Block report (computed once, then read from disk)…", max_entries=8)
def report(key: str, label: str, _store):
    return cached_block_report(_store, label, **report_settings(_store.n))


@st.cache_data(show_spinner="Laying the images out on a grid (once)…", max_entries=8)
def grid_picture(key: str, block: str, label: str, _store) -> tuple[np.ndarray, float, dict]:
    maps = aligned_maps(_store, UMAP_DEFAULTS)
    layout, _ = grid_layout(_store, block, UMAP_DEFAULTS, maps)
    thumbs = store_thumbnails(_store)
    values = _store.labels[label].astype(str).to_numpy()
    cmap = colour_map(values)
    pic = render_grid(layout, lambda i: thumbs[i], thumb=24, border_colours=[cmap[v] for v in values], border=3)
    return pic, layout.quality, cmap


def legend(cmap: dict) -> str:
    return " ".join(f"<span style='color:{rgb_css(c)}'>■</span> {name}" for name, c in cmap.items())


def show_grid(block: str, label: str, caption: str) -> None:
    pic, quality, cmap = grid_picture(store.key, block, label, store)
    st.image(pic, width="stretch")
    st.markdown(f"<small>{caption} Border = **{label}**: {legend(cmap)} · neighbourhood preservation "
                f"{quality:.2f}</small>", unsafe_allow_html=True)


def score_curves(reports: list) -> go.Figure:
    fig = go.Figure()
    for r, colour in zip(reports, ("#d62728", "#1f77b4", "#2ca02c")):
        t = r.table
        fig.add_scatter(x=list(t.index), y=t["knn"], mode="lines+markers", name=f"{r.label} (kNN)",
                        line={"color": colour, "width": 3},
                        error_y={"type": "data", "symmetric": False, "array": t["knn_high"] - t["knn"],
                                 "arrayminus": t["knn"] - t["knn_low"]})
        fig.add_scatter(x=list(t.index), y=[r.chance.get("knn", np.nan)] * len(t), mode="lines",
                        name=f"{r.label}: chance", line={"color": colour, "dash": "dot", "width": 1})
    fig.update_layout(height=340, margin={"t": 40, "b": 10}, yaxis={"range": [0, 1.02], "title": "kNN accuracy"},
                      title="How well each block's descriptors predict the label (kNN, 95 % intervals)")
    return fig


# ----------------------------------------------------------------------------- the steps


def blocks_table(blocks) -> str:
    """The blocks as a markdown table, each with the colour its square has in the picture beside it.

    Markdown rather than st.dataframe: a first visit of the Tour opens on this step, and the data grid
    is a heavy script for the browser to load and draw for five short rows."""
    rows = ["| block | channels | stride | receptive field (px) | colour |", "|:--|--:|--:|--:|:-:|"]
    for i, b in enumerate(blocks):
        swatch = f"<span style='color:{rgb_css(PALETTE[i % len(PALETTE)])}'>■</span>"
        rf = f"{b.receptive_field}{'+' if b.rf_global else ''}"
        rows.append(f"| {b.name.replace('|', '/')} | {b.channels} | {b.stride} | {rf} | {swatch} |")
    return "\n".join(rows)


def step_blocks() -> None:
    blocks = model.blocks
    first, last = blocks[0], blocks[-1]
    size = model.input_size
    st.markdown(
        f"A network is a stack of **blocks**. Each block turns the image into a stack of feature maps, one per "
        f"**channel**. Going deeper, every position sees a larger part of the image (its **receptive field**): "
        f"in {model.name}, {first.name} sees **{first.receptive_field} px** of the {size} px input, {last.name} "
        f"**{last.receptive_field} px**{' (the whole image)' if last.rf_global or last.receptive_field >= size else ''}"
        f". Small fields can only see colour and fine texture; large ones can see patterns and shapes. "
        f"LayerScope averages each channel over the image (global average pooling): one number per channel, one "
        f"**descriptor** per block and image.")
    left, right = st.columns([1, 1.3])
    with left:
        img = model.preprocess_display(load_image(store.paths[0]))
        st.image(rf_picture(img, blocks), caption="Receptive field of the centre position of each block", width=320)
    with right:
        st.markdown(blocks_table(blocks), unsafe_allow_html=True)
        st.caption("Channels grow as the maps shrink (stride = input pixels per map position).")


def step_colour() -> None:
    rc, rp = report(store.key, COLOUR, store), report(store.key, PATTERN, store)
    pc, pp = peak(rc), peak(rp)
    first = store.blocks[0].name
    st.markdown(
        f"Give every image's descriptor to a nearest-neighbour classifier (kNN, cross-validated) and ask how well "
        f"each block predicts a label. **{COLOUR}** peaks at **{pc.block}** (kNN {pc.value:.2f}; {first} "
        f"{pc.first:.2f}, {store.blocks[-1].name} {pc.last:.2f}), **{PATTERN}** peaks at **{pp.block}** "
        f"({pp.value:.2f}; {first} {pp.first:.2f}). Below: every image placed on a grid so that neighbours in "
        f"{first}'s descriptors are neighbours on the grid, bordered by its {COLOUR}.")
    if not pc.clear:
        st.warning(f"On this data {COLOUR} is not clearly above chance on any block: the report shows nothing.")
    st.plotly_chart(score_curves([rc, rp]), width="stretch", key="tour_curve")
    show_grid(first, COLOUR, f"GridCut of {first}.")


def step_pattern() -> None:
    rp = report(store.key, PATTERN, store)
    pp = peak(rp)
    first, late = store.blocks[0], next(b for b in store.blocks if b.name == pp.block)
    y = store.labels[PATTERN].astype(str).to_numpy()
    classes = sorted(set(y))
    default = classes.index("stripes") if "stripes" in classes else 0
    value = st.selectbox(f"Query: a typical image with {PATTERN}", classes, index=default, key="tour_query")
    q = typical_query(y, store.descriptors(late.index), value)
    rows = {b.name: neighbours_row(store.descriptors(b.index), q, 8) for b in (first, late)}
    hits = {name: int((y[idx] == value).sum()) for name, idx in rows.items()}
    st.markdown(
        f"The same question for **{PATTERN}**: it peaks at **{pp.block}** (kNN {pp.value:.2f}, against "
        f"{pp.first:.2f} at {first.name}). Here is an image and its 8 nearest images in two blocks: "
        f"**{hits[first.name]} of 8** share its {PATTERN} at {first.name}, **{hits[late.name]} of 8** at "
        f"{late.name}.")
    c = st.columns([1, 4])
    with c[0]:
        show_images([store.paths[q]], caption=[f"query · {value}"], width=120)
    with c[1]:
        for name, idx in rows.items():
            st.markdown(f"**{name}** — {hits[name]} of 8 are {value}")
            show_images([store.paths[i] for i in idx],
                        caption=[("✓ " if y[i] == value else "✗ ") + y[i] for i in idx], width=84)
    show_grid(late.name, PATTERN, f"GridCut of {late.name}.")


def step_channel() -> None:
    rc = report(store.key, COLOUR, store)
    block = next(b for b in store.blocks if b.name == peak(rc).block)
    y = store.labels[COLOUR].astype(str).to_numpy()
    j, eta = most_telling_channel(store.descriptors(block.index), y)
    card = unit_card_of(store.key, block.index, j)
    top = pd.Series(card.top_labels).value_counts()
    st.markdown(
        f"One channel of **{block.name}**: channel **{j}**, the one whose pooled value depends most on "
        f"{COLOUR} (η² = {eta:.2f}: the share of its variance explained by the {COLOUR} class). Its "
        f"{len(card.top_indices)} strongest images are mostly **{top.index[0]}** ({top.iloc[0]} of "
        f"{len(card.top_indices)}); the masks keep only the receptive fields where it fires most. Right: an image "
        f"optimised from noise to excite it (activation maximisation).")
    left, right = st.columns([3, 1])
    with left:
        st.image(list(card.images), caption=[str(v) for v in card.top_labels], width=84)
        st.image(list(card.masked), caption=[f"mask {m.mean():.0%}" for m in card.masks], width=84)
    with right:
        with guard():
            unit = cached_units(model, block.index, [j], AMSettings(steps=AM_STEPS))[0]
        st.image(unit.image, caption=f"activation maximisation ({AM_STEPS} steps)", width="stretch")
    st.page_link("views/unit_card.py", label=f"Open the unit card of {block.name} · channel {j}", icon="🃏",
                 query_params=unit_query(block.index, j, COLOUR))


@st.cache_data(show_spinner="Finding the channel's strongest images…", max_entries=8)
def unit_card_of(key: str, block: int, channel: int):
    lab = store.labels[COLOUR].astype(str).tolist()
    return unit_card(model, block, channel, np.asarray(store.descriptors(block)[:, channel]), store.paths,
                     labels=lab, k=8, quantile=0.9)


def step_choose() -> None:
    reports = [report(store.key, c, store) for c in labels]
    st.markdown(
        "For your own images the answer depends on the label, so LayerScope measures it: open your image folder "
        "or CSV on **Data & model**, let it compute the descriptors once, then read the **Block report**: it "
        "scores every block on the same folds and marks where each label peaks (never a score at chance). "
        "On this data:")
    for r in reports:
        (st.success if r.primary_above_chance else st.warning)(r.recommendation)
    st.plotly_chart(score_curves(reports), width="stretch", key="tour_all_curves")
    st.markdown("Then check the pick with your eyes: **UMAP** / **GridCut** of that block coloured by the label, "
                "**Retrieval** rows, and the **Unit card** of the channels the **Class profiles** point to.")
    c = st.columns(4)
    c[0].page_link("views/data_model.py", label="Data & model", icon="🗂️")
    c[1].page_link("views/report.py", label="Block report", icon="🏁")
    c[2].page_link("views/gridcut.py", label="GridCut", icon="🧱")
    c[3].page_link("views/profiles.py", label="Class profiles", icon="📈")


with guard():
    (step_blocks, step_colour, step_pattern, step_channel, step_choose)[step]()
