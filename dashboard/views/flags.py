"""Label-noise flags: images whose neighbours disagree with their label, and odd images, at one block."""
from __future__ import annotations

import streamlit as st

from analysis.layouts.palette import colour_map
from analysis.layouts.thumbnails import thumbnails
from analysis.pictures import captioned_row, jpeg_bytes
from analysis.probes.label_noise import RANKINGS, flag_images
from dashboard.page_links import choice, integer, url_state
from dashboard.state import guard, require_store
from dashboard.widgets import download_csv

BY = {"mistakenness": "kNN disagreement (mistakenness)", "prototype": "far from its class prototype",
      "glosh": "GLOSH outlier (no labels)"}
METRICS = ["cosine", "euclidean"]
TILE, GAP, PER_LINE = 80, 4, 11  # thumbnail side and gap (px), tiles per picture: a flag + 10 neighbours

st.header("Label-noise flags")
sel, model, ds, store = require_store()
label = sel.label
st.caption(f"At one block, for `{label}`: **mistakenness** = share of an image's k nearest neighbours with another "
           "label (a mislabelled image sits among its true class); **prototype z** = distance to its class mean "
           "(computed without it), as a robust z-score within the class; **GLOSH** = HDBSCAN's label-free "
           "outlier score. Most suspicious first, each with its neighbours.")

n_blocks = len(store.blocks)
url_state({"block": integer("flg_block", 1, n_blocks), "k": integer("flg_k", 1, min(50, store.n - 1)),
           "metric": choice("flg_metric", METRICS), "by": choice("flg_by", list(RANKINGS)),
           "top": integer("flg_top", 1, 50)})
st.session_state.setdefault("flg_block", n_blocks)
st.session_state.setdefault("flg_k", min(10, store.n - 1))
st.session_state.setdefault("flg_metric", "cosine")
st.session_state.setdefault("flg_by", "mistakenness")
st.session_state.setdefault("flg_top", 12)
if not 1 <= st.session_state["flg_block"] <= n_blocks:  # another model (fewer blocks) since
    st.session_state["flg_block"] = n_blocks
st.session_state["flg_k"] = min(int(st.session_state["flg_k"]), min(50, store.n - 1))

c1, c2, c3, c4, c5 = st.columns([2, 1, 2, 3, 1])
block = c1.selectbox("Block", list(range(1, n_blocks + 1)), key="flg_block",
                     format_func=lambda i: f"{store.blocks[i - 1].name} · {store.blocks[i - 1].channels} ch")
k = int(c2.number_input("k", 1, min(50, store.n - 1), key="flg_k"))
metric = c3.radio("Distance", METRICS, horizontal=True, key="flg_metric")
by = c4.selectbox("Rank by", list(RANKINGS), format_func=BY.get, key="flg_by")
top = int(c5.number_input("Show", 1, 50, key="flg_top"))


@st.cache_data(show_spinner="Scoring every image…", max_entries=16)
def flags(key: str, label: str, block: int, k: int, metric: str, glosh: bool, _store):
    return flag_images(_store.descriptors(block), _store.labels[label].to_numpy(), k=k, metric=metric, glosh=glosh)


@st.cache_data(show_spinner=False, max_entries=256)
def row_picture(key: str, rows: tuple[int, ...], captions: tuple[str, ...], swatches: tuple, _paths: list) -> bytes:
    """One JPEG of a line of thumbnails with their captions (one file for the browser instead of one
    image element per thumbnail: 12 flags with 10 neighbours were 132). Unreadable files are grey."""
    tiles = thumbnails([_paths[i] for i in rows], size=TILE)
    return jpeg_bytes(captioned_row(list(tiles), captions, list(swatches), gap=GAP), quality=90)


def thumb_lines(rows: list[int], captions: list[str], alt: str) -> None:
    """The thumbnails of `rows` with their captions and label colours, PER_LINE to a picture."""
    for j in range(0, len(rows), PER_LINE):
        part = rows[j:j + PER_LINE]
        pic = row_picture(store.key, tuple(part), tuple(captions[j:j + PER_LINE]),
                          tuple(colours[str(labels_of[i])] for i in part), store.paths)
        st.image(pic, caption=alt if j == 0 else None, width=len(part) * (TILE + GAP) - GAP)


with guard():
    f = flags(store.key, label, block, k, metric, by == "glosh", store)
labels_of = store.labels[label].astype(str).to_numpy()
colours = colour_map(labels_of)  # the square before each caption: its label's colour (named colours as named)
ranked = f.ranked(by, top=top)
t = f.table
st.caption(f"{int((t['mistakenness'] > 0.5).sum())} of {store.n} images have most of their {k} neighbours labelled "
           f"otherwise; {int((t['prototype_z'] > 3.5).sum())} lie more than 3.5 robust z from their class prototype.")
for _, row in ranked.iterrows():
    i = int(row["row"])
    score = {"mistakenness": f"mistakenness {row['mistakenness']:.2f}", "prototype": f"z {row['prototype_z']:.1f}",
             "glosh": f"GLOSH {row['glosh']:.2f}"}[by]
    st.markdown(f"**#{i}** · labelled `{row['label']}` · neighbours say `{row['neighbour_label']}` · {score}")
    nb = [int(j) for j in f.neighbours[i]]
    thumb_lines([i, *nb], [f"#{i} {row['label']} (flagged)"] + [f"#{j} {t.loc[j, 'label']}" for j in nb],
                alt=f"#{i} (flagged), then its {len(nb)} nearest neighbours at block {block}, nearest first")
download_csv(f.ranked(by), f"flags_{label}_block{block}_{by}", "flg_dl", index=False)
st.caption("A flag is a reason to look, not a verdict: an image can be odd (an unusual photo of its class) "
           "without being mislabelled, and a class that the block does not separate flags many images.")
