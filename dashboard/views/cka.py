"""CKA: how similar are the blocks' descriptors, within one model and between two models?"""
from __future__ import annotations

import numpy as np
import plotly.express as px
import streamlit as st

from analysis.models.model import BUILTIN
from analysis.probes.cka import store_cka
from dashboard.page_links import choice, url_state
from dashboard.state import compute_store, get_model, get_store, guard, require_store
from dashboard.widgets import CAMERA, download_csv

NONE = "(this model only)"

st.header("CKA: block similarity")
sel, model, ds, store = require_store()
st.caption(f"Linear CKA (Kornblith et al. 2019) between the pooled descriptors of every pair of blocks, over the "
           f"same {store.n} images of {ds.name}: 1 = the two blocks represent the images identically up to a rotation "
           "and a scale, 0 = unrelated. Exact, in float64. It compares representations; it does not use labels.")

others = [NONE] + [n for n in BUILTIN if n != sel.model]
url_state({"vs": choice("cka_vs", others, show=lambda o: "" if o == NONE else o)})
st.session_state.setdefault("cka_vs", others[1] if len(others) > 1 else NONE)
if st.session_state["cka_vs"] not in others:  # the sidebar model changed to the one chosen here
    st.session_state["cka_vs"] = NONE
vs = st.selectbox("Compare with", others, key="cka_vs", help="another built-in model on the same images")


@st.cache_data(show_spinner="Computing CKA…", max_entries=16)
def matrix(key_a: str, key_b: str | None, _a, _b):
    return store_cka(_a, _b)


def heatmap(m, title: str, key: str, x_title: str, y_title: str) -> None:
    fig = px.imshow(m.to_numpy(), x=list(m.columns), y=list(m.index), zmin=0, zmax=1, color_continuous_scale="Viridis",
                    text_auto=".2f", aspect="auto", title=title, height=420)
    fig.update_xaxes(title=x_title, side="bottom")
    fig.update_yaxes(title=y_title)
    st.plotly_chart(fig, width="stretch", key=key)


with guard():
    within = matrix(store.key, None, store, None)
c1, c2 = st.columns(2)
with c1:
    heatmap(within, f"{model.name}: block vs block", "cka_within", model.name, model.name)
    off = within.to_numpy()[~np.eye(len(within), dtype=bool)]
    st.caption(f"Neighbouring blocks: CKA {np.mean(np.diag(within.to_numpy(), 1)):.2f} on average; "
               f"all pairs of different blocks: {off.min():.2f}–{off.max():.2f}.")
    download_csv(within, f"cka_{model.name}", "cka_dl_within")

with c2:
    if vs == NONE:
        st.info("Pick a second model to see which of its blocks match which blocks of this one.")
    else:
        with guard():
            other = get_model(vs, None)
        store_b = get_store(other, ds)
        if store_b is None:
            st.info(f"No descriptors yet for {vs} on this dataset.")
            if st.button(f"Compute descriptors for {vs}", type="primary", key="cka_compute"):
                with guard():
                    compute_store(other, ds)
                st.rerun()
        else:
            with guard():
                between = matrix(store.key, store_b.key, store, store_b)
            heatmap(between, f"{model.name} (rows) vs {vs} (columns)", "cka_between", vs, model.name)
            best = between.idxmax(axis=1)
            st.caption("Most similar block of " + vs + ": " + ", ".join(
                f"{a} → {b} ({between.loc[a, b]:.2f})" for a, b in best.items()) + ".")
            download_csv(between, f"cka_{model.name}_vs_{vs}", "cka_dl_between")
st.caption("CKA is invariant to rotations and isotropic scaling of the descriptors, not to other linear maps; "
           "a high value between two models' blocks means they order the images' similarities alike. " + CAMERA)
