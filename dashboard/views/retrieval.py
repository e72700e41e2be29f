"""Retrieval: precision@k per block, and a combined query ranked by two blocks for two label columns."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from analysis.data.images import image_from_bytes
from analysis.descriptors.embed import embed_image
from analysis.probes.neighbours import nearest
from analysis.probes.retrieval import combined_precision_table, combined_ranking, precision_table
from dashboard.page_links import block_param, choice, integer, number, url_state
from dashboard.safe_io import read_upload, tile
from dashboard.state import guard, page_seed, require_store
from dashboard.widgets import (
    CAMERA,
    block_select,
    download_csv,
    image_label,
    thumb_row,
    upload_digest,
)

st.header("Retrieval")
sel, model, ds, store = require_store()
label = sel.label
columns = list(store.labels.columns)
labels = store.labels.astype(str)
seed = page_seed()

url_state({"k": integer("ret_k", 1, 100), "queries": integer("ret_queries", 10, 10_000),
           "metric": choice("ret_metric", ["euclidean", "cosine"]), "block": block_param("ret_block", store),
           "a": choice("ret_col_a", columns), "b": choice("ret_col_b", columns), "w": number("ret_weight", 0.0, 1.0),
           "show": integer("ret_show", 4, 16), "query": integer("ret_query", 0, store.n - 1)})
c1, c2, c3 = st.columns(3)
k = c1.number_input("k (images retrieved)", 1, 100, 10, key="ret_k")
n_queries = c2.number_input("Random queries", 10, 10_000, 500, step=50, key="ret_queries")
metric = c3.radio("Distance", ["euclidean", "cosine"], horizontal=True, key="ret_metric")
k = int(min(k, store.n - 1))


@st.cache_data(show_spinner=False, max_entries=32)
def cached_precision_table(key: str, k: int, n_queries: int, metric: str, seed: int, _store) -> pd.DataFrame:
    return precision_table(_store.block_arrays(), _store.labels, k, n_queries=n_queries, metric=metric,
                           random_state=seed)


st.subheader(f"precision@{k} over {min(int(n_queries), store.n)} random queries")
st.caption("For each random query image: the share of its k nearest other images that share its label. "
           "Same queries for every block and label column; 95 % bootstrap interval over the queries.")
with guard():
    prec = cached_precision_table(store.key, k, int(n_queries), metric, seed, store)
best_block = {col: int(prec[prec["label column"] == col].sort_values("precision", ascending=False, kind="stable")
                       ["block"].iloc[0].split()[-1]) for col in columns}
c1, c2 = st.columns([1, 2])
with c1:
    block = block_select(store, "Block", "ret_block", default=best_block[label])
    row = prec[(prec["block"] == f"block {block}") & (prec["label column"] == label)].iloc[0]
    st.metric(f"precision@{k} · `{label}` · block {block}", f"{row['precision']:.3f}",
              help=f"95 % interval {row['low']:.3f} – {row['high']:.3f}")
    st.caption(f"95 % interval {row['low']:.3f} – {row['high']:.3f}. Best block for each column: "
               + ", ".join(f"`{c}` → block {b}" for c, b in best_block.items()))
with c2:
    fig = px.line(prec, x="block", y="precision", color="label column", markers=True, height=320,
                  error_y=prec["high"] - prec["precision"], error_y_minus=prec["precision"] - prec["low"],
                  title=f"precision@{k} per block ({metric})")
    fig.update_yaxes(range=[0, 1.02])
    st.plotly_chart(fig, width="stretch", key="ret_curve")
download_csv(prec, f"precision_at_{k}_{metric}", "ret_dl_prec", index=False)
st.caption(CAMERA)

# ---------------------------------------------------------------- combined query
st.subheader("Query by two blocks at once")
st.caption("Rank every image by block A's distance for one label column (e.g. colour, an early block) and by block "
           "B's distance for another (e.g. pattern, a later block): score = w · rank in A + (1 − w) · rank in B "
           "(ranks, because blocks have unrelated distance scales).")
other = [c for c in columns if c != label]
other.sort(key=lambda c: c.lower() not in ("pattern", "texture"))  # the built-in data's second column first
c1, c2, c3, c4, c5 = st.columns(5)
col_a = c1.selectbox("Column A", columns, index=columns.index(label), key="ret_col_a")
url_state({"block_a": block_param(f"ret_block_a_{col_a}", store)})  # its key depends on the column
with c2:
    block_a = block_select(store, "Block A", f"ret_block_a_{col_a}", default=best_block[col_a])
col_b = c3.selectbox("Column B", columns, index=columns.index(other[0] if other else label), key="ret_col_b")
url_state({"block_b": block_param(f"ret_block_b_{col_b}", store)})
with c4:
    block_b = block_select(store, "Block B", f"ret_block_b_{col_b}", default=best_block[col_b])
weight = c5.slider("Weight w of A", 0.0, 1.0, 0.5, 0.05, key="ret_weight")
n_show = st.slider("Images per row", 4, 16, 8, key="ret_show")

@st.cache_data(show_spinner=False, max_entries=8)
def query_names(key: str, _store) -> list[str]:
    # One label per image for the query picker, made once per store: image_label reads a row of the
    # labels table, which for the 1000 built-in images was half a second of every run of this page.
    return [image_label(_store, i) for i in range(_store.n)]


source = st.radio("Query image", ["from the dataset", "upload an image"], horizontal=True, key="ret_source")
query_row: int | None = None
vectors: dict[int, np.ndarray] | None = None
if source == "from the dataset":
    if "ret_query" not in st.session_state:
        st.session_state["ret_query"] = int(np.random.default_rng(seed).integers(store.n))
    c1, c2 = st.columns([4, 1])
    names = query_names(store.key, store)
    c1.selectbox("Query", range(store.n), format_func=names.__getitem__, key="ret_query")
    c2.button("🎲 Random query", key="ret_random", on_click=lambda: st.session_state.update(
        ret_query=int(np.random.default_rng().integers(store.n))))
    query_row = int(st.session_state["ret_query"])
    query_image = tile(store.paths[query_row], 280)  # decoded by the image loader: a bad file is a grey tile
else:
    up = st.file_uploader("Image (jpg, png, …)", type=None, key="ret_upload")
    if up is None:
        st.info("Upload an image: it is embedded by the live model (same preprocessing and pooling as the cache) "
                "and ranked against the dataset.")
        st.stop()
    with guard():
        data = read_upload(up)  # size cap before decoding

    @st.cache_data(show_spinner="Embedding the upload…", max_entries=16)
    def embed_upload(digest: str, model_key: str, name: str, _data: bytes) -> dict:
        return {int(i): v for i, v in embed_image(model, image_from_bytes(_data, name)).items()}

    with guard():
        vectors = embed_upload(upload_digest(data), f"{model.name}:{model.weights_id}", up.name, data)
    query_image = image_from_bytes(data, up.name)

X_a, X_b = store.descriptors(block_a), store.descriptors(block_b)
ya, yb = labels[col_a].to_numpy(), labels[col_b].to_numpy()


def caption(i: int, with_a: bool, with_b: bool) -> str:
    parts = []
    for flag, col, y in ((with_a, col_a, ya), (with_b, col_b, yb)):
        if flag:
            mark = "" if query_row is None else (" ✓" if y[i] == y[query_row] else " ✗")
            parts.append(f"{y[i]}{mark}")
    return " · ".join(parts) + f" (#{i})"


with guard():
    if query_row is not None:
        exclude = np.array([query_row])
        near_a = nearest(np.asarray(X_a[[query_row]]), X_a, n_show, metric, exclude=exclude)[0][0]
        near_b = nearest(np.asarray(X_b[[query_row]]), X_b, n_show, metric, exclude=exclude)[0][0]
        ranking = combined_ranking(X_a, X_b, query_row, weight=weight, metric_a=metric, metric_b=metric, top=n_show)
    else:
        qa, qb = vectors[block_a][None, :], vectors[block_b][None, :]
        near_a = nearest(qa, X_a, n_show, metric)[0][0]
        near_b = nearest(qb, X_b, n_show, metric)[0][0]
        ranking = combined_ranking(X_a, X_b, (qa[0], qb[0]), weight=weight, metric_a=metric, metric_b=metric,
                                   top=n_show)

q1, q2 = st.columns([1, 5])
q1.image(query_image, caption="query", width=140)
if query_row is not None:
    q2.markdown(f"**Query #{query_row}** · `{col_a}` = **{ya[query_row]}** · `{col_b}` = **{yb[query_row]}**  \n"
                "✓ / ✗: same label as the query or not.")
else:
    q2.markdown("**Uploaded image**, embedded at every block by the live model. No labels, so no ✓ / ✗.")
st.markdown(f"**Nearest by block {block_a}** (for `{col_a}`)")
thumb_row(store, near_a, [caption(i, True, col_b != col_a) for i in near_a])
st.markdown(f"**Nearest by block {block_b}** (for `{col_b}`)")
thumb_row(store, near_b, [caption(i, col_b != col_a, True) for i in near_b])
st.markdown(f"**Combined**: w = {weight:.2f} · block {block_a} for `{col_a}` + block {block_b} for `{col_b}`")
thumb_row(store, ranking.order, [caption(i, True, True) for i in ranking.order])


@st.cache_data(show_spinner=False, max_entries=32)
def combined_scores(key: str, col_a: str, block_a: int, col_b: str, block_b: int, weight: float, k: int,
                    n_queries: int, metric: str, seed: int, _store) -> pd.DataFrame:
    return combined_precision_table(_store.descriptors(block_a), _store.labels[col_a].to_numpy(),
                                    _store.descriptors(block_b), _store.labels[col_b].to_numpy(), k, weight=weight,
                                    names=(f"block {block_a}", f"block {block_b}"), n_queries=n_queries,
                                    metric=metric, random_state=seed)


if col_a != col_b:
    with guard():
        comb = combined_scores(store.key, col_a, block_a, col_b, block_b, float(weight), k, int(n_queries), metric,
                               seed, store)
    st.markdown(f"**Does combining help?** precision@{k} over the same random queries, a hit only when `{col_a}` "
                f"**and** `{col_b}` both match the query:")
    # A static table: three rows need no data grid (a heavy script for the browser to load and draw).
    st.table(comb.style.format({f"precision@{k} (both labels)": "{:.3f}", "weight": "{:.2f}"}), hide_index=True)
    download_csv(comb, f"combined_precision_{col_a}_{col_b}", "ret_dl_comb", index=False)
