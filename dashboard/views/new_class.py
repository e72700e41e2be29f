"""Add a class without training: put a few examples into the memory, classify new images, no weights change."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from analysis.data.images import image_from_bytes
from analysis.descriptors.embed import embed_images
from analysis.probes.new_class import memory_rows, trial_summary, true_labels
from analysis.probes.report_store import report_on_disk
from analysis.probes.retrieval import few_shot_classify
from analysis.tour import report_settings
from dashboard import layouts_shared as L
from dashboard.page_links import block_param, choice, integer, url_state
from dashboard.safe_io import read_upload, show_images, tile
from dashboard.state import guard, require_store
from dashboard.widgets import best_prototype_block, block_select, download_csv, upload_digest

THUMBS, PER_ROW = 24, 8  # thumbnails shown per class to pick from

st.header("Add a class without training")
sel, model, ds, store = require_store()
label = sel.label
st.caption("The memory is every dataset image's descriptor at the chosen block with its label. Adding a class = "
           "appending a few example descriptors under a new name. New images are then classified by the nearest "
           "class prototype (mean descriptor) and by a k-nearest-neighbour vote over the memory. Nothing is trained: "
           "no weight of the network changes.")

y_all = store.labels[label].astype(str).to_numpy()
classes = sorted(set(y_all))
NONE = "(none: a class the dataset does not have)"
url_state({"block": block_param(f"new_block_{label}", store), "metric": choice("new_metric", ["euclidean", "cosine"]),
           "k": integer("new_k", 1, 50), "class": choice(f"new_held_{label}", [NONE] + classes)})
c1, c2, c3 = st.columns(3)
recommended = report_on_disk(store, label, **report_settings(store.n))
with c1:
    if recommended is not None:
        block = block_select(store, "Block", f"new_block_{label}", default=int(recommended.recommended_block.split()[-1]),
                             help=f"default: the Block report's recommended block for {label}")
    else:
        block = block_select(store, "Block", f"new_block_{label}", default=best_prototype_block(store, label),
                             help="default: the block with the best nearest-prototype accuracy for this label "
                                  "(the Block report's pick once it has been computed)")
metric = c2.radio("Distance", ["euclidean", "cosine"], horizontal=True, key="new_metric")
k = c3.number_input("k (neighbours)", 1, 50, 5, key="new_k")

held = st.selectbox("Pretend this class is new (leave it out of the memory)", [NONE] + classes, index=1,
                    key=f"new_held_{label}", help="a demo without new photos: its images become the examples "
                    "and the test images, and the memory forgets it")
held = None if held == NONE else held
name = st.text_input("Name of the new class", f"new {held}" if held else "my new class", key=f"new_name_{held}")
rng = np.random.default_rng(0)
held_rows = rng.permutation(np.flatnonzero(y_all == held)).tolist() if held else []
other_rows = rng.permutation(np.flatnonzero(y_all != held)).tolist()

uploads: dict[str, list] = {}


@st.cache_data(show_spinner="Embedding the uploads…", max_entries=16)
def embed_uploads(digests: tuple, model_key: str, names: tuple, _datas: tuple) -> dict:
    return {int(i): v for i, v in embed_images(model, [image_from_bytes(d, n) for d, n in zip(_datas, names)]).items()}


def _toggle(key: str, i: int) -> None:
    chosen = st.session_state[key]
    st.session_state[key] = [r for r in chosen if r != i] if i in chosen else chosen + [i]


def pick(role: str, default: list[int], help: str, browse: str) -> tuple[list[int], list]:
    """Dataset rows (picked on thumbnails, one class at a time) and/or uploaded files for one role."""
    src = st.radio(f"{role}: source", ["from the dataset", "upload"], horizontal=True, key=f"new_src_{role}")
    if src == "upload":
        files = st.file_uploader(f"{role} (images)", accept_multiple_files=True, key=f"new_up_{role}") or []
        return [], list(files)
    key = f"new_rows_{role}_{label}_{held}"
    chosen = st.session_state.setdefault(key, [int(r) for r in default])
    st.markdown(f"**{role}** ({len(chosen)} chosen; {help}). Tick images below; untick to remove.")
    if chosen:
        paths = store.paths
        show_images([paths[i] for i in chosen], caption=[f"#{i} · {y_all[i]}" for i in chosen], width=64)
    shown = st.selectbox(f"Browse the images of class ({label})", classes, index=classes.index(browse),
                         key=f"{key}_browse")
    rows = np.flatnonzero(y_all == shown)[:THUMBS]
    tiles = L.thumbs(store)
    grid = st.columns(PER_ROW)
    for j, i in enumerate(rows):
        with grid[j % PER_ROW]:
            st.image(tiles[int(i)], width="stretch")
            st.checkbox(f"#{int(i)}", value=int(i) in chosen, key=f"{key}_cb_{int(i)}", on_change=_toggle,
                        args=(key, int(i)))
    return [int(r) for r in st.session_state[key]], []


left, right = st.columns(2)
with left:
    ex_rows, ex_files = pick("Examples of the new class", held_rows[:5], "3 to 10 images are enough",
                             held or classes[0])
with right:
    q_rows, q_files = pick("Images to classify", held_rows[5:9] + other_rows[:4],
                           "images of the new class and of known classes; left out of the memory",
                           held or classes[0])

if not ex_rows and not ex_files:
    st.info("Choose or upload a few example images of the new class.")
    st.stop()
if not q_rows and not q_files:
    st.info("Choose or upload images to classify.")
    st.stop()


def vectors(rows: list[int], files: list) -> np.ndarray:
    X = store.descriptors(block)
    parts = [np.asarray(X[rows])] if rows else []
    if files:
        with guard():
            datas = tuple(read_upload(f) for f in files)  # size cap before decoding
        emb = embed_uploads(tuple(upload_digest(d) for d in datas), f"{model.name}:{model.weights_id}",
                            tuple(f.name for f in files), datas)
        parts.append(emb[block])
    return np.concatenate(parts).astype(np.float32)


with guard():
    new_X = vectors(ex_rows, ex_files)
    queries = vectors(q_rows, q_files)
    memory = memory_rows(y_all, held, set(ex_rows) | set(q_rows))
    X = store.descriptors(block)
    result = few_shot_classify(np.asarray(X[memory]), y_all[memory], new_X, [name] * len(new_X), queries,
                               k=int(k), metric=metric)

n_mem = len(memory)
st.markdown(f"Memory at **block {block}**: {n_mem} dataset images in {len(set(y_all[memory]))} classes"
            + (f" (`{held}` left out)" if held else "") + f" + **{len(new_X)} examples** of **{name}**. "
            f"Prototype = class mean; kNN = majority of the {int(k)} nearest ({metric}).")

# Where each query / neighbour image comes from: a dataset row or an upload.
q_source = [("row", r) for r in q_rows] + [("file", f) for f in q_files]
ex_source = [("row", r) for r in ex_rows] + [("file", f) for f in ex_files]


def picture(src):
    kind, v = src
    return tile(store.paths[v]) if kind == "row" else image_from_bytes(read_upload(v), v.name)


truths = true_labels(y_all, q_rows, len(q_files), held, name)


def truth(src) -> str:
    return truths[q_source.index(src)]


rows = []
for qi, src in enumerate(q_source):
    rows.append({"image": f"#{src[1]}" if src[0] == "row" else src[1].name, "true": truths[qi],
                 "prototype": result.prototype_pred[qi], "kNN": result.knn_pred[qi]})
table = pd.DataFrame(rows)
summary = trial_summary(truths, result.prototype_pred, result.knn_pred, name)
if summary:
    st.success(summary)
st.dataframe(table, hide_index=True, width="stretch", key="new_table")
download_csv(table, f"new_class_{name}_block{block}", "new_dl", index=False)

st.subheader("Each image, its predictions and its nearest memory images")
for qi, src in enumerate(q_source):
    c1, c2 = st.columns([1, 5])
    ok = lambda p: "" if truth(src) == "(upload)" else (" ✓" if p == truth(src) else " ✗")  # noqa: E731
    c1.image(picture(src), width=110, caption=f"{rows[qi]['image']} · {truth(src)}")
    with c2:
        st.markdown(f"prototype → **{result.prototype_pred[qi]}**{ok(result.prototype_pred[qi])} · "
                    f"kNN → **{result.knn_pred[qi]}**{ok(result.knn_pred[qi])}")
        pics, caps = [], []
        for m, d, lab in zip(result.neighbours[qi], result.neighbour_distances[qi], result.neighbour_labels[qi]):
            pics.append(tile(store.paths[memory[m]], 168) if m < n_mem else picture(ex_source[m - n_mem]))
            caps.append(f"{lab}{' (new)' if m >= n_mem else ''} · {d:.3g}")
        st.image(pics, caption=caps, width=84)
