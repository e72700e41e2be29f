"""Channel explorer: one image, one block — CAM family with faithfulness, binary masks of a
channel, activation maximisation of channels, and a link to each channel's unit card.

This page picks the image, block and channel; the three tabs are drawn by `dashboard.channel_tabs`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analysis.data.images import image_from_bytes, load_image
from analysis.errors import LayerScopeError
from analysis.inspect.masks import top_channels
from dashboard import links
from dashboard.channel_tabs import Inspected, am_tab, cam_tab, mask_tab
from dashboard.page_links import link_values, write_url
from dashboard.query import warn_ignored
from dashboard.safe_io import read_upload
from dashboard.state import guard, require_store
from dashboard.widgets import upload_digest

TOP_K = 8             # channels shown as "fire most for this image"
VIEWS = {"cam": "CAM", "masks": "Binary masks", "am": "Activation maximization"}

st.header("Channel explorer")
sel, model, ds, store = require_store()
n_blocks = len(model.blocks)

# A link such as /channels?image=12&block=3&channel=5&view=masks opens that view (applied once:
# page_links.link_values gives only the values this app did not write, so the controls stay free).
url_now = link_values(("image", "block", "channel", "view"))
if url_now:
    link = links.parse_explorer_link(url_now, store.n, [b.channels for b in model.blocks], VIEWS)
    if link.problems:
        warn_ignored(link.problems)  # URL values echoed as plain text, never markdown
    for key, value in (("ch_image", link.image), ("ch_block", link.block), ("ch_channel", link.channel),
                       ("ch_view", link.view)):
        if value is not None:
            st.session_state[key] = value
    if link.image is not None:
        st.session_state["ch_source"] = "dataset"


# ---------------------------------------------------------------------------------------------
# Cached computations (small results; keyed by store.key + image key + parameters)
# ---------------------------------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def classes(store_key: str, image_key: str, _model, _image) -> pd.DataFrame:
    return _model.top_classes(_image, 5)


@st.cache_data(max_entries=64, show_spinner=False)
def channels_for_image(store_key: str, image_key: str, block: int, _model, _image) -> pd.DataFrame:
    return top_channels(_model, _image, block, k=TOP_K)


# Streamlit forgets a widget's value after a run in which it was not drawn (the run that waits for
# an upload stops before the block / channel controls): the first run with the upload then showed
# "block 1 / channel 0" while computing with the old values, and jumped on the next click. Their
# values are therefore also kept under a plain key and restored before the widget is drawn.
KEPT = ("ch_block", "ch_channel")
for _k in KEPT:
    if _k not in st.session_state and f"_kept_{_k}" in st.session_state:
        st.session_state[_k] = st.session_state[f"_kept_{_k}"]


def _dice() -> None:
    # A different image at each click; reproducible within a session (the click count seeds it).
    st.session_state["_ch_dice"] = st.session_state.get("_ch_dice", 0) + 1
    st.session_state["ch_image"] = int(np.random.default_rng(st.session_state["_ch_dice"]).integers(store.n))


# ---------------------------------------------------------------------------------------------
# Image, block, channel
# ---------------------------------------------------------------------------------------------
labels = store.labels
paths = store.paths
c1, c2, c3, c4 = st.columns([1.2, 2.2, 1.4, 1.2])
source = c1.radio("Image from", ["dataset", "upload"], horizontal=True, key="ch_source",
                  format_func={"dataset": "the dataset", "upload": "an upload"}.get)
with c2:
    if source == "dataset":
        if st.session_state.get("ch_image", 0) >= store.n:
            st.session_state["ch_image"] = 0
        st.session_state.setdefault("ch_image", 0)
        index = st.selectbox(
            "Image (type a class name to filter)", range(store.n), key="ch_image",
            format_func=lambda i: f"#{i} · " + " · ".join(str(v) for v in labels.iloc[i].tolist()))
        st.button("🎲 Another image", on_click=_dice, help="A random image of the dataset.", key="ch_dice")
        image_key = paths[index]
        image_name = f"image #{index}"
    else:
        up = st.file_uploader("Upload an image", type=["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"],
                              key="ch_upload")
        if up is None:
            st.info("Upload a photo (PNG / JPEG / WebP …) to look inside the network with it.")
            st.stop()
        with guard():
            data = read_upload(up)  # size cap before decoding
        image_key = "upload:" + upload_digest(data)
        image_name = up.name
with c3:
    if st.session_state.get("ch_block", n_blocks) not in range(1, n_blocks + 1):
        st.session_state["ch_block"] = n_blocks
    st.session_state.setdefault("ch_block", n_blocks)  # the last block: where CAM is usually read
    block = st.selectbox("Block", range(1, n_blocks + 1), key="ch_block",
                         format_func=lambda b: f"block {b} · {model.blocks[b - 1].channels} channels")
blk = model.block(block)

with guard():
    image = load_image(image_key) if source == "dataset" else image_from_bytes(data, image_name)
    disp = model.preprocess_display(image)
    top = channels_for_image(store.key, image_key, block, model, image)

with c4:
    if st.session_state.get("ch_channel", blk.channels) >= blk.channels:
        # First visit, or a block with fewer channels: start from this image's strongest channel.
        st.session_state["ch_channel"] = int(top["channel"][0])
    channel = int(st.number_input("Channel", 0, blk.channels - 1, key="ch_channel",
                                  help=f"0..{blk.channels - 1}; the masks and activation maximisation tabs show it."))
for _k, _v in (("ch_block", block), ("ch_channel", channel)):
    st.session_state[f"_kept_{_k}"] = _v
write_url({"image": str(index) if source == "dataset" else "", "block": str(block), "channel": str(channel),
           "view": {v: k for k, v in VIEWS.items()}.get(st.session_state.get("ch_view"), "")})
st.page_link("views/unit_card.py", label=f"Unit card of block {block} · channel {channel} →", icon="🃏",
             query_params=links.unit_query(block, channel, sel.label))

left, right = st.columns([1, 4])
with left:
    st.image(disp, caption=f"{image_name} as the model sees it ({disp.shape[1]} px)", width="stretch")
    if source == "dataset":
        st.caption(" · ".join(f"{k}: **{v}**" for k, v in labels.iloc[index].items()))
    try:
        top5 = classes(store.key, image_key, model, image)
    except LayerScopeError as exc:  # a model without a classifier: masks and AM still work
        top5 = None
        st.info(str(exc))
    if top5 is not None:
        st.markdown("**Model's top-5 (ImageNet)**")
        st.dataframe(top5[["name", "probability"]], hide_index=True, width="stretch",
                     column_config={"probability": st.column_config.NumberColumn(format="percent")})

with right:
    tab_cam, tab_mask, tab_am = st.tabs(list(VIEWS.values()), key="ch_view",
                                        on_change="rerun")

# ---------------------------------------------------------------------------------------------
# The three views of the chosen image, block and channel
# ---------------------------------------------------------------------------------------------
chosen = Inspected(model, store, image, image_key, disp, block, channel, top, top5)
cam_tab(tab_cam, chosen)
mask_tab(tab_mask, chosen)
am_tab(tab_am, chosen)
